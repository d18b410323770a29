-- Apps and what they spend: the hidden flag an operator sets on an app
-- (keygate apps hide), the daily rollups of generations per app and per
-- user that rankings, activity and charts read instead of raw events, and
-- the ledger of credits granted to users.
--
-- A rollup row is added to in the transaction that stores each
-- generation, so the rollups always equal the generations. Days are the
-- unix microseconds of 00:00 UTC, like every time in this schema; money
-- is integer micro-dollars.
--
-- A user's all-time spending is also counted in usage_counters under the
-- key_hash 'user:' || user_id (period 'total'), the account's counter that
-- a credit balance is measured against.

-- +goose Up

ALTER TABLE apps ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1));

CREATE TABLE app_usage_daily (
    -- No foreign keys, as for generations: rollups are history.
    day               INTEGER NOT NULL,
    app_id            INTEGER NOT NULL,
    model             TEXT    NOT NULL,
    requests          INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    PRIMARY KEY (day, app_id, model)
) STRICT, WITHOUT ROWID;

CREATE INDEX app_usage_daily_app ON app_usage_daily (app_id, day);

CREATE TABLE user_usage_daily (
    user_id           TEXT    NOT NULL,
    day               INTEGER NOT NULL,
    workspace_id      TEXT    NOT NULL,
    key_hash          TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    provider          TEXT    NOT NULL,
    requests          INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    reasoning_tokens  INTEGER NOT NULL,
    micros            INTEGER NOT NULL,
    byok_micros       INTEGER NOT NULL,
    PRIMARY KEY (user_id, day, workspace_id, key_hash, model, provider)
) STRICT, WITHOUT ROWID;

CREATE TABLE credit_grants (
    id            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    user_id       TEXT    NOT NULL REFERENCES users (id),
    amount_micros INTEGER NOT NULL CHECK (amount_micros >= 0),
    note          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE INDEX credit_grants_user ON credit_grants (user_id, id);

INSERT INTO app_usage_daily (day, app_id, model, requests, prompt_tokens, completion_tokens)
SELECT created_at - (created_at % 86400000000), app_id, model,
    count(*), sum(prompt_tokens), sum(completion_tokens)
FROM generations WHERE app_id IS NOT NULL
GROUP BY 1, 2, 3;

INSERT INTO user_usage_daily (user_id, day, workspace_id, key_hash, model, provider,
    requests, prompt_tokens, completion_tokens, reasoning_tokens, micros, byok_micros)
SELECT user_id, created_at - (created_at % 86400000000), workspace_id, key_hash, model, provider,
    count(*), sum(prompt_tokens), sum(completion_tokens), sum(reasoning_tokens),
    sum(CASE WHEN byok = 0 THEN cost_micros ELSE 0 END),
    sum(CASE WHEN byok = 1 THEN cost_micros ELSE 0 END)
FROM generations WHERE user_id <> ''
GROUP BY 1, 2, 3, 4, 5, 6;

INSERT INTO usage_counters (key_hash, period, period_start, micros, byok_micros)
SELECT 'user:' || user_id, 'total', 0,
    sum(CASE WHEN byok = 0 THEN cost_micros ELSE 0 END),
    sum(CASE WHEN byok = 1 THEN cost_micros ELSE 0 END)
FROM generations WHERE user_id <> ''
GROUP BY user_id;

-- +goose Down

DELETE FROM usage_counters WHERE key_hash LIKE 'user:%';
DROP TABLE credit_grants;
DROP TABLE user_usage_daily;
DROP TABLE app_usage_daily;
ALTER TABLE apps DROP COLUMN hidden;
