package sqlite

import "database/sql"

// Pools exposes the two connection pools to the package's external tests.
func Pools(db *DB) (writer, reader *sql.DB) { return db.writer, db.reader }

// Retention of the changes table.
const (
	ChangesKept       = changesKept
	ChangesPruneEvery = changesPruneEvery
)

// Migrations are the embedded schema migrations.
var Migrations = migrations
