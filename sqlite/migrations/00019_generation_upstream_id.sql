-- A generation's id is keygate's own ("gen-…", made for the request and
-- sent to the client as the answer's id, as OpenRouter does); the id the
-- upstream gave its answer is kept beside it, for GET /generation's
-- upstream_id. Generations from before keep their id, which was the
-- upstream's, and have none.

-- +goose Up

ALTER TABLE generations ADD COLUMN upstream_id TEXT NOT NULL DEFAULT '';

-- +goose Down

ALTER TABLE generations DROP COLUMN upstream_id;
