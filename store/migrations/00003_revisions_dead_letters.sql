-- +goose Up

-- Every distinct delivery of a call is a revision; the calls row shows the latest received.
ALTER TABLE calls
    ADD COLUMN revision    int   NOT NULL DEFAULT 1,  -- the revision the row shows
    ADD COLUMN digest      text  NOT NULL DEFAULT '', -- its digest (sha256 of the raw call and envelope, without Sign)
    ADD COLUMN parse_notes jsonb;                     -- fields kept as text but not typed: [{field, text, why}]

CREATE TABLE call_revisions (
    source       text        NOT NULL,
    call_key     text        NOT NULL,
    revision     int         NOT NULL,          -- 1, 2, … in the order they were stored
    digest       text        NOT NULL,          -- the same delivery again is the same revision
    raw_detail   jsonb       NOT NULL,
    raw_task     jsonb       NOT NULL,          -- the envelope, without Sign
    parse_notes  jsonb,
    received_at  timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,                   -- when the call's workflow stored it (NULL: stored by the receiver, not yet processed)
    PRIMARY KEY (source, call_key, revision),
    UNIQUE (source, call_key, digest),
    FOREIGN KEY (source, call_key) REFERENCES calls (source, call_key) ON DELETE CASCADE
);

-- The calls stored before revisions existed are their own first revision. Their digest is not the one
-- the receiver computes (jsonb does not keep the text as sent), so an identical redelivery of such a call
-- becomes a second revision with the same content: processed once more, planning nothing new.
UPDATE calls SET digest = 'legacy-' || md5(raw_detail::text || raw_task::text);
INSERT INTO call_revisions (source, call_key, revision, digest, raw_detail, raw_task, received_at, processed_at)
SELECT source, call_key, 1, digest, raw_detail, raw_task - 'Sign', received_at, updated_at FROM calls;
-- The Sign is stored nowhere.
UPDATE calls SET raw_task = raw_task - 'Sign' WHERE raw_task ? 'Sign';

-- A btree index entry holds at most ~2.7 kB: a CaseID or a callee number longer than that (incompressible)
-- would make the INSERT fail after the callback was acknowledged. Hash indexes take any length.
DROP INDEX calls_case_id_idx;
DROP INDEX calls_callee_number_idx;
DROP INDEX calls_task_id_idx;
DROP INDEX calls_intention_idx;
CREATE INDEX calls_case_id_idx       ON calls USING hash (case_id);
CREATE INDEX calls_callee_number_idx ON calls USING hash (callee_number);
CREATE INDEX calls_task_id_idx       ON calls USING hash (task_id);
CREATE INDEX calls_intention_idx     ON calls USING hash (intention);
DROP INDEX follow_ups_cap_idx;
CREATE INDEX follow_ups_cap_idx      ON follow_ups USING hash (callee_number);

-- Inbox entries that keep failing become dead letters instead of being retried for ever.
ALTER TABLE inbox
    ADD COLUMN state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead')),
    ADD COLUMN lease_owner text NOT NULL DEFAULT '', -- the relay pass that holds the entry until next_attempt_at
    ADD COLUMN dead_at     timestamptz;
DROP INDEX inbox_next_attempt_idx;
CREATE INDEX inbox_due_idx  ON inbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX inbox_dead_idx ON inbox (id) WHERE state = 'dead';

-- +goose Down
DROP INDEX inbox_dead_idx;
DROP INDEX inbox_due_idx;
CREATE INDEX inbox_next_attempt_idx ON inbox (next_attempt_at);
ALTER TABLE inbox DROP COLUMN dead_at, DROP COLUMN lease_owner, DROP COLUMN state;
DROP INDEX follow_ups_cap_idx;
CREATE INDEX follow_ups_cap_idx ON follow_ups (callee_number, rule_id, action, slot_day);
DROP INDEX calls_case_id_idx;
DROP INDEX calls_callee_number_idx;
DROP INDEX calls_task_id_idx;
DROP INDEX calls_intention_idx;
CREATE INDEX calls_case_id_idx       ON calls (case_id, seq);
CREATE INDEX calls_callee_number_idx ON calls (callee_number, seq);
CREATE INDEX calls_task_id_idx       ON calls (task_id, seq);
CREATE INDEX calls_intention_idx     ON calls (intention, seq);
DROP TABLE call_revisions;
ALTER TABLE calls DROP COLUMN parse_notes, DROP COLUMN digest, DROP COLUMN revision;
