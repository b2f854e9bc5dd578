package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/hydrocast/hydrocast/registry"
)

// Audit returns the audit entries that q selects, oldest first.
func (s *Store) Audit(ctx context.Context, q registry.AuditQuery) ([]registry.AuditEntry, error) {
	if q.Limit < 0 || q.After < 0 {
		return nil, fmt.Errorf("read audit: %w: negative limit or revision", registry.ErrInvalid)
	}
	limit := int64(q.Limit)
	if limit == 0 {
		limit = -1 // SQLite's "no limit"
	}

	entries := []registry.AuditEntry{} // an empty list, not null, in JSON
	err := s.read(ctx, func(tx *sql.Tx) error {
		return eachRow(ctx, tx, `SELECT id, at_us, principal, action, model, version,
			alias, detail FROM audit WHERE (? = '' OR model = ?) AND id > ?
			ORDER BY id LIMIT ?`, []any{q.Model, q.Model, q.After, limit},
			func(rows *sql.Rows) error {
				var e registry.AuditEntry
				var at int64
				var action string
				var version sql.NullInt64
				var alias sql.NullString
				if err := rows.Scan(&e.Revision, &at, &e.Principal, &action, &e.Model,
					&version, &alias, &e.Detail); err != nil {
					return fmt.Errorf("read audit entry: %w", err)
				}
				e.Time = fromMicros(at)
				e.Action = registry.Action(action)
				e.Version = int(version.Int64)
				e.Alias = alias.String
				entries = append(entries, e)
				return nil
			})
	})
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	return entries, nil
}

// Revision returns the id of the latest audit entry. Every mutation writes at least
// one entry in its transaction and ids are never reused, so the number grows with
// every committed change.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	var rev int64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM audit`).Scan(&rev)
	if err != nil {
		return 0, fmt.Errorf("read revision: %w", err)
	}
	return rev, nil
}
