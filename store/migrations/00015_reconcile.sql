-- +goose Up

-- How rudderhook learnt of each delivery: a callback (the inbox's or Temporal's), a record that
-- reconciliation read from Airudder's API because no callback brought it (or brought it differently), or
-- an event rudderhook made itself (a re-call overdue).
ALTER TABLE subject_revisions ADD COLUMN origin text NOT NULL DEFAULT 'callback'
    CHECK (origin IN ('callback', 'backfill', 'rudderhook'));

-- Up to when each source's calls of each family have been reconciled: every later run starts a little
-- before it (the overlap), whatever restarted in between.
CREATE TABLE reconcile_marks (
    source     text        NOT NULL,
    family     text        NOT NULL CHECK (family IN ('workflow', 'pds')),
    high_water timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, family)
);

-- A re-call that Airudder took but whose call never completed by its deadline is overdue.
ALTER TABLE follow_ups DROP CONSTRAINT follow_ups_status_check;
ALTER TABLE follow_ups ADD CONSTRAINT follow_ups_status_check
    CHECK (status IN ('scheduled', 'running', 'succeeded', 'failed', 'needs_review', 'skipped', 'overdue'));

-- Every re-call Airudder took is an expectation: a call to that callee completing in that Airudder
-- workflow (a callback or a backfilled record) by the deadline.
CREATE TABLE recall_expectations (
    follow_up_id         bigint      PRIMARY KEY REFERENCES follow_ups (id) ON DELETE CASCADE,
    callee_digits        text        NOT NULL,        -- the callee's number, digits only: how calls are matched
    airudder_workflow_id text        NOT NULL,
    since                timestamptz NOT NULL,        -- when the re-call was taken: a call before it is no answer
    deadline             timestamptz NOT NULL,
    state                text        NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'fulfilled', 'overdue')),
    fulfilled_by         bigint      REFERENCES subjects (id) ON DELETE SET NULL,
    settled_at           timestamptz,
    fired_at             timestamptz,                 -- when its recall_overdue event went to its workflow
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recall_expectations_match_idx ON recall_expectations (callee_digits, airudder_workflow_id) WHERE state <> 'fulfilled';
CREATE INDEX recall_expectations_due_idx ON recall_expectations (deadline) WHERE state = 'open';

-- +goose Down
DROP TABLE recall_expectations;
UPDATE follow_ups SET status = 'succeeded' WHERE status = 'overdue';
ALTER TABLE follow_ups DROP CONSTRAINT follow_ups_status_check;
ALTER TABLE follow_ups ADD CONSTRAINT follow_ups_status_check
    CHECK (status IN ('scheduled', 'running', 'succeeded', 'failed', 'needs_review', 'skipped'));
DROP TABLE reconcile_marks;
ALTER TABLE subject_revisions DROP COLUMN origin;
