package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
		id, err := modelID(ctx, m.tx, p.Model, true)
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
		p.Updated, p.Principal, p.Reason = m.now, m.principal, c.Reason

		arms, err := json.Marshal(p.Arms)
		if err != nil {
			return fmt.Errorf("encode arms: %w", err)
		}
		var shadow *int
		if p.Shadow != 0 {
			shadow = &p.Shadow
		}
		_, err = m.tx.Exec(ctx, `INSERT INTO traffic_policies (model_id, arms, salt,
			shadow, principal, reason, updated) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (model_id) DO UPDATE SET arms = excluded.arms,
			salt = excluded.salt, shadow = excluded.shadow,
			principal = excluded.principal, reason = excluded.reason,
			updated = excluded.updated`,
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
		id, err := modelID(ctx, m.tx, model, true)
		if err != nil {
			return err
		}
		tag, err := m.tx.Exec(ctx, `DELETE FROM traffic_policies WHERE model_id = $1`, id)
		if err != nil {
			return fmt.Errorf("delete traffic policy: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("no traffic policy: %w", registry.ErrNotFound)
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
		Time: m.now}
	var doc *string
	action, detail := registry.ActionClearTraffic, "cleared: "+reason
	if len(p.Arms) > 0 {
		e.Policy = p
		b, err := json.Marshal(p)
		if err != nil {
			return e, fmt.Errorf("encode traffic policy: %w", err)
		}
		s := string(b)
		doc = &s
		action, detail = registry.ActionSetTraffic, p.Describe()+": "+reason
	}
	err := m.tx.QueryRow(ctx, `INSERT INTO traffic_history (model_id, policy, principal,
		reason, changed) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		id, doc, m.principal, reason, m.now).Scan(&e.ID)
	if err != nil {
		return e, fmt.Errorf("write traffic history: %w", err)
	}
	return e, m.audit(ctx, registry.AuditEntry{Action: action, Model: p.Model,
		Detail: detail})
}

// checkReady fails unless version number of the model with row id is ready.
func (m *mutation) checkReady(ctx context.Context, id int64, number int) error {
	var status string
	err := m.tx.QueryRow(ctx,
		`SELECT status FROM versions WHERE model_id = $1 AND number = $2`, id, number).
		Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
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
	err := s.read(ctx, func(tx pgx.Tx) error {
		id, err := modelID(ctx, tx, model, false)
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

func loadTraffic(ctx context.Context, q querier, id int64,
	model string) (registry.TrafficPolicy, error) {
	p := registry.TrafficPolicy{Model: model}
	var arms []byte
	var shadow *int
	err := q.QueryRow(ctx, `SELECT arms, salt, shadow, principal, reason, updated
		FROM traffic_policies WHERE model_id = $1`, id).
		Scan(&arms, &p.Salt, &shadow, &p.Principal, &p.Reason, &p.Updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, fmt.Errorf("no traffic policy: %w", registry.ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("read traffic policy: %w", err)
	}
	if err := json.Unmarshal(arms, &p.Arms); err != nil {
		return p, fmt.Errorf("decode traffic arms: %w", err)
	}
	if shadow != nil {
		p.Shadow = *shadow
	}
	p.Updated = p.Updated.UTC()
	return p, nil
}

// TrafficHistory returns a model's traffic policy changes, newest first.
func (s *Store) TrafficHistory(ctx context.Context,
	model string) ([]registry.TrafficEvent, error) {
	events := []registry.TrafficEvent{} // an empty list, not null, in JSON
	err := s.read(ctx, func(tx pgx.Tx) error {
		id, err := modelID(ctx, tx, model, false)
		if err != nil {
			return err
		}
		return eachRow(ctx, tx, `SELECT id, policy, principal, reason, changed
			FROM traffic_history WHERE model_id = $1 ORDER BY id DESC`, []any{id},
			func(rows pgx.Rows) error {
				e := registry.TrafficEvent{Model: model}
				var doc []byte
				var changed time.Time
				if err := rows.Scan(&e.ID, &doc, &e.Principal, &e.Reason,
					&changed); err != nil {
					return fmt.Errorf("read traffic history: %w", err)
				}
				if doc != nil {
					e.Policy = &registry.TrafficPolicy{}
					if err := json.Unmarshal(doc, e.Policy); err != nil {
						return fmt.Errorf("decode traffic history %d: %w", e.ID, err)
					}
				}
				e.Time = changed.UTC()
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
func trafficNames(ctx context.Context, q querier, id int64, model string,
	version int) (bool, error) {
	p, err := loadTraffic(ctx, q, id, model)
	if errors.Is(err, registry.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return p.Names(version), nil
}
