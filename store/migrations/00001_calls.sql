-- +goose Up

-- One row per call (per element of a callback's Details), keyed like its Temporal workflow.
CREATE TABLE calls (
    seq                   bigint GENERATED ALWAYS AS IDENTITY UNIQUE, -- stable order for paging
    source                text        NOT NULL,
    call_key              text        NOT NULL, -- CallID, or "{TaskID}/{id}" when CallID is empty
    workflow_id           text        NOT NULL UNIQUE, -- the Temporal workflow that handles the call

    -- the callback's envelope (Airudder's names, snake_cased)
    airudder_workflow_id  text        NOT NULL DEFAULT '',
    workflow_name         text        NOT NULL DEFAULT '',
    nodetask_id           text        NOT NULL DEFAULT '',
    nodetask_name         text        NOT NULL DEFAULT '',
    task_id               text        NOT NULL DEFAULT '',
    task_name             text        NOT NULL DEFAULT '',

    -- the 36 fields of a Details element
    detail_id             bigint,
    robot_id              text        NOT NULL DEFAULT '',
    callee_name           text        NOT NULL DEFAULT '',
    callee_gender         text        NOT NULL DEFAULT '',
    callee_number         text        NOT NULL DEFAULT '',
    call_start_time       timestamptz,
    call_end_time         timestamptz,
    status                text        NOT NULL DEFAULT '',
    intention             text        NOT NULL DEFAULT '',
    intention_description text        NOT NULL DEFAULT '',
    call_id               text        NOT NULL DEFAULT '',
    call_times            bigint,
    comments              text        NOT NULL DEFAULT '',
    borrowed_date         date,
    due_date              date,
    borrowed_amount       numeric,
    total_owing_amount    numeric,
    currency_unit         text        NOT NULL DEFAULT '',
    platform_name         text        NOT NULL DEFAULT '',
    ring_type             text        NOT NULL DEFAULT '',
    hangup_type           text        NOT NULL DEFAULT '',
    extra_a               text        NOT NULL DEFAULT '',
    extra_b               text        NOT NULL DEFAULT '',
    extra_c               text        NOT NULL DEFAULT '',
    ner_slots             jsonb,
    asr_result            jsonb,
    ask_whatsapp          text        NOT NULL DEFAULT '',
    asr_ptp               text        NOT NULL DEFAULT '',
    multi_intention       jsonb,
    event_label           jsonb,
    ring_time             bigint,
    talk_round            bigint,
    case_id               text        NOT NULL DEFAULT '',
    variables             jsonb,
    caller_number         text        NOT NULL DEFAULT '',

    -- exactly what arrived, unknown fields included
    raw_detail            jsonb       NOT NULL,
    raw_task              jsonb       NOT NULL,

    received_at           timestamptz NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, call_key)
);

CREATE INDEX calls_call_key_idx      ON calls (call_key);
CREATE INDEX calls_case_id_idx       ON calls (case_id, seq);
CREATE INDEX calls_callee_number_idx ON calls (callee_number, seq);
CREATE INDEX calls_task_id_idx       ON calls (task_id, seq);
CREATE INDEX calls_intention_idx     ON calls (intention, seq);

-- RedailCall: the earlier attempts to reach the callee, in the order Airudder listed them.
CREATE TABLE call_redials (
    source          text   NOT NULL,
    call_key        text   NOT NULL,
    position        int    NOT NULL,
    call_id         text   NOT NULL DEFAULT '',
    call_start_time timestamptz,
    ring_type       text   NOT NULL DEFAULT '',
    ring_time       bigint,
    hangup_type     text   NOT NULL DEFAULT '',
    result_label    text   NOT NULL DEFAULT '',
    callee_number   text   NOT NULL DEFAULT '',
    caller_number   text   NOT NULL DEFAULT '',
    PRIMARY KEY (source, call_key, position),
    FOREIGN KEY (source, call_key) REFERENCES calls (source, call_key) ON DELETE CASCADE
);

-- Callbacks accepted while Temporal could not take them; the relay starts their workflows later.
CREATE TABLE inbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source          text        NOT NULL,
    kind            text        NOT NULL,
    body            bytea       NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    attempts        int         NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text        NOT NULL DEFAULT ''
);

CREATE INDEX inbox_next_attempt_idx ON inbox (next_attempt_at);

-- +goose Down
DROP TABLE inbox;
DROP TABLE call_redials;
DROP TABLE calls;
