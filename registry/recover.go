package registry

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultStaleAfter is how old a pending version or a temporary artifact file must
// be before Recover takes it for the remains of a crashed upload: far longer than an
// upload's trial may run, so that a live upload in another process is left alone.
const DefaultStaleAfter = time.Hour

// TempCleaner is an ArtifactStore that can remove the temporary files of writes that
// never finished, as registry/blobstore's local folders can.
type TempCleaner interface {
	// CleanTemp removes temporary files last written before cutoff and returns how
	// many it removed.
	CleanTemp(cutoff time.Time) (int, error)
}

// Recovery reports what Recover cleaned up.
type Recovery struct {
	// Failed lists the pending versions marked failed, as "model@number".
	Failed []string `json:"failed,omitempty"`

	// TempFiles counts the temporary artifact files removed.
	TempFiles int `json:"temp_files"`
}

// Recover cleans up after uploads that a crash interrupted: pending versions created
// more than staleAfter ago are marked failed, and temporary artifact files older
// than that are removed when the artifact store can do so. Zero staleAfter means
// DefaultStaleAfter. The context's principal is recorded for the status changes;
// without one, "registry-recover" is.
func (r *Registry) Recover(ctx context.Context, staleAfter time.Duration) (Recovery, error) {
	if staleAfter == 0 {
		staleAfter = DefaultStaleAfter
	}
	if staleAfter < 0 {
		return Recovery{}, fmt.Errorf("recover: %w", invalid("negative age %s", staleAfter))
	}
	if _, err := PrincipalFrom(ctx); err != nil {
		ctx = WithPrincipal(ctx, "registry-recover")
	}
	cutoff := time.Now().Add(-staleAfter)

	var rec Recovery
	var errs []error
	if c, ok := r.artifacts.(TempCleaner); ok {
		n, err := c.CleanTemp(cutoff)
		rec.TempFiles = n
		errs = append(errs, err)
	}

	models, err := r.store.Models(ctx)
	if err != nil {
		return rec, fmt.Errorf("recover: %w", errors.Join(append(errs, err)...))
	}
	for _, m := range models {
		versions, err := r.store.Versions(ctx, m.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, v := range versions {
			if v.Status != StatusPending || v.Created.After(cutoff) {
				continue
			}
			_, err := r.store.SetStatus(ctx, StatusChange{Model: v.Model, Version: v.Number,
				Status: StatusFailed, Reason: "upload interrupted: pending since " +
					v.Created.Format(time.RFC3339)})
			if err != nil && !errors.Is(err, ErrConflict) { // another process won
				errs = append(errs, err)
				continue
			}
			rec.Failed = append(rec.Failed, fmt.Sprintf("%s@%d", v.Model, v.Number))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return rec, fmt.Errorf("recover: %w", err)
	}
	return rec, nil
}
