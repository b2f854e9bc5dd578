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

// CreateVersion numbers and inserts a version, creating its model when needed and
// moving an alias to it when asked, in one transaction.
func (s *Store) CreateVersion(ctx context.Context,
	nv registry.NewVersion) (registry.Version, error) {
	if err := nv.Check(); err != nil {
		return registry.Version{}, err
	}
	v := nv.Version
	if v.Status == "" {
		v.Status = registry.StatusReady
	}
	signature, err := json.Marshal(v.Signature)
	if err != nil {
		return registry.Version{}, fmt.Errorf("encode signature: %w", err)
	}

	var created registry.Version
	err = s.mutate(ctx, func(m *mutation) error {
		id, err := m.lockOrCreateModel(ctx, v.Model, nv.ModelDescription)
		if err != nil {
			return err
		}

		// The model's row is locked, so no other writer can take the same number
		// between this read and the insert.
		row := m.tx.QueryRow(ctx,
			`SELECT COALESCE(MAX(number), 0) + 1 FROM versions WHERE model_id = $1`, id)
		if err := row.Scan(&v.Number); err != nil {
			return fmt.Errorf("number version: %w", err)
		}
		if err := m.insertVersion(ctx, id, v, signature); err != nil {
			return err
		}
		if s.afterInsert != nil {
			if err := s.afterInsert(); err != nil {
				return err
			}
		}

		if p := nv.Promote; p != nil {
			move := registry.AliasMove{Model: v.Model, Alias: p.Alias, Version: v.Number,
				Expect: p.Expect, Reason: p.Reason}
			if _, err := m.moveAlias(ctx, id, move, false); err != nil {
				return err
			}
		}

		created, err = loadVersion(ctx, m.tx, id, v.Model, v.Number)
		return err
	})
	if err != nil {
		return registry.Version{}, fmt.Errorf("create version of %s: %w", v.Model, err)
	}
	return created, nil
}

// lockOrCreateModel returns the id of the named model after locking its row,
// creating the model when absent. Two writers creating the same model meet at the
// insert: the second waits for the first to commit, then locks the row it made.
func (m *mutation) lockOrCreateModel(ctx context.Context, name,
	description string) (int64, error) {
	var id int64
	err := m.tx.QueryRow(ctx, `INSERT INTO models (name, description, created)
		VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING id`,
		name, description, m.now).Scan(&id)
	if err == nil {
		return id, m.audit(ctx, registry.AuditEntry{Action: registry.ActionCreateModel,
			Model: name})
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("create model: %w", err)
	}
	return modelID(ctx, m.tx, name, true)
}

