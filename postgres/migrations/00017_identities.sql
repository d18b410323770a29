-- Accounts linked to identities at upstream OpenID providers: the issuer
-- and subject are the identity (OpenID Connect Core 1.0 §2); the email is
-- what the provider said when the link was made. A link goes with its
-- user.

-- +goose Up

CREATE TABLE identities (
    issuer     text        COLLATE "C" NOT NULL,
    subject    text        COLLATE "C" NOT NULL,
    user_id    text        COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      text        NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (issuer, subject)
);

CREATE INDEX identities_user ON identities (user_id);

-- +goose Down

DROP TABLE identities;
