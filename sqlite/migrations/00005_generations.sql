-- Generations: one row per metered request, written in the transaction
-- that adds its cost to the usage counters. The id is the upstream
-- answer's, and its uniqueness is what makes a generation charged once,
-- crash or retry. They supersede usage_events, whose rows move here with
-- ids of their own ("usage-" and the old row id).
--
-- Durations are microseconds; money is integer micro-dollars; created_at
-- is unix microseconds, like every time in this schema.

-- +goose Up

CREATE TABLE generations (
    id                       TEXT    NOT NULL PRIMARY KEY,
    -- No foreign keys: a generation is history, and outlives its key,
    -- user, workspace and app.
    key_hash                 TEXT    NOT NULL,
    user_id                  TEXT    NOT NULL,
    workspace_id             TEXT    NOT NULL,
    app_id                   INTEGER,
    model                    TEXT    NOT NULL,
    upstream_model           TEXT    NOT NULL,
    provider                 TEXT    NOT NULL,
    endpoint                 TEXT    NOT NULL,
    prompt_tokens            INTEGER NOT NULL,
    completion_tokens        INTEGER NOT NULL,
    reasoning_tokens         INTEGER NOT NULL,
    cached_tokens            INTEGER NOT NULL,
    cost_micros              INTEGER NOT NULL,
    upstream_cost_micros     INTEGER NOT NULL,
    byok                     INTEGER NOT NULL CHECK (byok IN (0, 1)),
    cost_estimated           INTEGER NOT NULL CHECK (cost_estimated IN (0, 1)),
    streamed                 INTEGER NOT NULL CHECK (streamed IN (0, 1)),
    cancelled                INTEGER NOT NULL CHECK (cancelled IN (0, 1)),
    finish_reason            TEXT    NOT NULL,
    latency_us               INTEGER NOT NULL,
    generation_time_us       INTEGER NOT NULL,
    created_at               INTEGER NOT NULL
) STRICT;

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
    0, 0, e.cost_micros, 0, e.byok, 0, 0, 0, '', 0, 0, e.created_at
FROM usage_events e LEFT JOIN api_keys k ON k.hash = e.key_hash;

DROP TABLE usage_events;

-- +goose Down

CREATE TABLE usage_events (
    id                INTEGER NOT NULL PRIMARY KEY,
    key_hash          TEXT    NOT NULL,
    app_id            INTEGER,
    model             TEXT    NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_micros       INTEGER NOT NULL,
    byok              INTEGER NOT NULL CHECK (byok IN (0, 1)),
    created_at        INTEGER NOT NULL
) STRICT;

CREATE INDEX usage_events_key_created ON usage_events (key_hash, created_at);
CREATE INDEX usage_events_app_created ON usage_events (app_id, created_at);

INSERT INTO usage_events (key_hash, app_id, model, prompt_tokens,
    completion_tokens, cost_micros, byok, created_at)
SELECT key_hash, app_id, model, prompt_tokens, completion_tokens,
    cost_micros, byok, created_at
FROM generations ORDER BY created_at, id;

DROP TABLE generations;
