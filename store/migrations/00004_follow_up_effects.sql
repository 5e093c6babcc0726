-- +goose Up

-- An action that may reach a person and whose outcome is unknown waits for an operator: needs_review.
ALTER TABLE follow_ups DROP CONSTRAINT follow_ups_status_check;
ALTER TABLE follow_ups ADD CONSTRAINT follow_ups_status_check
    CHECK (status IN ('scheduled', 'running', 'succeeded', 'failed', 'needs_review', 'skipped'));

-- The Airudder workflow a re-call went into (the instance createinstance made, or the one uploaddetails
-- added to), so that it can be found and stopped, and its calls recognised when they come back.
ALTER TABLE follow_ups ADD COLUMN airudder_workflow_id text NOT NULL DEFAULT '';
-- Whether the action reaches the callee: its daily cap then counts every call the callee received.
ALTER TABLE follow_ups ADD COLUMN reaches_person boolean NOT NULL DEFAULT false;
-- When the follow-up took its place under the daily cap.
ALTER TABLE follow_ups ADD COLUMN slot_at timestamptz;
UPDATE follow_ups SET reaches_person = true WHERE action_type = 'airudder_recall';

-- A daily cap counts the calls a number received that day: calls by when they started (or ended, or
-- arrived, when Airudder sent no start), redials by when they started, and the re-calls of rudderhook
-- that hold a place that day. The calls of one number are few, so an index by number is enough: a hash
-- index, because a number is whatever the sender wrote and a btree row cannot exceed 2704 bytes (calls
-- and follow-ups have theirs from 00003).
CREATE INDEX call_redials_callee_idx ON call_redials USING hash (callee_number);

-- +goose Down
DROP INDEX call_redials_callee_idx;
ALTER TABLE follow_ups DROP COLUMN slot_at;
ALTER TABLE follow_ups DROP COLUMN reaches_person;
ALTER TABLE follow_ups DROP COLUMN airudder_workflow_id;
UPDATE follow_ups SET status = 'failed' WHERE status = 'needs_review';
ALTER TABLE follow_ups DROP CONSTRAINT follow_ups_status_check;
ALTER TABLE follow_ups ADD CONSTRAINT follow_ups_status_check
    CHECK (status IN ('scheduled', 'running', 'succeeded', 'failed', 'skipped'));
