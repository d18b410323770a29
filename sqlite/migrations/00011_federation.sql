-- Workload identity federation: policies trusting an issuer's identity
-- tokens, the subject tokens already exchanged (by jti, until they
-- expire), and keygate's ES256 signing keys of the access tokens it
-- issues. A policy goes with its key and with its workspace.

-- +goose Up

CREATE TABLE federation_policies (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id),
    workspace_id TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    key_hash     TEXT    NOT NULL UNIQUE REFERENCES api_keys (hash) ON DELETE CASCADE,
    issuer       TEXT    NOT NULL,
    audience     TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    -- A JSON object of claim name to pattern.
    claims       TEXT    NOT NULL,
    token_ttl    INTEGER NOT NULL CHECK (token_ttl > 0), -- seconds
    created_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX federation_policies_user ON federation_policies (user_id, created_at);

CREATE TABLE federation_subject_tokens (
    issuer     TEXT    NOT NULL,
    jti        TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti)
) STRICT;

CREATE INDEX federation_subject_tokens_expiry ON federation_subject_tokens (expires_at);

CREATE TABLE signing_keys (
    id          TEXT    NOT NULL PRIMARY KEY,
    private_key BLOB    NOT NULL, -- PKCS #8 DER
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER
) STRICT;

-- At most one current key.
CREATE UNIQUE INDEX signing_keys_current ON signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;

-- +goose Down

DROP TABLE signing_keys;
DROP TABLE federation_subject_tokens;
DROP TABLE federation_policies;
