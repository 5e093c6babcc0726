-- +goose Up

-- One row per subject: one thing Airudder told us, a call (of any family) or an event of any other kind.
-- It holds what every kind has, once: the identity (its workflow ID; source, kind and key), which
-- revision is shown and when that one happened and arrived. calls and events keep only what their kind
-- has (typed columns), in rows that extend their subject; follow-ups name their subject.
CREATE TABLE subjects (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_id  text        NOT NULL UNIQUE, -- call/{source}/{key} | event/{source}/{kind}/{key}: the identity
    source       text        NOT NULL,
    kind         text        NOT NULL,        -- route name (call-completed, info-check-completed, pds, list-completed, …)
    subject_on   text        NOT NULL,        -- what rules call it (call_completed, pds.agent_status, …)
    subject_key  text        NOT NULL,        -- at most 512 bytes (airudder caps keys), so a btree index takes it
    revision     int         NOT NULL,        -- the revision shown: the latest by event time where both say, else by arrival
    digest       text        NOT NULL,        -- the shown revision's
    event_time   timestamptz,                 -- the shown revision's time, as the sender says (PDS)
    received_at  timestamptz NOT NULL,        -- when the shown revision arrived
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
-- A call is looked up by its key in any source (GET /v1/calls/{call_id}, the daily cap's redials).
CREATE INDEX subjects_key_idx ON subjects (subject_key);

-- Every distinct delivery of a subject, exactly as it arrived (without the Sign).
CREATE TABLE subject_revisions (
    subject_id   bigint      NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
    revision     int         NOT NULL,        -- 1, 2, … in the order they were stored
    digest       text        NOT NULL,        -- the same delivery again is the same revision
    raw          jsonb       NOT NULL,        -- a call's Details element, or an event's body
    envelope     jsonb,                       -- a call's envelope (the task fields); NULL for events
    parse_notes  jsonb,                       -- fields kept as text but not typed: [{field, text, why}]
    event_time   timestamptz,                 -- when it happened, as the sender says (NULL where unknown)
    received_at  timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,                 -- when the subject's workflow stored it (NULL: stored by the receiver, not yet processed)
    PRIMARY KEY (subject_id, revision),
    UNIQUE (subject_id, digest)
);

-- Calls become subjects, with their workflow IDs as stored. A call completion's kind was ''.
ALTER TABLE calls ADD COLUMN subject_id bigint;
INSERT INTO subjects (workflow_id, source, kind, subject_on, subject_key, revision, digest, event_time, received_at, created_at, updated_at)
SELECT workflow_id, source, CASE WHEN kind = '' THEN 'call-completed' ELSE kind END,
       CASE WHEN kind = 'info-check-completed' THEN 'info_check_completed' ELSE 'call_completed' END,
       call_key, revision, digest, event_time, received_at, created_at, updated_at
FROM calls ORDER BY seq;
UPDATE calls c SET subject_id = s.id FROM subjects s WHERE s.workflow_id = c.workflow_id;
-- Their revisions. call_revisions kept no event time: the shown revision has the call's, the others none
-- (and the call's parse notes, should its revision lack them).
INSERT INTO subject_revisions (subject_id, revision, digest, raw, envelope, parse_notes, event_time, received_at, created_at, processed_at)
SELECT c.subject_id, r.revision, r.digest, r.raw_detail, r.raw_task,
       coalesce(r.parse_notes, CASE WHEN r.revision = c.revision THEN c.parse_notes END),
       CASE WHEN r.revision = c.revision THEN c.event_time END, r.received_at, r.created_at, r.processed_at
FROM call_revisions r JOIN calls c ON c.source = r.source AND c.call_key = r.call_key;
-- Every call has had its revisions since 00003; should one lack the revision it shows, the row is it.
INSERT INTO subject_revisions (subject_id, revision, digest, raw, envelope, parse_notes, event_time, received_at, created_at, processed_at)
SELECT c.subject_id, c.revision, c.digest, c.raw_detail, c.raw_task, c.parse_notes, c.event_time, c.received_at, c.created_at, c.updated_at
FROM calls c WHERE NOT EXISTS (SELECT 1 FROM subject_revisions r WHERE r.subject_id = c.subject_id AND r.revision = c.revision);

-- Events become subjects, and their revisions subject revisions.
ALTER TABLE events ADD COLUMN subject_id bigint;
INSERT INTO subjects (workflow_id, source, kind, subject_on, subject_key, revision, digest, event_time, received_at, created_at, updated_at)
SELECT workflow_id, source, kind, event_on, event_key, revision, digest, event_time, received_at, created_at, updated_at
FROM events ORDER BY id;
UPDATE events e SET subject_id = s.id FROM subjects s WHERE s.workflow_id = e.workflow_id;
INSERT INTO subject_revisions (subject_id, revision, digest, raw, parse_notes, event_time, received_at, created_at, processed_at)
SELECT e.subject_id, r.revision, r.digest, r.raw, coalesce(r.parse_notes, CASE WHEN r.revision = e.revision THEN e.parse_notes END),
       CASE WHEN r.revision = e.revision THEN e.event_time END,
       r.received_at, r.created_at, r.processed_at
FROM event_revisions r JOIN events e ON e.id = r.event_id;
INSERT INTO subject_revisions (subject_id, revision, digest, raw, parse_notes, event_time, received_at, created_at, processed_at)
SELECT e.subject_id, e.revision, e.digest, e.raw, e.parse_notes, e.event_time, e.received_at, e.created_at, e.updated_at
FROM events e WHERE NOT EXISTS (SELECT 1 FROM subject_revisions r WHERE r.subject_id = e.subject_id AND r.revision = e.revision);

-- A follow-up names its subject, one reference for calls and events alike. call_workflow_id was the
-- workflow that planned it, the subject's (an event's follow-up had the event's there, and in call_key).
ALTER TABLE follow_ups ADD COLUMN subject_id bigint REFERENCES subjects (id) ON DELETE CASCADE;
UPDATE follow_ups f SET subject_id = s.id FROM subjects s WHERE s.workflow_id = f.call_workflow_id;
UPDATE follow_ups f SET subject_id = e.subject_id FROM events e WHERE f.subject_id IS NULL AND e.id = f.event_id;
UPDATE follow_ups f SET subject_id = c.subject_id FROM calls c
WHERE f.subject_id IS NULL AND f.event_id IS NULL AND c.source = f.source AND c.call_key = f.call_key;
-- Nothing deletes calls, and events' follow-ups went with them; a follow-up of a call deleted by hand
-- since 00008 follows up nothing that exists.
DELETE FROM follow_ups WHERE subject_id IS NULL;
ALTER TABLE follow_ups ALTER COLUMN subject_id SET NOT NULL;
DROP INDEX follow_ups_call_idx;
ALTER TABLE follow_ups DROP COLUMN event_id, DROP COLUMN source, DROP COLUMN call_key, DROP COLUMN call_workflow_id;
CREATE INDEX follow_ups_subject_idx ON follow_ups (subject_id);

DROP TABLE call_revisions;
DROP TABLE event_revisions;

-- Redials belong to their call by its subject.
ALTER TABLE call_redials ADD COLUMN subject_id bigint;
UPDATE call_redials r SET subject_id = c.subject_id FROM calls c WHERE c.source = r.source AND c.call_key = r.call_key;
ALTER TABLE call_redials DROP CONSTRAINT call_redials_source_call_key_fkey;
ALTER TABLE call_redials DROP CONSTRAINT call_redials_pkey;
ALTER TABLE call_redials DROP COLUMN source, DROP COLUMN call_key;
ALTER TABLE call_redials ALTER COLUMN subject_id SET NOT NULL;

-- What moved to subjects and subject_revisions leaves calls and events: one home per fact. calls.family
-- was the kind's (pds: pds, else workflow); events.id stays, the event's name in /v1/events/{id}.
ALTER TABLE calls ALTER COLUMN subject_id SET NOT NULL;
ALTER TABLE calls DROP CONSTRAINT calls_pkey;
DROP INDEX calls_call_key_idx;
ALTER TABLE calls ADD PRIMARY KEY (subject_id);
ALTER TABLE calls ADD FOREIGN KEY (subject_id) REFERENCES subjects (id) ON DELETE CASCADE;
ALTER TABLE calls DROP COLUMN source, DROP COLUMN call_key, DROP COLUMN workflow_id, DROP COLUMN raw_detail,
    DROP COLUMN raw_task, DROP COLUMN received_at, DROP COLUMN created_at, DROP COLUMN updated_at,
    DROP COLUMN revision, DROP COLUMN digest, DROP COLUMN parse_notes, DROP COLUMN family, DROP COLUMN kind,
    DROP COLUMN event_time;
ALTER TABLE call_redials ADD PRIMARY KEY (subject_id, position);
ALTER TABLE call_redials ADD FOREIGN KEY (subject_id) REFERENCES calls (subject_id) ON DELETE CASCADE;

ALTER TABLE events ALTER COLUMN subject_id SET NOT NULL;
ALTER TABLE events ADD UNIQUE (subject_id);
ALTER TABLE events ADD FOREIGN KEY (subject_id) REFERENCES subjects (id) ON DELETE CASCADE;
ALTER TABLE events DROP COLUMN source, DROP COLUMN kind, DROP COLUMN event_on, DROP COLUMN event_key,
    DROP COLUMN workflow_id, DROP COLUMN event_time, DROP COLUMN raw, DROP COLUMN parse_notes,
    DROP COLUMN revision, DROP COLUMN digest, DROP COLUMN received_at, DROP COLUMN created_at,
    DROP COLUMN updated_at;

-- +goose Down

-- Calls and events take back their identity, shown revision and raw JSON from their subjects.
ALTER TABLE calls
    ADD COLUMN source      text,
    ADD COLUMN call_key    text,
    ADD COLUMN workflow_id text,
    ADD COLUMN raw_detail  jsonb,
    ADD COLUMN raw_task    jsonb,
    ADD COLUMN received_at timestamptz,
    ADD COLUMN created_at  timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN updated_at  timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN revision    int  NOT NULL DEFAULT 1,
    ADD COLUMN digest      text NOT NULL DEFAULT '',
    ADD COLUMN parse_notes jsonb,
    ADD COLUMN family      text NOT NULL DEFAULT 'workflow' CHECK (family IN ('workflow', 'pds')),
    ADD COLUMN kind        text NOT NULL DEFAULT '',
    ADD COLUMN event_time  timestamptz;
UPDATE calls c SET source = s.source, call_key = s.subject_key, workflow_id = s.workflow_id, raw_detail = r.raw,
    raw_task = coalesce(r.envelope, '{}'), received_at = s.received_at, created_at = s.created_at,
    updated_at = s.updated_at, revision = s.revision, digest = s.digest, parse_notes = r.parse_notes,
    family = CASE WHEN s.kind = 'pds' THEN 'pds' ELSE 'workflow' END,
    kind = CASE WHEN s.kind = 'call-completed' THEN '' ELSE s.kind END, event_time = s.event_time
FROM subjects s JOIN subject_revisions r ON r.subject_id = s.id AND r.revision = s.revision
WHERE s.id = c.subject_id;
ALTER TABLE calls ALTER COLUMN source SET NOT NULL, ALTER COLUMN call_key SET NOT NULL,
    ALTER COLUMN workflow_id SET NOT NULL, ALTER COLUMN raw_detail SET NOT NULL, ALTER COLUMN raw_task SET NOT NULL,
    ALTER COLUMN received_at SET NOT NULL;

ALTER TABLE call_redials ADD COLUMN source text, ADD COLUMN call_key text;
UPDATE call_redials r SET source = c.source, call_key = c.call_key FROM calls c WHERE c.subject_id = r.subject_id;
ALTER TABLE call_redials DROP CONSTRAINT call_redials_subject_id_fkey;
ALTER TABLE call_redials DROP CONSTRAINT call_redials_pkey;
ALTER TABLE call_redials DROP COLUMN subject_id;
ALTER TABLE call_redials ALTER COLUMN source SET NOT NULL, ALTER COLUMN call_key SET NOT NULL;

ALTER TABLE calls DROP CONSTRAINT calls_pkey;
ALTER TABLE calls ADD PRIMARY KEY (source, call_key);
ALTER TABLE calls ADD UNIQUE (workflow_id);
CREATE INDEX calls_call_key_idx ON calls (call_key);
ALTER TABLE call_redials ADD PRIMARY KEY (source, call_key, position);
ALTER TABLE call_redials ADD FOREIGN KEY (source, call_key) REFERENCES calls (source, call_key) ON DELETE CASCADE;

CREATE TABLE call_revisions (
    source       text        NOT NULL,
    call_key     text        NOT NULL,
    revision     int         NOT NULL,
    digest       text        NOT NULL,
    raw_detail   jsonb       NOT NULL,
    raw_task     jsonb       NOT NULL,
    parse_notes  jsonb,
    received_at  timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    PRIMARY KEY (source, call_key, revision),
    UNIQUE (source, call_key, digest),
    FOREIGN KEY (source, call_key) REFERENCES calls (source, call_key) ON DELETE CASCADE
);
INSERT INTO call_revisions (source, call_key, revision, digest, raw_detail, raw_task, parse_notes, received_at, created_at, processed_at)
SELECT c.source, c.call_key, r.revision, r.digest, r.raw, coalesce(r.envelope, '{}'), r.parse_notes, r.received_at, r.created_at, r.processed_at
FROM subject_revisions r JOIN calls c ON c.subject_id = r.subject_id;

ALTER TABLE events
    ADD COLUMN source      text,
    ADD COLUMN kind        text,
    ADD COLUMN event_on    text,
    ADD COLUMN event_key   text,
    ADD COLUMN workflow_id text,
    ADD COLUMN event_time  timestamptz,
    ADD COLUMN raw         jsonb,
    ADD COLUMN parse_notes jsonb,
    ADD COLUMN revision    int NOT NULL DEFAULT 1,
    ADD COLUMN digest      text,
    ADD COLUMN received_at timestamptz,
    ADD COLUMN created_at  timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN updated_at  timestamptz NOT NULL DEFAULT now();
UPDATE events e SET source = s.source, kind = s.kind, event_on = s.subject_on, event_key = s.subject_key,
    workflow_id = s.workflow_id, event_time = s.event_time, raw = r.raw, parse_notes = r.parse_notes,
    revision = s.revision, digest = s.digest, received_at = s.received_at, created_at = s.created_at,
    updated_at = s.updated_at
FROM subjects s JOIN subject_revisions r ON r.subject_id = s.id AND r.revision = s.revision
WHERE s.id = e.subject_id;
ALTER TABLE events ALTER COLUMN source SET NOT NULL, ALTER COLUMN kind SET NOT NULL, ALTER COLUMN event_on SET NOT NULL,
    ALTER COLUMN event_key SET NOT NULL, ALTER COLUMN workflow_id SET NOT NULL, ALTER COLUMN raw SET NOT NULL,
    ALTER COLUMN digest SET NOT NULL, ALTER COLUMN received_at SET NOT NULL;
ALTER TABLE events ADD UNIQUE (workflow_id);
ALTER TABLE events ADD UNIQUE (source, kind, event_key);
CREATE INDEX events_kind_idx ON events (kind, id);

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
INSERT INTO event_revisions (event_id, revision, digest, raw, parse_notes, received_at, created_at, processed_at)
SELECT e.id, r.revision, r.digest, r.raw, r.parse_notes, r.received_at, r.created_at, r.processed_at
FROM subject_revisions r JOIN events e ON e.subject_id = r.subject_id;

-- Follow-ups name their call by source and key, an event's by its ID (and the event's workflow ID as
-- call key), and the workflow that planned them.
ALTER TABLE follow_ups
    ADD COLUMN source           text,
    ADD COLUMN call_key         text,
    ADD COLUMN call_workflow_id text,
    ADD COLUMN event_id         bigint REFERENCES events (id) ON DELETE CASCADE;
UPDATE follow_ups f SET source = s.source, call_workflow_id = s.workflow_id,
    call_key = CASE WHEN e.id IS NULL THEN s.subject_key ELSE s.workflow_id END, event_id = e.id
FROM subjects s LEFT JOIN events e ON e.subject_id = s.id
WHERE s.id = f.subject_id;
ALTER TABLE follow_ups ALTER COLUMN source SET NOT NULL, ALTER COLUMN call_key SET NOT NULL,
    ALTER COLUMN call_workflow_id SET NOT NULL;
DROP INDEX follow_ups_subject_idx;
ALTER TABLE follow_ups DROP COLUMN subject_id;
CREATE INDEX follow_ups_call_idx ON follow_ups (source, call_key);

ALTER TABLE events DROP COLUMN subject_id;
ALTER TABLE calls DROP COLUMN subject_id;
DROP TABLE subject_revisions;
DROP TABLE subjects;
