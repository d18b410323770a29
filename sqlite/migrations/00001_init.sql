-- The whole schema of keygate's first release.
--
-- Conventions (see doc.go): every time is INTEGER unix microseconds UTC;
-- money is INTEGER micro-dollars; booleans are INTEGER 0/1; App categories
-- are a JSON array of strings. Tables are STRICT so a wrong type is an error,
-- not a silent conversion.

-- +goose Up

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE workspaces (
    id          TEXT    NOT NULL PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES users (id),
    name        TEXT    NOT NULL,
    slug        TEXT    NOT NULL,
    description TEXT,
    is_default  INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER,
    UNIQUE (user_id, slug)
) STRICT;

-- At most one default workspace per user, whatever the application does.
CREATE UNIQUE INDEX workspaces_one_default ON workspaces (user_id) WHERE is_default = 1;

CREATE TABLE apps (
    -- AUTOINCREMENT: an id is never reused, so app_id stays a stable name.
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    url         TEXT    NOT NULL UNIQUE,
    title       TEXT    NOT NULL,
    categories  TEXT    NOT NULL DEFAULT '[]',
    is_loopback INTEGER NOT NULL DEFAULT 0 CHECK (is_loopback IN (0, 1)),
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
    hash            TEXT    NOT NULL PRIMARY KEY,
    user_id         TEXT    NOT NULL REFERENCES users (id),
    -- RESTRICT: a workspace that holds keys cannot be deleted.
    workspace_id    TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE RESTRICT,
    app_id          INTEGER REFERENCES apps (id),
    -- No foreign key: deleting a parent key must not be blocked by, or
    -- cascade to, the keys delegated from it.
    parent_hash     TEXT,
    name            TEXT    NOT NULL,
    label           TEXT    NOT NULL,
    is_management   INTEGER NOT NULL DEFAULT 0 CHECK (is_management IN (0, 1)),
    disabled        INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    limit_micros    INTEGER CHECK (limit_micros >= 0),
    limit_reset     TEXT    NOT NULL DEFAULT '' CHECK (limit_reset IN ('', 'daily', 'weekly', 'monthly')),
    include_byok    INTEGER NOT NULL DEFAULT 0 CHECK (include_byok IN (0, 1)),
    expires_at      INTEGER,
    external_user   TEXT,
    creator_user_id TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER
) STRICT;

CREATE INDEX api_keys_user_created ON api_keys (user_id, created_at);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id);

CREATE TABLE auth_codes (
    hash                  TEXT    NOT NULL PRIMARY KEY,
    user_id               TEXT    NOT NULL REFERENCES users (id),
    -- CASCADE: a deleted workspace takes its pending codes with it, so no
    -- code can later mint a key into a workspace that is gone.
    workspace_id          TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    app_id                INTEGER REFERENCES apps (id),
    parent_key_hash       TEXT,
    callback_url          TEXT    NOT NULL DEFAULT '',
    code_challenge        TEXT    NOT NULL DEFAULT '',
    code_challenge_method TEXT    NOT NULL DEFAULT '' CHECK (code_challenge_method IN ('', 'S256', 'plain')),
    limit_micros          INTEGER CHECK (limit_micros >= 0),
    limit_reset           TEXT    NOT NULL DEFAULT '' CHECK (limit_reset IN ('', 'daily', 'weekly', 'monthly')),
    key_label             TEXT    NOT NULL DEFAULT '',
    key_expires_at        INTEGER,
    created_at            INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL,
    -- Set once, by the exchange that wins the conditional update.
    used_at               INTEGER,
    -- No foreign key: the key is inserted after this row is claimed, in the
    -- same transaction, and may later be deleted while the code is kept to
    -- detect replays.
    key_hash              TEXT
) STRICT;

CREATE INDEX auth_codes_expires ON auth_codes (expires_at);

CREATE TABLE usage_events (
    id                INTEGER NOT NULL PRIMARY KEY,
    -- No foreign keys: usage is history, and outlives keys and apps.
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

-- Running sums per key and period, kept by atomic upserts. period_start is
-- the unix-microsecond start of the UTC day, ISO week or UTC month, and 0
-- for the all-time total.
CREATE TABLE usage_counters (
    key_hash     TEXT    NOT NULL,
    period       TEXT    NOT NULL CHECK (period IN ('total', 'day', 'week', 'month')),
    period_start INTEGER NOT NULL,
    micros       INTEGER NOT NULL DEFAULT 0,
    byok_micros  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key_hash, period, period_start)
) STRICT, WITHOUT ROWID;

CREATE TABLE sessions (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE audit_events (
    id              INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    created_at      INTEGER NOT NULL,
    action          TEXT    NOT NULL,
    -- No foreign keys: the audit trail outlives what it mentions.
    actor_user_id   TEXT    NOT NULL DEFAULT '',
    app_id          INTEGER,
    key_hash_prefix TEXT    NOT NULL DEFAULT '',
    client_ip       TEXT    NOT NULL DEFAULT '',
    detail          TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX audit_events_created ON audit_events (created_at);

-- +goose Down

DROP TABLE audit_events;
DROP TABLE sessions;
DROP TABLE usage_counters;
DROP TABLE usage_events;
DROP TABLE auth_codes;
DROP TABLE api_keys;
DROP TABLE apps;
DROP TABLE workspaces;
DROP TABLE users;
