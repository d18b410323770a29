-- Apps and what they spend: the hidden flag an operator sets on an app
-- (keygate apps hide), the daily rollups of generations per app and per
-- user that rankings, activity and charts read instead of raw events, and
-- the ledger of credits granted to users.
--
-- A rollup row is added to in the transaction that stores each
-- generation, so the rollups always equal the generations. Days are the
-- instant 00:00 UTC; money is integer micro-dollars.
--
-- A user's all-time spending is also counted in usage_counters under the
-- key_hash 'user:' || user_id (period 'total'), the account's counter that
-- a credit balance is measured against.

-- +goose Up

ALTER TABLE apps ADD COLUMN hidden boolean NOT NULL DEFAULT false;

CREATE TABLE app_usage_daily (
    -- No foreign keys, as for generations: rollups are history.
    day               timestamptz NOT NULL,
    app_id            bigint      NOT NULL,
    model             text        COLLATE "C" NOT NULL,
    requests          bigint      NOT NULL,
    prompt_tokens     bigint      NOT NULL,
    completion_tokens bigint      NOT NULL,
    PRIMARY KEY (day, app_id, model)
);

CREATE INDEX app_usage_daily_app ON app_usage_daily (app_id, day);

CREATE TABLE user_usage_daily (
    user_id           text        COLLATE "C" NOT NULL,
    day               timestamptz NOT NULL,
    workspace_id      text        COLLATE "C" NOT NULL,
    key_hash          text        COLLATE "C" NOT NULL,
    model             text        COLLATE "C" NOT NULL,
    provider          text        COLLATE "C" NOT NULL,
    requests          bigint      NOT NULL,
    prompt_tokens     bigint      NOT NULL,
    completion_tokens bigint      NOT NULL,
    reasoning_tokens  bigint      NOT NULL,
    micros            bigint      NOT NULL,
    byok_micros       bigint      NOT NULL,
    PRIMARY KEY (user_id, day, workspace_id, key_hash, model, provider)
);

CREATE TABLE credit_grants (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       text        NOT NULL REFERENCES users (id),
    amount_micros bigint      NOT NULL CHECK (amount_micros >= 0),
    note          text        NOT NULL,
    created_at    timestamptz NOT NULL
);

CREATE INDEX credit_grants_user ON credit_grants (user_id, id);

INSERT INTO app_usage_daily (day, app_id, model, requests, prompt_tokens, completion_tokens)
SELECT date_trunc('day', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', app_id, model,
    count(*), sum(prompt_tokens), sum(completion_tokens)
FROM generations WHERE app_id IS NOT NULL
GROUP BY 1, 2, 3;

INSERT INTO user_usage_daily (user_id, day, workspace_id, key_hash, model, provider,
    requests, prompt_tokens, completion_tokens, reasoning_tokens, micros, byok_micros)
SELECT user_id, date_trunc('day', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
    workspace_id, key_hash, model, provider,
    count(*), sum(prompt_tokens), sum(completion_tokens), sum(reasoning_tokens),
    sum(CASE WHEN byok THEN 0 ELSE cost_micros END),
    sum(CASE WHEN byok THEN cost_micros ELSE 0 END)
FROM generations WHERE user_id <> ''
GROUP BY 1, 2, 3, 4, 5, 6;

INSERT INTO usage_counters (key_hash, period, period_start, micros, byok_micros)
SELECT 'user:' || user_id, 'total', to_timestamp(0),
    sum(CASE WHEN byok THEN 0 ELSE cost_micros END),
    sum(CASE WHEN byok THEN cost_micros ELSE 0 END)
FROM generations WHERE user_id <> ''
GROUP BY user_id;

-- +goose Down

DELETE FROM usage_counters WHERE key_hash LIKE 'user:%';
DROP TABLE credit_grants;
DROP TABLE user_usage_daily;
DROP TABLE app_usage_daily;
ALTER TABLE apps DROP COLUMN hidden;
