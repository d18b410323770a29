package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/postgres"
	"github.com/keygate/keygate/sqlite"
)

// keySet is n well-formed keys, derived from a random seed so that none is
// ever the same in two runs, with their hashes.
type keySet struct {
	secrets []string
	hashes  []string
	limit   *keygate.Micros // the limit every key is stored with; nil: none
}

func newKeySet(n int) keySet {
	var seed [32]byte
	rand.Read(seed[:])
	ks := keySet{secrets: make([]string, n), hashes: make([]string, n)}
	var buf [40]byte
	copy(buf[:], seed[:])
	for i := range n {
		binary.BigEndian.PutUint64(buf[32:], uint64(i))
		sum := sha256.Sum256(buf[:])
		ks.secrets[i] = keygate.DefaultKeyPrefix + "v1-" + hex.EncodeToString(sum[:])
		ks.hashes[i] = keygate.HashSecret(ks.secrets[i])
	}
	return ks
}

// writeHashes writes the hashes of ks to path, one a line, for the
// ceiling server.
func (ks keySet) writeHashes(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, h := range ks.hashes {
		w.WriteString(h)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// newOwner stores a user with its default workspace in store.
func newOwner(ctx context.Context, store keygate.Store) (*keygate.Workspace, error) {
	now := time.Now().UTC()
	u := &keygate.User{
		ID: uuid.NewString(), Email: "bench-" + uuid.NewString()[:8] + "@example.com",
		// Not a password hash anyone can log in with: the benchmarks use keys.
		PasswordHash: "!", CreatedAt: now,
	}
	ws := &keygate.Workspace{ID: uuid.NewString(), UserID: u.ID, Name: "Default", Slug: "default", IsDefault: true, CreatedAt: now}
	if err := store.CreateUser(ctx, u, ws); err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	return ws, nil
}

// keyOf returns the stored form of secret, an ordinary key of ws without
// limit or expiry.
func keyOf(ws *keygate.Workspace, secret string, created time.Time) *keygate.APIKey {
	return &keygate.APIKey{
		Hash:          keygate.HashSecret(secret),
		UserID:        ws.UserID,
		WorkspaceID:   ws.ID,
		Label:         keygate.MaskKey(secret),
		CreatorUserID: ws.UserID,
		CreatedAt:     created,
	}
}

// seedSQLite creates the SQLite file path holding one user and the keys of
// ks, written in bulk straight to the file (not through HTTP).
func seedSQLite(ctx context.Context, path string, ks keySet) error {
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	defer db.Close()
	ws, err := newOwner(ctx, db)
	if err != nil {
		return err
	}
	const chunk = 50_000 // bounds the harness's memory for a million keys
	now := time.Now().UTC()
	batch := make([]*keygate.APIKey, 0, chunk)
	for start := 0; start < len(ks.secrets); start += chunk {
		batch = batch[:0]
		for _, s := range ks.secrets[start:min(start+chunk, len(ks.secrets))] {
			k := keyOf(ws, s, now)
			k.Limit = ks.limit
			batch = append(batch, k)
		}
		if err := db.BulkInsertKeys(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

// seedUserKey stores one user and one ordinary key of theirs in store and
// returns the key: what an app holds when it asks for a code.
func seedUserKey(ctx context.Context, store keygate.Store) (string, error) {
	ws, err := newOwner(ctx, store)
	if err != nil {
		return "", err
	}
	secret := keygate.NewKey(keygate.DefaultKeyPrefix)
	if err := store.CreateKey(ctx, keyOf(ws, secret, time.Now().UTC())); err != nil {
		return "", fmt.Errorf("create key: %w", err)
	}
	return secret, nil
}

// pgSchema is a schema of its own in the PostgreSQL database of a URL.
type pgSchema struct {
	base, name string
	url        string // base with search_path set to the schema
}

// newPGSchema creates an empty schema with a random name in the database
// of base.
func newPGSchema(ctx context.Context, base string) (*pgSchema, error) {
	var b [6]byte
	rand.Read(b[:])
	s := &pgSchema{base: base, name: "keygate_bench_" + hex.EncodeToString(b[:])}
	if err := pgExec(ctx, base, `CREATE SCHEMA `+pgx.Identifier{s.name}.Sanitize()); err != nil {
		return nil, err
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		s.drop(ctx)
		return nil, fmt.Errorf("--postgres: want a postgres:// URL")
	}
	q := u.Query()
	q.Set("search_path", s.name)
	u.RawQuery = q.Encode()
	s.url = u.String()
	return s, nil
}

func (s *pgSchema) drop(ctx context.Context) error {
	return pgExec(context.WithoutCancel(ctx), s.base, `DROP SCHEMA `+pgx.Identifier{s.name}.Sanitize()+` CASCADE`)
}

func pgExec(ctx context.Context, u, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// seedPostgres migrates the schema of s and stores one user and their key.
func seedPostgres(ctx context.Context, s *pgSchema) (string, error) {
	db, err := postgres.Open(ctx, s.url)
	if err != nil {
		return "", err
	}
	defer db.Close()
	return seedUserKey(ctx, db)
}

// seedPostgresKeys migrates the schema of s and stores one user and the
// keys of ks, one at a time.
func seedPostgresKeys(ctx context.Context, s *pgSchema, ks keySet) error {
	db, err := postgres.Open(ctx, s.url)
	if err != nil {
		return err
	}
	defer db.Close()
	ws, err := newOwner(ctx, db)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	for _, secret := range ks.secrets {
		k := keyOf(ws, secret, now)
		k.Limit = ks.limit
		if err := db.CreateKey(ctx, k); err != nil {
			return fmt.Errorf("create key: %w", err)
		}
	}
	return nil
}

// seedUserKeySQLite creates the SQLite file path with one user and their key.
func seedUserKeySQLite(ctx context.Context, path string) (string, error) {
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return "", err
	}
	defer db.Close()
	return seedUserKey(ctx, db)
}

// pgBackendsCPU returns a function that sums the CPU seconds of the
// PostgreSQL server processes serving the connections whose
// application_name is app (read from pg_stat_activity, then from
// /proc/<pid>/stat: the server must run on this machine). Only the
// backends are counted: the server's shared processes (WAL writer,
// checkpointer) serve every database and are left out.
func pgBackendsCPU(base, app string) func(ctx context.Context) (map[int]float64, error) {
	return func(ctx context.Context) (map[int]float64, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return nil, fmt.Errorf("postgres: connect: %w", err)
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
		if err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		cpu := make(map[int]float64, len(pids))
		for _, pid := range pids {
			if s, err := procCPU(int(pid)); err == nil {
				cpu[int(pid)] = s
			}
		}
		return cpu, nil
	}
}
