-- Workload identity federation: policies trusting an issuer's identity
-- tokens, the subject tokens already exchanged (by jti, until they
-- expire), and keygate's ES256 signing keys of the access tokens it
-- issues. A policy goes with its key and with its workspace.

-- +goose Up

CREATE TABLE federation_policies (
    id           text        COLLATE "C" NOT NULL PRIMARY KEY,
    user_id      text        COLLATE "C" NOT NULL REFERENCES users (id),
    workspace_id text        COLLATE "C" NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    key_hash     text        COLLATE "C" NOT NULL UNIQUE REFERENCES api_keys (hash) ON DELETE CASCADE,
    issuer       text        NOT NULL,
    audience     text        NOT NULL,
    subject      text        NOT NULL,
    -- A JSON object of claim name to pattern.
    claims       jsonb       NOT NULL,
    token_ttl    integer     NOT NULL CHECK (token_ttl > 0), -- seconds
    created_at   timestamptz NOT NULL
);

CREATE INDEX federation_policies_user ON federation_policies (user_id, created_at);

CREATE TABLE federation_subject_tokens (
    issuer     text        COLLATE "C" NOT NULL,
    jti        text        COLLATE "C" NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (issuer, jti)
);

CREATE INDEX federation_subject_tokens_expiry ON federation_subject_tokens (expires_at);

CREATE TABLE signing_keys (
    id          text        COLLATE "C" NOT NULL PRIMARY KEY,
    private_key bytea       NOT NULL, -- PKCS #8 DER
    created_at  timestamptz NOT NULL,
    retired_at  timestamptz
);

-- At most one current key.
CREATE UNIQUE INDEX signing_keys_current ON signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;

-- +goose Down

DROP TABLE signing_keys;
DROP TABLE federation_subject_tokens;
DROP TABLE federation_policies;
