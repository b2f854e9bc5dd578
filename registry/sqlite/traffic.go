package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hydrocast/hydrocast/registry"
)

// SetTraffic sets a model's traffic policy after checking that every version it
// names is ready, and records the change.
func (s *Store) SetTraffic(ctx context.Context,
	c registry.TrafficChange) (registry.TrafficEvent, error) {
	if err := c.Check(); err != nil {
		return registry.TrafficEvent{}, err
	}
	p := c.Policy.Normalized()
	var event registry.TrafficEvent
	err := s.mutate(ctx, func(m *mutation) error {
		id, err := modelID(ctx, m.tx, p.Model)
		if err != nil {
			return err
		}
		for _, n := range p.Versions() {
			if err := m.checkReady(ctx, id, n); err != nil {
				return err
			}
		}
		if p.Salt == "" {
			current, err := loadTraffic(ctx, m.tx, id, p.Model)
			switch {
			case err == nil:
				p.Salt = current.Salt
			case errors.Is(err, registry.ErrNotFound):
				p.Salt = registry.NewSalt()
			default:
				return err
			}
		}
		p.Updated, p.Principal, p.Reason = fromMicros(m.now), m.principal, c.Reason

		arms, err := json.Marshal(p.Arms)
		if err != nil {
			return fmt.Errorf("encode arms: %w", err)
		}
		shadow := sql.NullInt64{Int64: int64(p.Shadow), Valid: p.Shadow != 0}
		_, err = m.tx.ExecContext(ctx, `INSERT INTO traffic_policies (model_id, arms, salt,
			shadow, principal, reason, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (model_id) DO UPDATE SET arms = excluded.arms,
			salt = excluded.salt, shadow = excluded.shadow,
			principal = excluded.principal, reason = excluded.reason,
			updated_us = excluded.updated_us`,
			id, string(arms), p.Salt, shadow, m.principal, c.Reason, m.now)
		if err != nil {
			return fmt.Errorf("write traffic policy: %w", err)
		}
		event, err = m.recordTraffic(ctx, id, &p, c.Reason)
		return err
	})
	if err != nil {
		return registry.TrafficEvent{}, fmt.Errorf("set traffic policy of %s: %w",
			c.Policy.Model, err)
	}
	return event, nil
}

