-- The whole schema of keygate's first release, written for PostgreSQL. It
-- holds the same tables, columns, keys and constraints as the SQLite
-- migration of the same number; only the types are PostgreSQL's own.
--
-- Conventions (see doc.go): every time is timestamptz (microsecond
-- precision, read back in UTC); money is bigint micro-dollars; booleans are
-- boolean; App categories are a text[]. Hashes and ids are text compared
-- byte by byte (COLLATE "C"), so that orderings that break ties on them
-- match SQLite's.

-- +goose Up

CREATE TABLE users (
    id            text        COLLATE "C" NOT NULL PRIMARY KEY,
    email         text        COLLATE "C" NOT NULL UNIQUE,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL
);

CREATE TABLE workspaces (
    id          text        COLLATE "C" NOT NULL PRIMARY KEY,
    user_id     text        COLLATE "C" NOT NULL REFERENCES users (id),
    name        text        NOT NULL,
    slug        text        COLLATE "C" NOT NULL,
    description text,
    is_default  boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz,
    UNIQUE (user_id, slug)
);

-- At most one default workspace per user, whatever the application does.
CREATE UNIQUE INDEX workspaces_one_default ON workspaces (user_id) WHERE is_default;

CREATE TABLE apps (
    -- An identity column draws from a sequence, which never hands out a
    -- number twice: app_id stays a stable name.
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url         text        COLLATE "C" NOT NULL UNIQUE,
    title       text        NOT NULL,
    categories  text[]      NOT NULL DEFAULT '{}',
    is_loopback boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL
);

CREATE TABLE api_keys (
    hash            text        COLLATE "C" NOT NULL PRIMARY KEY,
    user_id         text        COLLATE "C" NOT NULL REFERENCES users (id),
    -- RESTRICT: a workspace that holds keys cannot be deleted.
    workspace_id    text        COLLATE "C" NOT NULL REFERENCES workspaces (id) ON DELETE RESTRICT,
    app_id          bigint      REFERENCES apps (id),
    -- No foreign key: deleting a parent key must not be blocked by, or
    -- cascade to, the keys delegated from it.
    parent_hash     text        COLLATE "C",
    name            text        NOT NULL,
    label           text        NOT NULL,
    is_management   boolean     NOT NULL DEFAULT false,
    disabled        boolean     NOT NULL DEFAULT false,
    limit_micros    bigint      CHECK (limit_micros >= 0),
    limit_reset     text        NOT NULL DEFAULT '' CHECK (limit_reset IN ('', 'daily', 'weekly', 'monthly')),
    include_byok    boolean     NOT NULL DEFAULT false,
    expires_at      timestamptz,
    external_user   text,
    creator_user_id text        COLLATE "C",
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz
);

CREATE INDEX api_keys_user_created ON api_keys (user_id, created_at);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id);

CREATE TABLE auth_codes (
    hash                  text        COLLATE "C" NOT NULL PRIMARY KEY,
    user_id               text        COLLATE "C" NOT NULL REFERENCES users (id),
    -- CASCADE: a deleted workspace takes its pending codes with it, so no
    -- code can later mint a key into a workspace that is gone.
    workspace_id          text        COLLATE "C" NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    app_id                bigint      REFERENCES apps (id),
    parent_key_hash       text        COLLATE "C",
    callback_url          text        NOT NULL DEFAULT '',
    code_challenge        text        NOT NULL DEFAULT '',
    code_challenge_method text        NOT NULL DEFAULT '' CHECK (code_challenge_method IN ('', 'S256', 'plain')),
    limit_micros          bigint      CHECK (limit_micros >= 0),
    limit_reset           text        NOT NULL DEFAULT '' CHECK (limit_reset IN ('', 'daily', 'weekly', 'monthly')),
    key_label             text        NOT NULL DEFAULT '',
    key_expires_at        timestamptz,
    created_at            timestamptz NOT NULL,
    expires_at            timestamptz NOT NULL,
    -- Set once, by the exchange that wins the conditional update.
    used_at               timestamptz,
    -- No foreign key: the key is inserted after this row is claimed, in the
    -- same transaction, and may later be deleted while the code is kept to
    -- detect replays.
    key_hash              text        COLLATE "C"
);

CREATE INDEX auth_codes_expires ON auth_codes (expires_at);

CREATE TABLE usage_events (
    id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- No foreign keys: usage is history, and outlives keys and apps.
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

-- Running sums per key and period, kept by atomic upserts. period_start is
-- the start of the UTC day, ISO week or UTC month, and the Unix epoch for
-- the all-time total.
CREATE TABLE usage_counters (
    key_hash     text        COLLATE "C" NOT NULL,
    period       text        NOT NULL CHECK (period IN ('total', 'day', 'week', 'month')),
    period_start timestamptz NOT NULL,
    micros       bigint      NOT NULL DEFAULT 0,
    byok_micros  bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (key_hash, period, period_start)
);

CREATE TABLE sessions (
    token_hash text        COLLATE "C" NOT NULL PRIMARY KEY,
    user_id    text        COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token text        NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE audit_events (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at      timestamptz NOT NULL,
    action          text        NOT NULL,
    -- No foreign keys: the audit trail outlives what it mentions.
    actor_user_id   text        NOT NULL DEFAULT '',
    app_id          bigint,
    key_hash_prefix text        NOT NULL DEFAULT '',
    client_ip       text        NOT NULL DEFAULT '',
    detail          text        NOT NULL DEFAULT ''
);

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
