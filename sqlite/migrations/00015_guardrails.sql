-- Guardrails (OpenRouter /guardrails) and their key assignments. The
-- model, provider and region lists are JSON arrays, NULL for no
-- restriction; unenforced holds, as one JSON object, the members keygate
-- stores and reports without acting on them (content filters, data
-- retention and training switches). What a guardrail's keys spend
-- together is in usage_counters under keygate.GuardrailCounterHash.

-- +goose Up

CREATE TABLE guardrails (
    id                   TEXT    NOT NULL PRIMARY KEY,
    user_id              TEXT    NOT NULL REFERENCES users (id),
    -- No foreign key: a guardrail outlives its workspace, and keeps
    -- holding the keys it is assigned to.
    workspace_id         TEXT    NOT NULL,
    name                 TEXT    NOT NULL,
    description          TEXT,
    allowed_models       TEXT,
    ignored_models       TEXT,
    allowed_providers    TEXT,
    ignored_providers    TEXT,
    allowed_data_regions TEXT,
    limit_micros         INTEGER CHECK (limit_micros >= 0),
    reset_interval       TEXT    NOT NULL CHECK (reset_interval IN ('', 'daily', 'weekly', 'monthly')),
    include_byok         INTEGER NOT NULL CHECK (include_byok IN (0, 1)),
    unenforced           TEXT    NOT NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER
) STRICT;

CREATE INDEX guardrails_user ON guardrails (user_id, created_at);

CREATE TABLE guardrail_keys (
    id           TEXT    NOT NULL PRIMARY KEY,
    guardrail_id TEXT    NOT NULL REFERENCES guardrails (id) ON DELETE CASCADE,
    key_hash     TEXT    NOT NULL REFERENCES api_keys (hash) ON DELETE CASCADE,
    assigned_by  TEXT,
    created_at   INTEGER NOT NULL,
    UNIQUE (guardrail_id, key_hash)
) STRICT;

CREATE INDEX guardrail_keys_key ON guardrail_keys (key_hash);

-- +goose Down

DROP TABLE guardrail_keys;
DROP TABLE guardrails;
