-- Generations, as in the SQLite migration of the same number: one row per
-- metered request, written in the transaction that adds its cost to the
-- usage counters; the primary key on the upstream's id makes a generation
-- charged once. They supersede usage_events, whose rows move here with
-- ids of their own ("usage-" and the old row id). Durations are bigint
-- microseconds.
--
-- spend_leases holds the budget leases that replicas spend from (see
-- docs/spending.md): a slice of one key's limit in one window (the counter
-- the limit is measured in), counted against that limit until it expires.
-- amount is what the lease still holds, in micro-dollars: granted, not yet
-- charged. SQLite has no such table: one process there needs no leases.

-- +goose Up

CREATE TABLE generations (
    id                   text        COLLATE "C" NOT NULL PRIMARY KEY,
    -- No foreign keys: a generation is history, and outlives its key,
    -- user, workspace and app.
    key_hash             text        COLLATE "C" NOT NULL,
    user_id              text        COLLATE "C" NOT NULL,
    workspace_id         text        COLLATE "C" NOT NULL,
    app_id               bigint,
    model                text        NOT NULL,
    upstream_model       text        NOT NULL,
    provider             text        NOT NULL,
    endpoint             text        NOT NULL,
    prompt_tokens        bigint      NOT NULL,
    completion_tokens    bigint      NOT NULL,
    reasoning_tokens     bigint      NOT NULL,
    cached_tokens        bigint      NOT NULL,
    cost_micros          bigint      NOT NULL,
    upstream_cost_micros bigint      NOT NULL,
    byok                 boolean     NOT NULL,
    cost_estimated       boolean     NOT NULL,
    streamed             boolean     NOT NULL,
    cancelled            boolean     NOT NULL,
    finish_reason        text        NOT NULL,
    latency_us           bigint      NOT NULL,
    generation_time_us   bigint      NOT NULL,
    created_at           timestamptz NOT NULL
);

CREATE INDEX generations_key_created ON generations (key_hash, created_at);
CREATE INDEX generations_user_created ON generations (user_id, created_at);
CREATE INDEX generations_app_created ON generations (app_id, created_at);

INSERT INTO generations (id, key_hash, user_id, workspace_id, app_id, model,
    upstream_model, provider, endpoint, prompt_tokens, completion_tokens,
    reasoning_tokens, cached_tokens, cost_micros, upstream_cost_micros,
    byok, cost_estimated, streamed, cancelled, finish_reason, latency_us,
    generation_time_us, created_at)
SELECT 'usage-' || e.id, e.key_hash, coalesce(k.user_id, ''), coalesce(k.workspace_id, ''),
    e.app_id, e.model, e.model, '', '', e.prompt_tokens, e.completion_tokens,
    0, 0, e.cost_micros, 0, e.byok, false, false, false, '', 0, 0, e.created_at
FROM usage_events e LEFT JOIN api_keys k ON k.hash = e.key_hash;

DROP TABLE usage_events;

CREATE TABLE spend_leases (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_hash     text        COLLATE "C" NOT NULL,
    period       text        NOT NULL CHECK (period IN ('total', 'day', 'week', 'month')),
    period_start timestamptz NOT NULL,
    amount       bigint      NOT NULL CHECK (amount >= 0),
    expires_at   timestamptz NOT NULL
);

CREATE INDEX spend_leases_key ON spend_leases (key_hash, period, period_start);

-- +goose Down

DROP TABLE spend_leases;

CREATE TABLE usage_events (
    id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_hash          text        COLLATE "C" NOT NULL,
    app_id            bigint,
    model             text        NOT NULL,
    prompt_tokens     bigint      NOT NULL,
    completion_tokens bigint      NOT NULL,
    cost_micros       bigint      NOT NULL,
    byok              boolean     NOT NULL,
    created_at        timestamptz NOT NULL
);

CREATE INDEX usage_events_key_created ON usage_events (key_hash, created_at);
CREATE INDEX usage_events_app_created ON usage_events (app_id, created_at);

INSERT INTO usage_events (key_hash, app_id, model, prompt_tokens,
    completion_tokens, cost_micros, byok, created_at)
SELECT key_hash, app_id, model, prompt_tokens, completion_tokens,
    cost_micros, byok, created_at
FROM generations ORDER BY created_at, id;

DROP TABLE generations;