// ClearTraffic removes a model's traffic policy and records that.
func (s *Store) ClearTraffic(ctx context.Context,
	model, reason string) (registry.TrafficEvent, error) {
	if err := registry.CheckReason(reason); err != nil {
		return registry.TrafficEvent{}, err
	}
	var event registry.TrafficEvent
	err := s.mutate(ctx, func(m *mutation) error {
		id, err := modelID(ctx, m.tx, model)
		if err != nil {
			return err
		}
		res, err := m.tx.ExecContext(ctx,
			`DELETE FROM traffic_policies WHERE model_id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete traffic policy: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(err, fmt.Errorf("no traffic policy: %w", registry.ErrNotFound))
		}
		event, err = m.recordTraffic(ctx, id, &registry.TrafficPolicy{Model: model}, reason)
		return err
	})
	if err != nil {
		return registry.TrafficEvent{}, fmt.Errorf("clear traffic policy of %s: %w",
			model, err)
	}
	return event, nil
}

// recordTraffic writes the history row and audit entry of a policy change; a policy
// without arms stands for clearing it.
func (m *mutation) recordTraffic(ctx context.Context, id int64, p *registry.TrafficPolicy,
	reason string) (registry.TrafficEvent, error) {
	e := registry.TrafficEvent{Model: p.Model, Principal: m.principal, Reason: reason,
		Time: fromMicros(m.now)}
	var doc sql.NullString
	action, detail := registry.ActionClearTraffic, "cleared: "+reason
	if len(p.Arms) > 0 {
		e.Policy = p
		b, err := json.Marshal(p)
		if err != nil {
			return e, fmt.Errorf("encode traffic policy: %w", err)
		}
		doc = sql.NullString{String: string(b), Valid: true}
		action, detail = registry.ActionSetTraffic, p.Describe()+": "+reason
	}
	res, err := m.tx.ExecContext(ctx, `INSERT INTO traffic_history (model_id, policy,
		principal, reason, changed_us) VALUES (?, ?, ?, ?, ?)`,
		id, doc, m.principal, reason, m.now)
	if err != nil {
		return e, fmt.Errorf("write traffic history: %w", err)
	}
	if e.ID, err = res.LastInsertId(); err != nil {
		return e, fmt.Errorf("write traffic history: %w", err)
	}
	return e, m.audit(ctx, registry.AuditEntry{Action: action, Model: p.Model,
		Detail: detail})
}

// checkReady fails unless version number of the model with row id is ready.
func (m *mutation) checkReady(ctx context.Context, id int64, number int) error {
	var status string
	err := m.tx.QueryRowContext(ctx,
		`SELECT status FROM versions WHERE model_id = ? AND number = ?`, id, number).
		Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("version %d: %w", number, registry.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("read version status: %w", err)
	}
	if registry.Status(status) != registry.StatusReady {
		return fmt.Errorf("version %d is %s, not ready: %w", number, status,
			registry.ErrConflict)
	}
	return nil
}

// Traffic returns a model's traffic policy.
func (s *Store) Traffic(ctx context.Context, model string) (registry.TrafficPolicy, error) {
	var p registry.TrafficPolicy
	err := s.read(ctx, func(tx *sql.Tx) error {
		id, err := modelID(ctx, tx, model)
		if err != nil {
			return err
		}
		p, err = loadTraffic(ctx, tx, id, model)
		return err
	})
	if err != nil {
		return registry.TrafficPolicy{}, fmt.Errorf("traffic policy of %s: %w", model, err)
	}
	return p, nil
}

func loadTraffic(ctx context.Context, tx *sql.Tx, id int64,
	model string) (registry.TrafficPolicy, error) {
	p := registry.TrafficPolicy{Model: model}
	var arms string
	var shadow sql.NullInt64
	var updated int64
	err := tx.QueryRowContext(ctx, `SELECT arms, salt, shadow, principal, reason,
		updated_us FROM traffic_policies WHERE model_id = ?`, id).
		Scan(&arms, &p.Salt, &shadow, &p.Principal, &p.Reason, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("no traffic policy: %w", registry.ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("read traffic policy: %w", err)
	}
	if err := json.Unmarshal([]byte(arms), &p.Arms); err != nil {
		return p, fmt.Errorf("decode traffic arms: %w", err)
	}
	p.Shadow = int(shadow.Int64)
	p.Updated = fromMicros(updated)
	return p, nil
}

// TrafficHistory returns a model's traffic policy changes, newest first.
func (s *Store) TrafficHistory(ctx context.Context,
	model string) ([]registry.TrafficEvent, error) {
	events := []registry.TrafficEvent{} // an empty list, not null, in JSON
	err := s.read(ctx, func(tx *sql.Tx) error {
		id, err := modelID(ctx, tx, model)
		if err != nil {
			return err
		}
		return eachRow(ctx, tx, `SELECT id, policy, principal, reason, changed_us
			FROM traffic_history WHERE model_id = ? ORDER BY id DESC`, []any{id},
			func(rows *sql.Rows) error {
				e := registry.TrafficEvent{Model: model}
				var doc sql.NullString
				var changed int64
				if err := rows.Scan(&e.ID, &doc, &e.Principal, &e.Reason,
					&changed); err != nil {
					return fmt.Errorf("read traffic history: %w", err)
				}
				if doc.Valid {
					e.Policy = &registry.TrafficPolicy{}
					if err := json.Unmarshal([]byte(doc.String), e.Policy); err != nil {
						return fmt.Errorf("decode traffic history %d: %w", e.ID, err)
					}
				}
				e.Time = fromMicros(changed)
				events = append(events, e)
				return nil
			})
	})
	if err != nil {
		return nil, fmt.Errorf("traffic history of %s: %w", model, err)
	}
	return events, nil
}

// trafficNames reports whether the model's traffic policy serves or shadows version.
func trafficNames(ctx context.Context, tx *sql.Tx, id int64, model string,
	version int) (bool, error) {
	p, err := loadTraffic(ctx, tx, id, model)
	if errors.Is(err, registry.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return p.Names(version), nil
}
