-- A user can be disabled (keygate users disable): they can no longer sign
-- in. Existing users stay enabled.

-- +goose Up

ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));

-- +goose Down

ALTER TABLE users DROP COLUMN disabled;
