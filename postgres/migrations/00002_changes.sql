-- Numbered like the SQLite migration that adds its changes table, so both
-- packages keep the same schema versions. PostgreSQL needs no such table:
-- its changes are announced with pg_notify in the transaction that makes
-- them (see notify.go).

-- +goose Up

-- +goose Down
