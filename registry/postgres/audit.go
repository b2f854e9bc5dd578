package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hydrocast/hydrocast/registry"
)

// Audit returns the audit entries that q selects, oldest first.
func (s *Store) Audit(ctx context.Context, q registry.AuditQuery) ([]registry.AuditEntry, error) {
	if q.Limit < 0 || q.After < 0 {
		return nil, fmt.Errorf("read audit: %w: negative limit or revision", registry.ErrInvalid)
	}
	var limit *int // NULL is PostgreSQL's "no limit"
	if q.Limit > 0 {
		limit = &q.Limit
	}

	entries := []registry.AuditEntry{} // an empty list, not null, in JSON
	err := s.read(ctx, func(tx pgx.Tx) error {
		return eachRow(ctx, tx, `SELECT revision, at, principal, action, model, version,
			alias, detail FROM audit WHERE ($1 = '' OR model = $1) AND revision > $2
			ORDER BY revision LIMIT $3`, []any{q.Model, q.After, limit},
			func(rows pgx.Rows) error {
				var e registry.AuditEntry
				var action string
				var version *int
				var alias *string
				if err := rows.Scan(&e.Revision, &e.Time, &e.Principal, &action, &e.Model,
					&version, &alias, &e.Detail); err != nil {
					return fmt.Errorf("read audit entry: %w", err)
				}
				e.Time = e.Time.UTC()
				e.Action = registry.Action(action)
				if version != nil {
					e.Version = *version
				}
				if alias != nil {
					e.Alias = *alias
				}
				entries = append(entries, e)
				return nil
			})
	})
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	return entries, nil
}

// Revision returns the number of committed changes. Each change raises it in the
// same transaction and holds the row's lock until it commits, so the number is
// visible only once every change it counts is.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	var rev int64
	if err := s.pool.QueryRow(ctx, `SELECT value FROM revision`).Scan(&rev); err != nil {
		return 0, fmt.Errorf("read revision: %w", err)
	}
	return rev, nil
}
