-- A user can be disabled (keygate users disable): they can no longer sign
-- in. Existing users stay enabled.

-- +goose Up

ALTER TABLE users ADD COLUMN disabled boolean NOT NULL DEFAULT false;

-- +goose Down

ALTER TABLE users DROP COLUMN disabled;