func (m *mutation) insertVersion(ctx context.Context, id int64, v registry.Version,
	signature []byte) error {
	_, err := m.tx.Exec(ctx, `INSERT INTO versions (model_id, number, status,
		status_reason, description, signature, card_markdown, card_document, run_id,
		data_fingerprint, code_version, seed, generator, artifact_sha256, artifact_bytes,
		reference_profile, created)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		id, v.Number, string(v.Status), v.StatusReason, v.Description, string(signature),
		v.Card.Markdown, nullJSON(v.Card.Document), v.Lineage.RunID,
		v.Lineage.DataFingerprint, v.Lineage.CodeVersion, v.Lineage.Seed,
		v.Lineage.Generator, v.Digest, v.Size, nullJSON(v.Reference), m.now)
	if err != nil {
		return fmt.Errorf("insert version %d: %w", v.Number, err)
	}

	for k, val := range v.Tags {
		_, err := m.tx.Exec(ctx, `INSERT INTO version_tags (model_id, number, key, value)
			VALUES ($1, $2, $3, $4)`, id, v.Number, k, val)
		if err != nil {
			return fmt.Errorf("insert tag %s: %w", k, err)
		}
	}
	for name, x := range v.Metrics {
		_, err := m.tx.Exec(ctx, `INSERT INTO version_metrics (model_id, number, name, value)
			VALUES ($1, $2, $3, $4)`, id, v.Number, name, x)
		if err != nil {
			return fmt.Errorf("insert metric %s: %w", name, err)
		}
	}

	return m.audit(ctx, registry.AuditEntry{Action: registry.ActionCreateVersion,
		Model: v.Model, Version: v.Number, Detail: "artifact sha256:" + v.Digest})
}

// SetStatus changes a version's status. A version an alias points at or the traffic
// policy names cannot be marked failed: move the alias or change the policy first.
func (s *Store) SetStatus(ctx context.Context, c registry.StatusChange) (registry.Version, error) {
	if err := c.Check(); err != nil {
		return registry.Version{}, err
	}

	var changed registry.Version
	err := s.mutate(ctx, func(m *mutation) error {
		id, err := modelID(ctx, m.tx, c.Model, true)
		if err != nil {
			return err
		}
		current, err := loadVersion(ctx, m.tx, id, c.Model, c.Version)
		if err != nil {
			return err
		}
		if !registry.CanChange(current.Status, c.Status) {
			return fmt.Errorf("version %d is %s and cannot become %s: %w",
				c.Version, current.Status, c.Status, registry.ErrConflict)
		}
		if c.Status == registry.StatusFailed && len(current.Aliases) > 0 {
			return fmt.Errorf("version %d is aliased as %v: %w",
				c.Version, current.Aliases, registry.ErrConflict)
		}
		if c.Status == registry.StatusFailed {
			named, err := trafficNames(ctx, m.tx, id, c.Model, c.Version)
			if err != nil {
				return err
			}
			if named {
				return fmt.Errorf("version %d is named by the traffic policy: %w",
					c.Version, registry.ErrConflict)
			}
		}

		_, err = m.tx.Exec(ctx, `UPDATE versions SET status = $1, status_reason = $2
			WHERE model_id = $3 AND number = $4`, string(c.Status), c.Reason, id, c.Version)
		if err != nil {
			return fmt.Errorf("update status: %w", err)
		}
		err = m.audit(ctx, registry.AuditEntry{Action: registry.ActionSetStatus,
			Model: c.Model, Version: c.Version,
			Detail: fmt.Sprintf("%s to %s: %s", current.Status, c.Status, c.Reason)})
		if err != nil {
			return err
		}

		changed, err = loadVersion(ctx, m.tx, id, c.Model, c.Version)
		return err
	})
	if err != nil {
		return registry.Version{}, fmt.Errorf("set status of %s version %d: %w",
			c.Model, c.Version, err)
	}
	return changed, nil
}

// Model returns the named model with its latest version number and aliases.
func (s *Store) Model(ctx context.Context, name string) (registry.Model, error) {
	var model registry.Model
	err := s.read(ctx, func(tx pgx.Tx) error {
		id, err := modelID(ctx, tx, name, false)
		if err != nil {
			return err
		}
		models, err := loadModels(ctx, tx, id)
		if err != nil {
			return err
		}
		model = models[0]
		return nil
	})
	if err != nil {
		return registry.Model{}, fmt.Errorf("get model %s: %w", name, err)
	}
	return model, nil
}

// Models returns every model, sorted by name.
func (s *Store) Models(ctx context.Context) ([]registry.Model, error) {
	var models []registry.Model
	err := s.read(ctx, func(tx pgx.Tx) (err error) {
		models, err = loadModels(ctx, tx, 0)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	return models, nil
}

// loadModels loads the model with row id, or every model when id is 0.
func loadModels(ctx context.Context, tx pgx.Tx, id int64) ([]registry.Model, error) {
	models := []registry.Model{} // an empty list, not null, in JSON
	index := make(map[int64]int)
	err := eachRow(ctx, tx, `SELECT m.id, m.name, m.description, m.created,
		(SELECT COALESCE(MAX(number), 0) FROM versions v WHERE v.model_id = m.id)
		FROM models m WHERE $1::bigint = 0 OR m.id = $1 ORDER BY m.name COLLATE "C"`,
		[]any{id}, func(rows pgx.Rows) error {
			var m registry.Model
			var rowID int64
			if err := rows.Scan(&rowID, &m.Name, &m.Description, &m.Created,
				&m.Latest); err != nil {
				return fmt.Errorf("read model: %w", err)
			}
			m.Created = m.Created.UTC()
			index[rowID] = len(models)
			models = append(models, m)
			return nil
		})
	if err != nil {
		return nil, err
	}

	err = eachRow(ctx, tx, `SELECT model_id, name, number FROM aliases
		WHERE $1::bigint = 0 OR model_id = $1`, []any{id}, func(rows pgx.Rows) error {
		var rowID int64
		var alias string
		var number int
		if err := rows.Scan(&rowID, &alias, &number); err != nil {
			return fmt.Errorf("read alias: %w", err)
		}
		i, ok := index[rowID]
		if !ok {
			return nil
		}
		if models[i].Aliases == nil {
			models[i].Aliases = make(map[string]int)
		}
		models[i].Aliases[alias] = number
		return nil
	})
	if err != nil {
		return nil, err
	}
	return models, nil
}

// Version returns one version of a model.
func (s *Store) Version(ctx context.Context, model string, number int) (registry.Version, error) {
	var v registry.Version
	err := s.read(ctx, func(tx pgx.Tx) error {
		id, err := modelID(ctx, tx, model, false)
		if err != nil {
			return err
		}
		v, err = loadVersion(ctx, tx, id, model, number)
		return err
	})
	if err != nil {
		return registry.Version{}, fmt.Errorf("get %s version %d: %w", model, number, err)
	}
	return v, nil
}

// Versions returns every version of a model, oldest first.
func (s *Store) Versions(ctx context.Context, model string) ([]registry.Version, error) {
	var versions []registry.Version
	err := s.read(ctx, func(tx pgx.Tx) error {
		id, err := modelID(ctx, tx, model, false)
		if err != nil {
			return err
		}
		versions, err = loadVersions(ctx, tx, id, model, 0)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", model, err)
	}
	return versions, nil
}

// loadVersion loads one version, or fails with an error wrapping ErrNotFound.
func loadVersion(ctx context.Context, tx pgx.Tx, id int64, model string,
	number int) (registry.Version, error) {
	if number < 1 {
		return registry.Version{}, fmt.Errorf("version %d: %w: numbered from 1",
			number, registry.ErrInvalid)
	}
	versions, err := loadVersions(ctx, tx, id, model, number)
	if err != nil {
		return registry.Version{}, err
	}
	if len(versions) == 0 {
		return registry.Version{}, fmt.Errorf("version %d: %w", number, registry.ErrNotFound)
	}
	return versions[0], nil
}

// loadVersions loads version number of the model with row id, or all of its
// versions when number is 0, with their tags, metrics and aliases.
func loadVersions(ctx context.Context, tx pgx.Tx, id int64, model string,
	number int) ([]registry.Version, error) {
	versions := []registry.Version{} // an empty list, not null, in JSON
	index := make(map[int]int)
	err := eachRow(ctx, tx, `SELECT number, status, status_reason, description,
		signature, card_markdown, card_document, run_id, data_fingerprint, code_version,
		seed, generator, artifact_sha256, artifact_bytes, reference_profile, created
		FROM versions WHERE model_id = $1 AND ($2::integer = 0 OR number = $2)
		ORDER BY number`,
		[]any{id, number}, func(rows pgx.Rows) error {
			v, err := scanVersion(rows)
			if err != nil {
				return err
			}
			v.Model = model
			index[v.Number] = len(versions)
			versions = append(versions, v)
			return nil
		})
	if err != nil {
		return nil, err
	}
	if len(versions) == 0 {
		return versions, nil
	}

	if err := loadDetails(ctx, tx, id, number, versions, index); err != nil {
		return nil, err
	}
	return versions, nil
}

func scanVersion(rows pgx.Rows) (registry.Version, error) {
	var v registry.Version
	var status string
	var signature, document, reference []byte
	var created time.Time
	err := rows.Scan(&v.Number, &status, &v.StatusReason, &v.Description, &signature,
		&v.Card.Markdown, &document, &v.Lineage.RunID, &v.Lineage.DataFingerprint,
		&v.Lineage.CodeVersion, &v.Lineage.Seed, &v.Lineage.Generator, &v.Digest, &v.Size,
		&reference, &created)
	if err != nil {
		return v, fmt.Errorf("read version: %w", err)
	}
	if err := json.Unmarshal(signature, &v.Signature); err != nil {
		return v, fmt.Errorf("decode signature of version %d: %w", v.Number, err)
	}
	v.Status = registry.Status(status)
	if len(document) > 0 {
		v.Card.Document = document
	}
	if len(reference) > 0 {
		v.Reference = reference
	}
	v.Created = created.UTC()
	return v, nil
}

// loadDetails fills the tags, metrics and aliases of versions, which index maps by
// number.
func loadDetails(ctx context.Context, tx pgx.Tx, id int64, number int,
	versions []registry.Version, index map[int]int) error {
	const where = ` WHERE model_id = $1 AND ($2::integer = 0 OR number = $2)`
	args := []any{id, number}
	at := func(n int) *registry.Version {
		if i, ok := index[n]; ok {
			return &versions[i]
		}
		return &registry.Version{} // not among versions: the row is dropped
	}

	err := eachRow(ctx, tx, `SELECT number, key, value FROM version_tags`+where, args,
		func(rows pgx.Rows) error {
			var n int
			var key, value string
			if err := rows.Scan(&n, &key, &value); err != nil {
				return fmt.Errorf("read tag: %w", err)
			}
			v := at(n)
			if v.Tags == nil {
				v.Tags = make(map[string]string)
			}
			v.Tags[key] = value
			return nil
		})
	if err != nil {
		return err
	}

	err = eachRow(ctx, tx, `SELECT number, name, value FROM version_metrics`+where, args,
		func(rows pgx.Rows) error {
			var n int
			var name string
			var value float64
			if err := rows.Scan(&n, &name, &value); err != nil {
				return fmt.Errorf("read metric: %w", err)
			}
			v := at(n)
			if v.Metrics == nil {
				v.Metrics = make(map[string]float64)
			}
			v.Metrics[name] = value
			return nil
		})
	if err != nil {
		return err
	}

	// Byte order, as in the SQLite engine, whatever the database's collation.
	const byName = ` ORDER BY name COLLATE "C"`
	return eachRow(ctx, tx, `SELECT number, name FROM aliases`+where+byName, args,
		func(rows pgx.Rows) error {
			var n int
			var alias string
			if err := rows.Scan(&n, &alias); err != nil {
				return fmt.Errorf("read alias: %w", err)
			}
			v := at(n)
			v.Aliases = append(v.Aliases, alias)
			return nil
		})
}

// nullJSON stores an empty document as NULL. The text is passed as a string, so
// that the json column keeps it exactly as given.
func nullJSON(doc json.RawMessage) *string {
	if len(doc) == 0 {
		return nil
	}
	s := string(doc)
	return &s
}
