-- Accounts an operator runs from the browser: admins, and one-time links
-- (invites to sign up, password resets) made by an admin. A link is
-- stored only as the SHA-256 hash of its token, and used once: the
-- conditional update that sets used_at is the only gate.
--
-- The oldest user of an existing database becomes its admin, as the first
-- user of a new one does.

-- +goose Up

ALTER TABLE users ADD COLUMN is_admin boolean NOT NULL DEFAULT false;

UPDATE users SET is_admin = true
WHERE id = (SELECT id FROM users ORDER BY created_at, id LIMIT 1);

CREATE TABLE account_links (
    hash       text        COLLATE "C" NOT NULL PRIMARY KEY,
    kind       text        NOT NULL CHECK (kind IN ('invite', 'reset')),
    -- reset: the user whose password the link sets. invite: empty until
    -- used, then the user it created. No foreign keys: the links are
    -- history, and outlive the users they name.
    user_id    text        COLLATE "C" NOT NULL DEFAULT '',
    created_by text        COLLATE "C" NOT NULL,
    note       text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);

CREATE INDEX account_links_kind_created ON account_links (kind, created_at);

-- +goose Down

DROP TABLE account_links;
ALTER TABLE users DROP COLUMN is_admin;
