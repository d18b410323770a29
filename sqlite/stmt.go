package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// generationColumns are the columns of generations, in the order of
// keygate.Generation's fields.
const generationColumns = `id, key_hash, user_id, workspace_id, app_id, model,
	upstream_model, provider, endpoint, prompt_tokens, completion_tokens,
	reasoning_tokens, cached_tokens, cost_micros, upstream_cost_micros,
	byok, cost_estimated, streamed, cancelled, finish_reason, latency_us,
	generation_time_us, created_at, upstream_id`

// SQL of the statements on the hot paths of key verification and sign-in,
// prepared once per pool by prepare rather than parsed again on every call.
const (
	sqlInsertAuthCode = `
		INSERT INTO auth_codes (hash, user_id, workspace_id, app_id, parent_key_hash, creator_key_hash,
			callback_url, code_challenge, code_challenge_method,
			limit_micros, limit_reset, key_label, key_expires_at,
			created_at, expires_at, used_at, key_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlAuthCode = `
		SELECT hash, user_id, workspace_id, app_id, parent_key_hash, creator_key_hash,
			callback_url, code_challenge, code_challenge_method,
			limit_micros, limit_reset, key_label, key_expires_at,
			created_at, expires_at, used_at, key_hash
		FROM auth_codes WHERE hash = ?`
	sqlRedeemAuthCode = `UPDATE auth_codes SET used_at = ?, key_hash = ? WHERE hash = ? AND used_at IS NULL`
	sqlInsertKey      = `
		INSERT INTO api_keys (hash, user_id, workspace_id, app_id, parent_hash, name, label,
			is_management, disabled, limit_micros, limit_reset, include_byok,
			expires_at, external_user, creator_user_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlInsertAudit = `
		INSERT INTO audit_events (created_at, action, actor_user_id, app_id,
			key_hash_prefix, client_ip, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		RETURNING id`
	sqlSavepoint        = `SAVEPOINT write`
	sqlRelease          = `RELEASE write`
	sqlRollbackTo       = `ROLLBACK TO write`
	sqlAppByURL         = `SELECT ` + appColumns + ` FROM apps WHERE url = ?`
	sqlAppByID          = `SELECT ` + appColumns + ` FROM apps WHERE id = ?`
	sqlKey              = `SELECT ` + keyColumns + ` FROM api_keys WHERE hash = ?`
	sqlDefaultWorkspace = `SELECT ` + workspaceColumns + ` FROM workspaces WHERE user_id = ? AND is_default = 1`
	// Each counter is found by its whole primary key: a row value IN a
	// VALUES list seeks the four rows, where OR-ed (period AND start)
	// pairs made SQLite scan every counter row the key ever had (one a
	// day, week and month it was used).
	sqlUsageCounters = `
		SELECT period, period_start, micros, byok_micros FROM usage_counters
		WHERE key_hash = ? AND (period, period_start) IN (VALUES (?, ?), (?, ?), (?, ?), (?, ?))`
	// sqlKeyWithUsage is sqlKey with the key's four counters of
	// sqlUsageCounters: one row per stored counter, or one row with NULL
	// counter columns when it has none.
	sqlKeyWithUsage = `
		SELECT ` + keyColumnsK + `, c.period, c.period_start, c.micros, c.byok_micros
		FROM api_keys k LEFT JOIN usage_counters c ON c.key_hash = k.hash
			AND (c.period, c.period_start) IN (VALUES (?, ?), (?, ?), (?, ?), (?, ?))
		WHERE k.hash = ?`
	sqlGeneration = `SELECT ` + generationColumns + ` FROM generations WHERE id = ?`
)

// stmts holds the prepared statements of one DB. The writer's are used
// inside write transactions through (*sql.Tx).StmtContext, which finds the
// statement already prepared on the single writer connection; the
// reader's are prepared on each read connection the first time it runs
// them, and kept.
type stmts struct {
	// writer
	insertAuthCode, redeemAuthCode, insertKey, insertAudit *sql.Stmt
	// of RecordGeneration: [i] writes 1<<i rows (chunks)
	insertGenerations, addCounters [chunkSizes]*sql.Stmt
	addAppDays, addUserDays        [chunkSizes]*sql.Stmt
	savepoint, release, rollbackTo *sql.Stmt // of a batch (runWriter)
	// reader
	authCode, appByURL, appByID, key, keyWithUsage, defaultWorkspace *sql.Stmt
	usageCounters, generation, generationExists                      *sql.Stmt

	all []*sql.Stmt
}

// prepare prepares the statements of db on its two pools; a nil writer
// (OpenReadOnly) gets none.
func (s *stmts) prepare(ctx context.Context, writer, reader *sql.DB) error {
	for _, p := range []struct {
		dst  **sql.Stmt
		pool *sql.DB
		sql  string
	}{
		{&s.insertAuthCode, writer, sqlInsertAuthCode},
		{&s.redeemAuthCode, writer, sqlRedeemAuthCode},
		{&s.insertKey, writer, sqlInsertKey},
		{&s.insertAudit, writer, sqlInsertAudit},
		{&s.savepoint, writer, sqlSavepoint},
		{&s.release, writer, sqlRelease},
		{&s.rollbackTo, writer, sqlRollbackTo},
		{&s.authCode, reader, sqlAuthCode},
		{&s.appByURL, reader, sqlAppByURL},
		{&s.appByID, reader, sqlAppByID},
		{&s.key, reader, sqlKey},
		{&s.keyWithUsage, reader, sqlKeyWithUsage},
		{&s.defaultWorkspace, reader, sqlDefaultWorkspace},
		{&s.usageCounters, reader, sqlUsageCounters},
		{&s.generation, reader, sqlGeneration},
		{&s.generationExists, reader, `SELECT 1 FROM generations WHERE id = ?`},
	} {
		if p.pool == nil {
			continue
		}
		st, err := p.pool.PrepareContext(ctx, p.sql)
		if err != nil {
			s.close()
			return fmt.Errorf("sqlite: prepare: %w", err)
		}
		*p.dst = st
		s.all = append(s.all, st)
	}
	if writer == nil {
		return nil
	}
	for i := range chunkSizes {
		for _, p := range []struct {
			dst **sql.Stmt
			sql string
		}{
			{&s.insertGenerations[i], sqlInsertGenerations(1 << i)},
			{&s.addCounters[i], sqlAddCounters(1 << i)},
			{&s.addAppDays[i], sqlAddAppDays(1 << i)},
			{&s.addUserDays[i], sqlAddUserDays(1 << i)},
		} {
			st, err := writer.PrepareContext(ctx, p.sql)
			if err != nil {
				s.close()
				return fmt.Errorf("sqlite: prepare: %w", err)
			}
			*p.dst = st
			s.all = append(s.all, st)
		}
	}
	return nil
}

// close closes every prepared statement.
func (s *stmts) close() error {
	var errs []error
	for _, st := range s.all {
		errs = append(errs, st.Close())
	}
	s.all = nil
	return errors.Join(errs...)
}
