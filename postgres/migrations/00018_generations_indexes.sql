-- The generations' by-user and by-app indexes go: no query reads them
-- (a user's activity and an app's rankings are read from the daily
-- rollups of migration 00008), and each was two more B-tree entries to
-- write for every metered request.

-- +goose Up

DROP INDEX generations_user_created;
DROP INDEX generations_app_created;

-- +goose Down

CREATE INDEX generations_user_created ON generations (user_id, created_at);
CREATE INDEX generations_app_created ON generations (app_id, created_at);
