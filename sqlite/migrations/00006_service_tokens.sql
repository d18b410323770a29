-- Operator service tokens: they authorize POST /api/v1/usage and nothing
-- else. Only the SHA-256 of a token is stored; a revoked token is kept,
-- with when it was revoked, so that the list says what happened to it.

-- +goose Up

CREATE TABLE service_tokens (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    token_hash TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;

-- +goose Down

DROP TABLE service_tokens;
