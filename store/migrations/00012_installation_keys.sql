-- +goose Up

-- Keys this installation makes for itself, once, and every process reads: the same on every replica and
-- across restarts, because what they key must not change (the hash of a phone number in a workflow ID,
-- an idempotency key). They are as secret as the rows they sit beside.
CREATE TABLE installation_keys (
    purpose    text        PRIMARY KEY,
    key        bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE installation_keys;
