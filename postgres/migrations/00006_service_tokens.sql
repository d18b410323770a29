-- Operator service tokens: they authorize POST /api/v1/usage and nothing
-- else. Only the SHA-256 of a token is stored; a revoked token is kept,
-- with when it was revoked, so that the list says what happened to it.

-- +goose Up

CREATE TABLE service_tokens (
    id         text        COLLATE "C" NOT NULL PRIMARY KEY,
    name       text        NOT NULL,
    token_hash text        COLLATE "C" NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

-- +goose Down

DROP TABLE service_tokens;
