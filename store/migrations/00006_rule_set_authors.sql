-- +goose Up

-- Who made each version of the rules and why: a person signed in to the rules page, "admin API", or the
-- rules file. Versions made before this migration have neither.
ALTER TABLE rule_sets
    ADD COLUMN author  text NOT NULL DEFAULT '',
    ADD COLUMN comment text NOT NULL DEFAULT '';

-- The rules page counts each rule's follow-ups of the last days.
CREATE INDEX follow_ups_created_idx ON follow_ups (created_at);

-- +goose Down
DROP INDEX follow_ups_created_idx;
ALTER TABLE rule_sets DROP COLUMN comment, DROP COLUMN author;
