package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hydrocast/hydrocast/registry"
)

// MoveAlias points an alias at a ready version and records the move in the alias's
// history and the audit trail.
func (s *Store) MoveAlias(ctx context.Context,
	move registry.AliasMove) (registry.AliasEvent, error) {
	if err := move.Check(); err != nil {
		return registry.AliasEvent{}, err
	}
	var event registry.AliasEvent
	err := s.mutate(ctx, func(m *mutation) error {
		id, err := modelID(ctx, m.tx, move.Model, true)
		if err != nil {
			return err
		}
		event, err = m.moveAlias(ctx, id, move, false)
		return err
	})
	if err != nil {
		return registry.AliasEvent{}, fmt.Errorf("move alias %s of %s to version %d: %w",
			move.Alias, move.Model, move.Version, err)
	}
	return event, nil
}

// Rollback moves an alias back to the version it pointed at before its latest move.
func (s *Store) Rollback(ctx context.Context,
	model, alias, reason string) (registry.AliasEvent, error) {
	if err := registry.CheckAlias(alias); err != nil {
		return registry.AliasEvent{}, err
	}
	var event registry.AliasEvent
	err := s.mutate(ctx, func(m *mutation) error {
		id, err := modelID(ctx, m.tx, model, true)
		if err != nil {
			return err
		}

		var from *int
		var to int
		err = m.tx.QueryRow(ctx, `SELECT from_number, to_number FROM alias_history
			WHERE model_id = $1 AND alias = $2 ORDER BY id DESC LIMIT 1`, id, alias).
			Scan(&from, &to)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("alias %s: %w", alias, registry.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("read alias history: %w", err)
		}
		if from == nil {
			return fmt.Errorf("alias %s has pointed only at version %d: %w",
				alias, to, registry.ErrNoHistory)
		}

		if reason == "" {
			reason = "rollback"
		}
		// Expect guards against history and alias disagreeing, which would mean
		// the alias was changed behind the store's back.
		move := registry.AliasMove{Model: model, Alias: alias, Version: *from,
			Expect: to, Reason: reason}
		if err := move.Check(); err != nil {
			return err
		}
		event, err = m.moveAlias(ctx, id, move, true)
		return err
	})
	if err != nil {
		return registry.AliasEvent{}, fmt.Errorf("roll back alias %s of %s: %w",
			alias, model, err)
	}
	return event, nil
}

// moveAlias points an alias at a version within m's transaction, after checking
// that the version is ready and, when asked, where the alias points now. The
// caller holds the lock on the model's row.
func (m *mutation) moveAlias(ctx context.Context, id int64, move registry.AliasMove,
	rollback bool) (registry.AliasEvent, error) {
	var status string
	err := m.tx.QueryRow(ctx,
		`SELECT status FROM versions WHERE model_id = $1 AND number = $2`, id, move.Version).
		Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return registry.AliasEvent{}, fmt.Errorf("version %d: %w",
			move.Version, registry.ErrNotFound)
	}
	if err != nil {
		return registry.AliasEvent{}, fmt.Errorf("read version status: %w", err)
	}
	if registry.Status(status) != registry.StatusReady {
		return registry.AliasEvent{}, fmt.Errorf("version %d is %s, not ready: %w",
			move.Version, status, registry.ErrConflict)
	}

	var current int
	err = m.tx.QueryRow(ctx,
		`SELECT number FROM aliases WHERE model_id = $1 AND name = $2`, id, move.Alias).
		Scan(&current)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return registry.AliasEvent{}, fmt.Errorf("read alias: %w", err)
	}
	if move.Expect != 0 && current != move.Expect {
		return registry.AliasEvent{}, fmt.Errorf("alias points at version %d, not %d: %w",
			current, move.Expect, registry.ErrConflict)
	}
	event := registry.AliasEvent{Model: move.Model, Alias: move.Alias, From: current,
		To: move.Version, Principal: m.principal, Reason: move.Reason, Rollback: rollback,
		Time: m.now}
	if current == move.Version {
		return event, nil
	}

	if err := m.recordMove(ctx, id, &event); err != nil {
		return registry.AliasEvent{}, err
	}
	return event, nil
}

