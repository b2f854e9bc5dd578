// Package sqlite keeps the registry's metadata in one SQLite database file: the
// embedded default, for one machine. It uses the pure-Go modernc.org/sqlite driver,
// in WAL mode with foreign keys on, and applies its embedded schema migrations when
// it opens a database.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/hydrocast/hydrocast/registry"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a registry.Store in a SQLite database. It is safe for concurrent use,
// and several processes may open the same file.
type Store struct {
	db *sql.DB

	// writer holds one token; a write transaction takes it first, so that this
	// process's writers queue here instead of polling SQLite's lock.
	writer chan struct{}

	// afterInsert, when set by a test, runs inside CreateVersion's transaction
	// right after the version row is written.
	afterInsert func() error
}

var _ registry.Store = (*Store)(nil)

// connParams configures every connection. Write transactions begin IMMEDIATE so
// that they take the write lock before reading what they will change; a busy
// database is retried for up to ten seconds; FULL sync makes every commit durable.
const connParams = "_txlock=immediate&_foreign_keys=1&_journal_mode=WAL" +
	"&_synchronous=FULL&_busy_timeout=10000"

// Open opens the database file at path, creating it when absent, and brings its
// schema up to date. The folder must exist.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open registry database %q: %w: empty or holds '?'",
			path, registry.ErrInvalid)
	}
	db, err := sql.Open("sqlite", path+"?"+connParams)
	if err != nil {
		return nil, fmt.Errorf("open registry database: %w", err)
	}
	s := &Store{db: db, writer: make(chan struct{}, 1)}

	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open registry database: %w", err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	return s.db.Close()
}

// migrate applies, in name order, each embedded migration the database lacks, each
// in its own transaction. Migration files are named NNNN_what.sql.
func (s *Store) migrate(ctx context.Context) error {
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_us INTEGER NOT NULL)`
	if _, err := s.db.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}

	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	for _, name := range names {
		if err := s.apply(ctx, name); err != nil {
			return err
		}
	}

	// A newer build may have migrated the file further; this one would misread it.
	var latest int
	row := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`)
	if err := row.Scan(&latest); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if latest > len(names) {
		return fmt.Errorf("schema version %d is newer than this build's %d", latest, len(names))
	}
	return nil
}

func (s *Store) apply(ctx context.Context, name string) error {
	base := path.Base(name)
	number, _, _ := strings.Cut(base, "_")
	version, err := strconv.Atoi(number)
	if err != nil {
		return fmt.Errorf("migration %s: name does not start with a number", base)
	}
	script, err := migrations.ReadFile(name)
	if err != nil {
		return fmt.Errorf("read migration %s: %w", base, err)
	}

	// Several processes may open a new file at once; the IMMEDIATE transaction
	// lets one apply the migration and the others see it applied.
	return s.write(ctx, func(tx *sql.Tx) error {
		var applied int
		row := tx.QueryRowContext(ctx,
			`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version)
		if err := row.Scan(&applied); err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
		if applied > 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, string(script)); err != nil {
			return fmt.Errorf("apply migration %s: %w", base, err)
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO schema_migrations (version, name, applied_us) VALUES (?, ?, ?)`,
			version, base, time.Now().UnixMicro())
		if err != nil {
			return fmt.Errorf("record migration %s: %w", base, err)
		}
		return nil
	})
}

// write runs fn in a write transaction and commits it when fn succeeds.
func (s *Store) write(ctx context.Context, fn func(*sql.Tx) error) error {
	select {
	case s.writer <- struct{}{}:
		defer func() { <-s.writer }()
	case <-ctx.Done():
		return ctx.Err()
	}

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()

	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// read runs fn in a read-only transaction, so that its queries see one snapshot.
func (s *Store) read(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	return fn(tx)
}

// mutation is what every change needs: its transaction, who makes it and when.
type mutation struct {
	tx        *sql.Tx
	principal string
	now       int64 // Unix microseconds
}

// mutate runs fn as one audited change on behalf of the context's principal.
func (s *Store) mutate(ctx context.Context, fn func(*mutation) error) error {
	principal, err := registry.PrincipalFrom(ctx)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		return fn(&mutation{tx: tx, principal: principal, now: time.Now().UnixMicro()})
	})
}

// audit records one change in the audit table.
func (m *mutation) audit(ctx context.Context, e registry.AuditEntry) error {
	var version sql.NullInt64
	if e.Version > 0 {
		version = sql.NullInt64{Int64: int64(e.Version), Valid: true}
	}
	var alias sql.NullString
	if e.Alias != "" {
		alias = sql.NullString{String: e.Alias, Valid: true}
	}
	_, err := m.tx.ExecContext(ctx, `INSERT INTO audit
		(at_us, principal, action, model, version, alias, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		m.now, m.principal, string(e.Action), e.Model, version, alias, e.Detail)
	if err != nil {
		return fmt.Errorf("write audit entry: %w", err)
	}
	return nil
}

// modelID returns the row id of the named model, or an error wrapping
// registry.ErrNotFound.
func modelID(ctx context.Context, tx *sql.Tx, name string) (int64, error) {
	if err := registry.CheckModelName(name); err != nil {
		return 0, err
	}
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM models WHERE name = ?`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("model %s: %w", name, registry.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("look up model %s: %w", name, err)
	}
	return id, nil
}

func fromMicros(us int64) time.Time {
	return time.UnixMicro(us).UTC()
}
