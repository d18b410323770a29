-- Guardrails (OpenRouter /guardrails) and their key assignments. The
-- model, provider and region lists are JSON arrays, NULL for no
-- restriction; unenforced holds, as one JSON object, the members keygate
-- stores and reports without acting on them (content filters, data
-- retention and training switches). What a guardrail's keys spend
-- together is in usage_counters under keygate.GuardrailCounterHash, and
-- its leases in spend_leases under the same name; a grant locks the
-- guardrail's row.

-- +goose Up

CREATE TABLE guardrails (
    id                   text        COLLATE "C" NOT NULL PRIMARY KEY,
    user_id              text        COLLATE "C" NOT NULL REFERENCES users (id),
    -- No foreign key: a guardrail outlives its workspace, and keeps
    -- holding the keys it is assigned to.
    workspace_id         text        COLLATE "C" NOT NULL,
    name                 text        NOT NULL,
    description          text,
    allowed_models       text,
    ignored_models       text,
    allowed_providers    text,
    ignored_providers    text,
    allowed_data_regions text,
    limit_micros         bigint      CHECK (limit_micros >= 0),
    reset_interval       text        NOT NULL CHECK (reset_interval IN ('', 'daily', 'weekly', 'monthly')),
    include_byok         boolean     NOT NULL,
    unenforced           text        NOT NULL,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz
);

CREATE INDEX guardrails_user ON guardrails (user_id, created_at);

CREATE TABLE guardrail_keys (
    id           text        COLLATE "C" NOT NULL PRIMARY KEY,
    guardrail_id text        COLLATE "C" NOT NULL REFERENCES guardrails (id) ON DELETE CASCADE,
    key_hash     text        COLLATE "C" NOT NULL REFERENCES api_keys (hash) ON DELETE CASCADE,
    assigned_by  text,
    created_at   timestamptz NOT NULL,
    UNIQUE (guardrail_id, key_hash)
);

CREATE INDEX guardrail_keys_key ON guardrail_keys (key_hash);

-- +goose Down

DROP TABLE guardrail_keys;
DROP TABLE guardrails;
