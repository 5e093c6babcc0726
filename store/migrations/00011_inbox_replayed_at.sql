-- +goose Up

-- When a dead letter was last replayed. Its age (RUDDERHOOK_INBOX_MAX_AGE) counts from then, not from its
-- arrival, which received_at keeps for operators: otherwise an entry that died of age dies again at the
-- first failed attempt after its replay.
ALTER TABLE inbox ADD COLUMN replayed_at timestamptz;

-- +goose Down
ALTER TABLE inbox DROP COLUMN replayed_at;
