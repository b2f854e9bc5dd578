package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/registrytest"
)

func TestStore(t *testing.T) {
	registrytest.TestStore(t, func(t *testing.T) registrytest.Opener {
		path := filepath.Join(t.TempDir(), "registry.db")
		return func(ctx context.Context) (registry.Store, error) {
			return Open(ctx, path)
		}
	})
}

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "registry.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestOpenSettings(t *testing.T) {
	s, _ := openTemp(t)
	tests := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"synchronous", "2"}, // FULL
	}
	for _, tt := range tests {
		t.Run(tt.pragma, func(t *testing.T) {
			var got string
			err := s.db.QueryRowContext(t.Context(), "PRAGMA "+tt.pragma).Scan(&got)
			if err != nil || got != tt.want {
				t.Errorf("PRAGMA %s = %q (error %v), want %q", tt.pragma, got, err, tt.want)
			}
		})
	}
}

func TestMigrations(t *testing.T) {
	s, path := openTemp(t)
	count := func(s *Store) int {
		t.Helper()
		var n int
		err := s.db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM schema_migrations`).
			Scan(&n)
		if err != nil {
			t.Fatalf("count migrations: %v", err)
		}
		return n
	}
	files, err := migrations.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	if n := count(s); n != len(files) {
		t.Errorf("%d migrations applied, want %d", n, len(files))
	}

	t.Run("reopen applies nothing twice", func(t *testing.T) {
		again, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer again.Close()
		if n := count(again); n != len(files) {
			t.Errorf("%d migrations recorded after reopening, want %d", n, len(files))
		}
	})

	t.Run("newer schema refused", func(t *testing.T) {
		_, err := s.db.ExecContext(t.Context(), `INSERT INTO schema_migrations
			(version, name, applied_us) VALUES (9999, '9999_future.sql', 0)`)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := Open(t.Context(), path); err == nil {
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
		var n int
		err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+tt.table).Scan(&n)
		if err != nil || n != tt.want {
			t.Errorf("%s holds %d rows (error %v), want %d", tt.table, n, err, tt.want)
		}
	}
	if after, err := s.Revision(ctx); err != nil || after != before {
		t.Errorf("revision %d (error %v), want %d", after, err, before)
	}
}

func TestOpenRejectsPath(t *testing.T) {
	for _, path := range []string{"", "registry.db?mode=memory"} {
		t.Run(path, func(t *testing.T) {
			if _, err := Open(t.Context(), path); !errors.Is(err, registry.ErrInvalid) {
				t.Errorf("error %v, want ErrInvalid", err)
			}
		})
	}
}
