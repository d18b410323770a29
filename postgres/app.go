package postgres

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate"
)

const appColumns = `id, url, title, categories, is_loopback, hidden, created_at`

// UpsertApp returns the app stored under a.URL, creating it from a if there
// is none. An existing app takes a.Title when it is non-empty and
// different, and a.Categories when they are non-empty and different; its
// ID, IsLoopback and CreatedAt never change. A change is announced
// (keygate.ChangeApp).
func (db *DB) UpsertApp(ctx context.Context, a *keygate.App) (*keygate.App, error) {
	// Most calls name an app that is already stored as is: answer those
	// with one read. The upsert below is correct on its own; this is only
	// a shortcut.
	if cur, err := db.appByURL(ctx, a.URL); err == nil && !cur.ChangedBy(a) {
		return cur, nil
	}
	// The WHERE clause skips an update that would change nothing, and then
	// RETURNING gives no row: the stored app is read instead. ON CONFLICT
	// waits for a concurrent insert of the same URL to commit, so of
	// racing upserts one inserts and the others see its row. Only an
	// update of an existing row (xmax <> 0) is announced: a new app is in
	// no cache.
	var got *keygate.App
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var updated bool
		var err error
		got, err = scanApp(tx.QueryRow(ctx, `
			INSERT INTO apps (url, title, categories, is_loopback, created_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (url) DO UPDATE SET
				title = CASE WHEN excluded.title <> '' THEN excluded.title ELSE apps.title END,
				categories = CASE WHEN cardinality(excluded.categories) > 0 THEN excluded.categories ELSE apps.categories END
			WHERE (excluded.title <> '' AND excluded.title <> apps.title)
			   OR (cardinality(excluded.categories) > 0 AND excluded.categories <> apps.categories)
			RETURNING `+appColumns+`, xmax <> 0`,
			a.URL, a.Title, categories(a.Categories), a.IsLoopback, a.CreatedAt), &updated)
		if err != nil || !updated {
			return err
		}
		return announce(ctx, tx, keygate.ChangeApp, strconv.FormatInt(got.ID, 10))
	})
	if errors.Is(err, pgx.ErrNoRows) {
		got, err = db.appByURL(ctx, a.URL)
	}
	if err != nil {
		return nil, storeErr("upsert app", err)
	}
	return got, nil
}

// App returns the app with id, or keygate.ErrNotFound.
func (db *DB) App(ctx context.Context, id int64) (*keygate.App, error) {
	a, err := scanApp(db.pool.QueryRow(ctx,
		`SELECT `+appColumns+` FROM apps WHERE id = $1`, id))
	return a, storeErr("app", err)
}

// SetAppHidden sets the hidden flag of the app with id, announcing the
// change (keygate.ChangeApp).
func (db *DB) SetAppHidden(ctx context.Context, id int64, hidden bool) (*keygate.App, error) {
	var got *keygate.App
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var err error
		got, err = scanApp(tx.QueryRow(ctx,
			`UPDATE apps SET hidden = $1 WHERE id = $2 RETURNING `+appColumns, hidden, id))
		if err != nil {
			return err
		}
		return announce(ctx, tx, keygate.ChangeApp, strconv.FormatInt(id, 10))
	})
	if err != nil {
		return nil, storeErr("set app hidden", err)
	}
	return got, nil
}

func (db *DB) appByURL(ctx context.Context, url string) (*keygate.App, error) {
	return scanApp(db.pool.QueryRow(ctx,
		`SELECT `+appColumns+` FROM apps WHERE url = $1`, url))
}

// scanApp reads the appColumns of row, and then into extra.
func scanApp(row scanner, extra ...any) (*keygate.App, error) {
	var a keygate.App
	dest := append([]any{&a.ID, &a.URL, &a.Title, &a.Categories, &a.IsLoopback, &a.Hidden, &a.CreatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	if len(a.Categories) == 0 {
		a.Categories = nil
	}
	a.CreatedAt = utc(a.CreatedAt)
	return &a, nil
}
