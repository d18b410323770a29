-- Announcements of changes to rows that a process may hold in a cache, so
-- that every process on the file hears of them: a key updated or deleted
-- with the CLI stops working at once in a running server. Each row is
-- written in the transaction that makes its change, so it exists exactly
-- when the change committed; DB.Listen reads the rows added since it last
-- looked. kind and ref are as keygate.ChangeKey and its siblings say (a
-- key's hash, a session's token hash, an app's decimal id).
--
-- AUTOINCREMENT: ids grow without reuse and, as SQLite has one writer at a
-- time and a rolled-back insert takes its id with it, without gaps, so a
-- reader that finds one knows that rows it had not read were pruned. Only
-- the newest rows are kept (see sqlite/changes.go).

-- +goose Up

CREATE TABLE changes (
    id   INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    kind TEXT    NOT NULL,
    ref  TEXT    NOT NULL
) STRICT;

-- +goose Down

DROP TABLE changes;
