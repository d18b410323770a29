-- A generation row is written for every metered request, and each index
-- on it is one more B-tree insert in the charge's transaction. Only two
-- reads use the table: one generation by id (GET /api/v1/generation) and
-- a key's newest (the dashboard), served by the primary key and
-- generations_key_created. Per-user and per-app figures come from the
-- daily rollups (00008), so the user and app indexes go.

-- +goose Up

DROP INDEX generations_user_created;
DROP INDEX generations_app_created;

-- +goose Down

CREATE INDEX generations_user_created ON generations (user_id, created_at);
CREATE INDEX generations_app_created ON generations (app_id, created_at);
