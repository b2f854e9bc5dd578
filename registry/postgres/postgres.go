// Package postgres keeps the registry's metadata in PostgreSQL, for registries shared
// by several machines (Cloud SQL in production). It uses github.com/jackc/pgx/v5
// with a connection pool and applies its embedded schema migrations when it opens a
// database.
//
// Concurrent writers are safe: every change to a model first locks that model's row
// (SELECT … FOR UPDATE), so version numbers and alias moves of one model are
// serialised, and every change counts itself in a one-row revision table, so the
// registry's revision grows in commit order.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hydrocast/hydrocast/registry"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the key of the advisory lock that serialises migrations, so
// that several processes opening a new database at once apply each step once.
const migrationLock = 0x6879647263617374 // "hydrcast"

// Store is a registry.Store in a PostgreSQL database. It is safe for concurrent use,
// and any number of processes may open the same database.
type Store struct {
	pool *pgxpool.Pool

	// afterInsert, when set by a test, runs inside CreateVersion's transaction
	// right after the version row is written.
	afterInsert func() error
}

var _ registry.Store = (*Store)(nil)

// Open connects to the database that dsn names, a libpq URL or key=value string
// such as "postgres://registry@db.internal:5432/hydrocast?sslmode=verify-full", and
// brings its schema up to date. Tables are created in the connection's search
// path, so a search_path parameter in dsn selects a schema. Pool settings such as
// pool_max_conns may be given in dsn too.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN, password included.
		return nil, fmt.Errorf("open registry database: %w: malformed connection string",
			registry.ErrInvalid)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open registry database: %w", err)
	}
	s := &Store{pool: pool}

	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open registry database %s@%s/%s: %w", cfg.ConnConfig.User,
			cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	return s, nil
}

// Close closes every connection of the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// migrate applies, in name order, each embedded migration the database lacks, all in
// one transaction under an advisory lock. Migration files are named NNNN_what.sql.
func (s *Store) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}

	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`,
			int64(migrationLock)); err != nil {
			return fmt.Errorf("lock for migrations: %w", err)
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY, name text NOT NULL, applied timestamptz NOT NULL)`)
		if err != nil {
			return fmt.Errorf("create migrations table: %w", err)
		}

		var latest int
		err = tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).
			Scan(&latest)
		if err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		// A newer build may have migrated the database further; this one would
		// misread it.
		if latest > len(names) {
			return fmt.Errorf("schema version %d is newer than this build's %d",
				latest, len(names))
		}

		for _, name := range names {
			if err := apply(ctx, tx, name, latest); err != nil {
				return err
			}
		}
		return nil
	})
}

// apply runs one migration unless its number is at most applied.
func apply(ctx context.Context, tx pgx.Tx, name string, applied int) error {
	base := path.Base(name)
	number, _, _ := strings.Cut(base, "_")
	version, err := strconv.Atoi(number)
	if err != nil {
		return fmt.Errorf("migration %s: name does not start with a number", base)
	}
	if version <= applied {
		return nil
	}

	script, err := migrations.ReadFile(name)
	if err != nil {
		return fmt.Errorf("read migration %s: %w", base, err)
	}
	// Without arguments pgx uses the simple protocol, which runs several statements.
	if _, err := tx.Exec(ctx, string(script)); err != nil {
		return fmt.Errorf("apply migration %s: %w", base, err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied)
		VALUES ($1, $2, $3)`, version, base, time.Now())
	if err != nil {
		return fmt.Errorf("record migration %s: %w", base, err)
	}
	return nil
}

// read runs fn in a read-only, repeatable-read transaction, so that its queries see
// one snapshot.
func (s *Store) read(ctx context.Context, fn func(pgx.Tx) error) error {
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	tx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	return fn(tx)
}

// mutation is what every change needs: its transaction, who makes it and when.
type mutation struct {
	tx        pgx.Tx
	principal string
	now       time.Time
}

// mutate runs fn as one audited change on behalf of the context's principal, in a
// read-committed transaction that fn makes safe by locking the model's row first.
func (s *Store) mutate(ctx context.Context, fn func(*mutation) error) error {
	principal, err := registry.PrincipalFrom(ctx)
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	// PostgreSQL keeps microseconds; rounding here makes the value returned by a
	// write equal the one read back.
	m := &mutation{tx: tx, principal: principal,
		now: time.Now().UTC().Truncate(time.Microsecond)}
	if err := fn(m); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// audit records one change in the audit table under the next revision number.
// The revision row stays locked until the transaction ends.
func (m *mutation) audit(ctx context.Context, e registry.AuditEntry) error {
	var revision int64
	err := m.tx.QueryRow(ctx, `UPDATE revision SET value = value + 1 RETURNING value`).
		Scan(&revision)
	if err != nil {
		return fmt.Errorf("advance revision: %w", err)
	}

	var version *int
	if e.Version > 0 {
		version = &e.Version
	}
	var alias *string
	if e.Alias != "" {
		alias = &e.Alias
	}
	_, err = m.tx.Exec(ctx, `INSERT INTO audit
		(revision, at, principal, action, model, version, alias, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		revision, m.now, m.principal, string(e.Action), e.Model, version, alias, e.Detail)
	if err != nil {
		return fmt.Errorf("write audit entry: %w", err)
	}
	return nil
}

// querier is what both a transaction and the pool offer.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// modelID returns the row id of the named model, or an error wrapping
// registry.ErrNotFound. With lock set it also locks the row until the transaction
// ends, which every change to the model does first.
func modelID(ctx context.Context, q querier, name string, lock bool) (int64, error) {
	if err := registry.CheckModelName(name); err != nil {
		return 0, err
	}
	query := `SELECT id FROM models WHERE name = $1`
	if lock {
		query += ` FOR UPDATE`
	}
	var id int64
	err := q.QueryRow(ctx, query, name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("model %s: %w", name, registry.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("look up model %s: %w", name, err)
	}
	return id, nil
}

// eachRow runs query and calls scan on each row it returns.
func eachRow(ctx context.Context, q querier, query string, args []any,
	scan func(pgx.Rows) error) error {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read rows: %w", err)
	}
	return nil
}
