-- +goose Up

-- A bulk repair's plan: what an operator asked for (which follow-ups to retry, or which dead letters to
-- replay: the filters and the condition), what matched when it was planned (ids, in the order the run
-- takes them), and, once confirmed, the workflow that runs it. The run takes exactly these ids, so what
-- it does is what the operator saw; a plan not run before expires_at is refused and deleted later.
CREATE TABLE bulk_plans (
    id          text        PRIMARY KEY,
    what        text        NOT NULL CHECK (what IN ('follow_ups', 'dead_letters')),
    request     jsonb       NOT NULL,
    ids         bigint[]    NOT NULL,
    created_by  text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    workflow_id text,
    started_at  timestamptz
);
CREATE INDEX bulk_plans_expires_idx ON bulk_plans (expires_at);

-- +goose Down
DROP TABLE bulk_plans;
