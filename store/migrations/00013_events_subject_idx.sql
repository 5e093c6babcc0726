-- +goose Up

-- The events about one call or task (a PDS call's states), looked up by their subject when a new one is
-- stored: an event older than one already stored about the same call plans nothing. The subject is made
-- of what the sender wrote, so a hash index (see 00008); events without a subject are not indexed.
CREATE INDEX events_subject_idx ON events USING hash (subject) WHERE subject <> '';

-- +goose Down
DROP INDEX events_subject_idx;
