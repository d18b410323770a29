-- The key that asked for a code through the API flow, management keys
-- included: a code is worth no more than the key that made it, so once
-- that key is disabled, expired or deleted the code mints nothing. NULL
-- for codes made in a browser. A code made by a key that is not a
-- management key names it already as parent_key_hash; codes stored before
-- this migration take that.

-- +goose Up

ALTER TABLE auth_codes ADD COLUMN creator_key_hash TEXT;
UPDATE auth_codes SET creator_key_hash = parent_key_hash;

-- +goose Down

ALTER TABLE auth_codes DROP COLUMN creator_key_hash;
