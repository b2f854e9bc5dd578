package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/registrytest"
)

// EnvTestDSN names the variable that points the tests at a PostgreSQL server; its
// default is the server that CI and development machines run locally.
const EnvTestDSN = "HYDROCAST_TEST_POSTGRES"

const defaultTestDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// server returns the DSN of the test server. When the server cannot be reached it
// skips t on a developer's machine and fails it in CI (CI set), where a skip
// would pass the suite without running it.
func server(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv(EnvTestDSN)
	if dsn == "" {
		dsn = defaultTestDSN
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err == nil {
		err = conn.Ping(ctx)
		conn.Close(ctx)
	}
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("PostgreSQL unreachable (set %s): %v", EnvTestDSN, err)
		}
		t.Fatalf("PostgreSQL unreachable in CI (set %s): %v", EnvTestDSN, err)
	}
	return dsn
}

// freshSchema creates an empty schema that t drops when it ends and returns a DSN
// whose connections use it.
func freshSchema(t *testing.T) string {
	t.Helper()
	dsn := server(t)
	suffix := make([]byte, 6)
	rand.Read(suffix)
	schema := "registry_test_" + hex.EncodeToString(suffix)

	admin, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer admin.Close(context.WithoutCancel(t.Context()))
	if _, err := admin.Exec(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("connect to drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("test DSN must be a URL: %v", err)
	}
	query := u.Query()
	query.Set("search_path", schema)
	u.RawQuery = query.Encode()
	return u.String()
}

func TestStore(t *testing.T) {
	registrytest.TestStore(t, func(t *testing.T) registrytest.Opener {
		dsn := freshSchema(t)
		return func(ctx context.Context) (registry.Store, error) {
			return Open(ctx, dsn)
		}
	})
}

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	dsn := freshSchema(t)
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dsn
}

func count(t *testing.T, s *Store, table string) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(t.Context(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestMigrations(t *testing.T) {
	s, dsn := openTemp(t)
	files, err := migrations.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "schema_migrations"); n != len(files) {
		t.Errorf("%d migrations applied, want %d", n, len(files))
	}

	t.Run("concurrent opens apply nothing twice", func(t *testing.T) {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				again, err := Open(t.Context(), dsn)
				if err != nil {
					t.Errorf("reopen: %v", err)
					return
				}
				again.Close()
			})
		}
		wg.Wait()
		if n := count(t, s, "schema_migrations"); n != len(files) {
			t.Errorf("%d migrations recorded after reopening, want %d", n, len(files))
		}
	})

	t.Run("newer schema refused", func(t *testing.T) {
		_, err := s.pool.Exec(t.Context(), `INSERT INTO schema_migrations
			(version, name, applied) VALUES (9999, '9999_future.sql', now())`)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := Open(t.Context(), dsn); err == nil {
			again.Close()
			t.Error("opened a database migrated by a newer build")
		}
	})
}

// TestCreateVersionAtomic fails the transaction right after the version row is
// written and checks that nothing of the publish remains.
func TestCreateVersionAtomic(t *testing.T) {
	s, _ := openTemp(t)
	ctx := registrytest.Context(t)
	if _, err := s.CreateVersion(ctx, registrytest.NewVersion("sweat-rate", 1)); err != nil {
		t.Fatal(err)
	}
	before, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}

	injected := errors.New("disk full")
	s.afterInsert = func() error { return injected }
	tests := []struct{ name, model string }{
		{"existing model", "sweat-rate"},
		{"new model", "core-temp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nv := registrytest.NewVersion(tt.model, 2)
			nv.Promote = &registry.Promotion{Alias: "production"}
			if _, err := s.CreateVersion(ctx, nv); !errors.Is(err, injected) {
				t.Fatalf("error %v, want the injected one", err)
			}
		})
	}
	s.afterInsert = nil

	tables := []struct {
		table string
		want  int
	}{
		{"models", 1}, {"versions", 1}, {"version_tags", 2}, {"version_metrics", 2},
		{"aliases", 0}, {"alias_history", 0}, {"audit", 2},
	}
	for _, tt := range tables {
		if n := count(t, s, tt.table); n != tt.want {
			t.Errorf("%s holds %d rows, want %d", tt.table, n, tt.want)
		}
	}
	if after, err := s.Revision(ctx); err != nil || after != before {
		t.Errorf("revision %d (error %v), want %d", after, err, before)
	}
}

// TestRevisionsInCommitOrder holds one change open while others wait, and checks
// that no reader ever sees a revision whose audit entries are not all visible.
func TestRevisionsInCommitOrder(t *testing.T) {
	s, _ := openTemp(t)
	ctx := registrytest.Context(t)
	release := make(chan struct{})
	inserted := make(chan struct{})
	s.afterInsert = func() error {
		close(inserted)
		<-release
		return nil
	}

	done := make(chan error, 1)
	go func() {
		_, err := s.CreateVersion(ctx, registrytest.NewVersion("sweat-rate", 1))
		done <- err
	}()
	<-inserted
	s.afterInsert = nil

	// While the first change is open, another model's publish must wait for it.
	second := make(chan error, 1)
	go func() {
		_, err := s.CreateVersion(ctx, registrytest.NewVersion("core-temp", 1))
		second <- err
	}()
	select {
	case err := <-second:
		t.Fatalf("second publish finished (error %v) while the first held its revision",
			err)
	case <-time.After(200 * time.Millisecond):
	}
	if rev, err := s.Revision(ctx); err != nil || rev != 0 {
		t.Errorf("revision %d (error %v) while nothing has committed, want 0", rev, err)
	}

	close(release)
	if err := errors.Join(<-done, <-second); err != nil {
		t.Fatalf("publish: %v", err)
	}
	rev, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := s.Audit(ctx, registry.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		if e.Revision != int64(i+1) {
			t.Errorf("audit entry %d has revision %d, want %d", i, e.Revision, i+1)
		}
	}
	if rev != int64(len(entries)) || rev != 4 {
		t.Errorf("revision %d with %d audit entries, want 4 of each", rev, len(entries))
	}
}

func TestOpenRejectsMalformedDSN(t *testing.T) {
	_, err := Open(t.Context(), "postgres://user:secret@host:notaport/db")
	if !errors.Is(err, registry.ErrInvalid) {
		t.Fatalf("error %v, want ErrInvalid", err)
	}
	if err != nil && strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q shows the password", err)
	}
}
