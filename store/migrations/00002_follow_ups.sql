-- +goose Up

-- Every version of the follow-up rules, as written. The newest is in force.
CREATE TABLE rule_sets (
    version    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    digest     text        NOT NULL, -- sha256 of the document: the same text again is not a new version
    document   text        NOT NULL,
    origin     text        NOT NULL, -- where it came from: "file:<path>", "api"
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One row per planned follow-up: one action of one matching rule for one call.
CREATE TABLE follow_ups (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key  text        NOT NULL UNIQUE, -- from call workflow + rule + action; sent as webhook-id
    source           text        NOT NULL,
    call_key         text        NOT NULL,
    call_workflow_id text        NOT NULL,
    workflow_id      text        NOT NULL DEFAULT '', -- the follow-up's own Temporal workflow, once it runs
    rule_id          text        NOT NULL,
    rule_version     bigint      NOT NULL REFERENCES rule_sets (version),
    action           text        NOT NULL,
    action_type      text        NOT NULL,
    summary          text        NOT NULL DEFAULT '',
    callee_number    text        NOT NULL DEFAULT '',
    plan             jsonb       NOT NULL,        -- what was decided: target, rendered body, timing
    status           text        NOT NULL CHECK (status IN ('scheduled', 'running', 'succeeded', 'failed', 'skipped')),
    attempts         int         NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    last_error       text        NOT NULL DEFAULT '',
    response_status  int,
    slot_day         date,                        -- the day whose per-callee cap it used
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    FOREIGN KEY (source, call_key) REFERENCES calls (source, call_key) ON DELETE CASCADE
);

CREATE INDEX follow_ups_call_idx   ON follow_ups (source, call_key);
CREATE INDEX follow_ups_status_idx ON follow_ups (status, id);
CREATE INDEX follow_ups_cap_idx    ON follow_ups (callee_number, rule_id, action, slot_day);

-- +goose Down
DROP TABLE follow_ups;
DROP TABLE rule_sets;
