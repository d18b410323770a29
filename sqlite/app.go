package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

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
	// from a reader without queueing for the writer. The upsert below is
	// correct on its own; this is only a shortcut.
	if cur, err := db.appByURL(ctx, a.URL); err == nil && !cur.ChangedBy(a) {
		return cur, nil
	}
	cats := encodeCategories(a.Categories)
	var got *keygate.App
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		// Only an update of an existing app is announced: a new app is in
		// no cache. The write lock, held since BEGIN IMMEDIATE, keeps this
		// answer true until the upsert.
		var existed bool
		if err := tx.QueryRowContext(ctx,
			`SELECT EXISTS (SELECT 1 FROM apps WHERE url = ?)`, a.URL).Scan(&existed); err != nil {
			return err
		}
		// The WHERE clause skips an update that would change nothing, and
		// then RETURNING gives no row: the stored app is read instead.
		var err error
		got, err = scanApp(tx.QueryRowContext(ctx, `
			INSERT INTO apps (url, title, categories, is_loopback, created_at)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (url) DO UPDATE SET
				title = CASE WHEN excluded.title <> '' THEN excluded.title ELSE apps.title END,
				categories = CASE WHEN excluded.categories <> '[]' THEN excluded.categories ELSE apps.categories END
			WHERE (excluded.title <> '' AND excluded.title <> apps.title)
			   OR (excluded.categories <> '[]' AND excluded.categories <> apps.categories)
			RETURNING `+appColumns,
			a.URL, a.Title, cats, a.IsLoopback, micros(a.CreatedAt)))
		if errors.Is(err, sql.ErrNoRows) {
			got, err = scanApp(tx.QueryRowContext(ctx,
				`SELECT `+appColumns+` FROM apps WHERE url = ?`, a.URL))
			return err
		}
		if err != nil || !existed {
			return err
		}
		return announce(ctx, tx, keygate.ChangeApp, strconv.FormatInt(got.ID, 10))
	})
	if err != nil {
		return nil, storeErr("upsert app", err)
	}
	return got, nil
}

// App returns the app with id, or keygate.ErrNotFound.
func (db *DB) App(ctx context.Context, id int64) (*keygate.App, error) {
	a, err := scanApp(db.st.appByID.QueryRowContext(ctx, id))
	return a, storeErr("app", err)
}

// SetAppHidden sets the hidden flag of the app with id, announcing the
// change (keygate.ChangeApp).
func (db *DB) SetAppHidden(ctx context.Context, id int64, hidden bool) (*keygate.App, error) {
	var got *keygate.App
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		got, err = scanApp(tx.QueryRowContext(ctx,
			`UPDATE apps SET hidden = ? WHERE id = ? RETURNING `+appColumns, hidden, id))
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
	return scanApp(db.st.appByURL.QueryRowContext(ctx, url))
}

// scanApp reads the appColumns of row, and then into extra.
func scanApp(row scanner, extra ...any) (*keygate.App, error) {
	var a keygate.App
	var cats string
	var created int64
	dest := append([]any{&a.ID, &a.URL, &a.Title, &cats, &a.IsLoopback, &a.Hidden, &created}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	var err error
	if a.Categories, err = decodeCategories(cats); err != nil {
		return nil, err
	}
	a.CreatedAt = fromMicros(created)
	return &a, nil
}

// prefixed returns the comma-separated columns cols, each prefixed with p
// (a table alias and a dot).
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}