// recordMove writes the alias's new target, its history row and the audit entry,
// and sets the event's ID.
func (m *mutation) recordMove(ctx context.Context, id int64, e *registry.AliasEvent) error {
	_, err := m.tx.Exec(ctx, `INSERT INTO aliases (model_id, name, number, updated)
		VALUES ($1, $2, $3, $4) ON CONFLICT (model_id, name)
		DO UPDATE SET number = excluded.number, updated = excluded.updated`,
		id, e.Alias, e.To, m.now)
	if err != nil {
		return fmt.Errorf("write alias: %w", err)
	}

	var from *int
	if e.From != 0 {
		from = &e.From
	}
	err = m.tx.QueryRow(ctx, `INSERT INTO alias_history (model_id, alias, from_number,
		to_number, principal, reason, rollback, moved)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		id, e.Alias, from, e.To, m.principal, e.Reason, e.Rollback, m.now).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("write alias history: %w", err)
	}

	action := registry.ActionMoveAlias
	if e.Rollback {
		action = registry.ActionRollbackAlias
	}
	return m.audit(ctx, registry.AuditEntry{Action: action, Model: e.Model, Version: e.To,
		Alias: e.Alias, Detail: fmt.Sprintf("from version %d: %s", e.From, e.Reason)})
}

// Resolve returns the version an alias points at.
func (s *Store) Resolve(ctx context.Context, model, alias string) (registry.Version, error) {
	if err := registry.CheckAlias(alias); err != nil {
		return registry.Version{}, err
	}
	var v registry.Version
	err := s.read(ctx, func(tx pgx.Tx) error {
		id, err := modelID(ctx, tx, model, false)
		if err != nil {
			return err
		}
		var number int
		err = tx.QueryRow(ctx,
			`SELECT number FROM aliases WHERE model_id = $1 AND name = $2`, id, alias).
			Scan(&number)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("alias %s: %w", alias, registry.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("read alias: %w", err)
		}
		v, err = loadVersion(ctx, tx, id, model, number)
		return err
	})
	if err != nil {
		return registry.Version{}, fmt.Errorf("resolve %s@%s: %w", model, alias, err)
	}
	return v, nil
}

// History returns an alias's moves, newest first; an empty alias returns the moves
// of all the model's aliases.
func (s *Store) History(ctx context.Context, model, alias string) ([]registry.AliasEvent, error) {
	if alias != "" {
		if err := registry.CheckAlias(alias); err != nil {
			return nil, err
		}
	}
	events := []registry.AliasEvent{} // an empty list, not null, in JSON
	err := s.read(ctx, func(tx pgx.Tx) error {
		id, err := modelID(ctx, tx, model, false)
		if err != nil {
			return err
		}
		return eachRow(ctx, tx, `SELECT id, alias, from_number, to_number, principal,
			reason, rollback, moved FROM alias_history
			WHERE model_id = $1 AND ($2 = '' OR alias = $2) ORDER BY id DESC`,
			[]any{id, alias}, func(rows pgx.Rows) error {
				e := registry.AliasEvent{Model: model}
				var from *int
				var moved time.Time
				if err := rows.Scan(&e.ID, &e.Alias, &from, &e.To, &e.Principal,
					&e.Reason, &e.Rollback, &moved); err != nil {
					return fmt.Errorf("read alias history: %w", err)
				}
				if from != nil {
					e.From = *from
				}
				e.Time = moved.UTC()
				events = append(events, e)
				return nil
			})
	})
	if err != nil {
		return nil, fmt.Errorf("history of %s alias %q: %w", model, alias, err)
	}
	return events, nil
}
