-- +goose Up

-- One row per event of a callback kind other than call completion (list completion, status change, QA
-- result, PDS webhooks, a source's generic kinds), keyed like its Temporal workflow
-- (event/{source}/{kind}/{key}). Typed columns hold what the kind has; raw always holds the body.
CREATE TABLE events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source        text        NOT NULL,
    kind          text        NOT NULL, -- the route name: list-completed, pds, waba-status, …
    event_on      text        NOT NULL, -- what rules call it: list_completed, pds.agent_status, …
    event_key     text        NOT NULL, -- identifies the event within its source and kind (at most 512 bytes)
    workflow_id   text        NOT NULL UNIQUE,
    subject       text        NOT NULL DEFAULT '', -- what out-of-order events are about: call/{callid}, task/{taskId}
    event_time    timestamptz,                      -- when it happened, as the sender says (PDS timestamp)
    task_id       text        NOT NULL DEFAULT '',
    call_id       text        NOT NULL DEFAULT '',
    callee_number text        NOT NULL DEFAULT '',
    case_id       text        NOT NULL DEFAULT '',
    state         text        NOT NULL DEFAULT '', -- a PDS state, a workflow's status
    summary       text        NOT NULL DEFAULT '',
    typed         jsonb,                            -- the kind's typed body (NULL for a generic kind)
    raw           jsonb       NOT NULL,             -- the body as received, without its Sign
    parse_notes   jsonb,
    revision      int         NOT NULL DEFAULT 1,   -- the revision the row shows: the latest received
    digest        text        NOT NULL,
    received_at   timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, kind, event_key)
);

-- Values are whatever the sender wrote, so hash indexes (a btree entry holds at most ~2.7 kB).
CREATE INDEX events_task_id_idx       ON events USING hash (task_id);
CREATE INDEX events_call_id_idx       ON events USING hash (call_id);
CREATE INDEX events_callee_number_idx ON events USING hash (callee_number);
CREATE INDEX events_case_id_idx       ON events USING hash (case_id);
CREATE INDEX events_kind_idx          ON events (kind, id);

-- Every distinct delivery of an event is a revision, as for calls.
CREATE TABLE event_revisions (
    event_id     bigint      NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    revision     int         NOT NULL,
    digest       text        NOT NULL,
    raw          jsonb       NOT NULL,
    parse_notes  jsonb,
    received_at  timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    PRIMARY KEY (event_id, revision),
    UNIQUE (event_id, digest)
);

-- Calls come in families: workflow calls (call completion, info check) and PDS agent calls (an
-- AgentStatus at HANGUP or TALKRESULT, keyed pds/{callid}). PDS events may arrive out of order: for one
-- call, the revision with the later event_time is the row, and an older one never overwrites it.
ALTER TABLE calls
    ADD COLUMN family        text NOT NULL DEFAULT 'workflow' CHECK (family IN ('workflow', 'pds')),
    ADD COLUMN kind          text NOT NULL DEFAULT '', -- the callback kind that brought it ('' for call completion)
    ADD COLUMN event_time    timestamptz,
    ADD COLUMN results       jsonb,                    -- a PDS call's customizeResults
    ADD COLUMN remarks       text NOT NULL DEFAULT '', -- its talkremarks
    ADD COLUMN recording_url text NOT NULL DEFAULT '', -- its recLink
    ADD COLUMN agent         text NOT NULL DEFAULT ''; -- its agentName

-- Follow-ups of events have no call row: they name their event instead.
ALTER TABLE follow_ups DROP CONSTRAINT follow_ups_source_call_key_fkey;
ALTER TABLE follow_ups ADD COLUMN event_id bigint REFERENCES events (id) ON DELETE CASCADE;

-- +goose Down
ALTER TABLE follow_ups DROP COLUMN event_id;
DELETE FROM follow_ups f WHERE NOT EXISTS (SELECT 1 FROM calls c WHERE c.source = f.source AND c.call_key = f.call_key);
ALTER TABLE follow_ups ADD CONSTRAINT follow_ups_source_call_key_fkey
    FOREIGN KEY (source, call_key) REFERENCES calls (source, call_key) ON DELETE CASCADE;
DELETE FROM calls WHERE family <> 'workflow';
ALTER TABLE calls DROP COLUMN agent, DROP COLUMN recording_url, DROP COLUMN remarks, DROP COLUMN results,
    DROP COLUMN event_time, DROP COLUMN kind, DROP COLUMN family;
DROP TABLE event_revisions;
DROP TABLE events;
