package offline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/hydrocast/hydrocast/features"
)

// WAL is what deleting an athlete needs of a write-ahead log kept beside the online
// store; wal.Durable implements it.
type WAL interface {
	// EraseAthlete leaves no record of the athlete in the log's files. It runs
	// after the online store forgot the athlete, so that what the log rewrites
	// (a snapshot, say) no longer holds them. Erasing an athlete the log does not
	// hold is not an error.
	EraseAthlete(ctx context.Context, athleteID string) error
}

// Holdings are the places that keep an athlete's data; a nil member is skipped.
type Holdings struct {
	Online  features.OnlineStore
	Offline *Store
	WAL     WAL
}

// Delete removes the athlete from every holding: the offline store, the online
// store, then the log, which may rewrite what the online store now holds. It goes
// on past a failing holding and returns the failures joined; deleting again
// completes it.
//
// Readings of the athlete that arrive meanwhile are not held back: stop the
// athlete's ingest before deleting.
func (h Holdings) Delete(ctx context.Context, athleteID string) error {
	var errs []error
	if h.Offline != nil {
		if _, err := h.Offline.DeleteAthlete(ctx, athleteID); err != nil {
			errs = append(errs, fmt.Errorf("delete from offline store: %w", err))
		}
	}
	if h.Online != nil {
		if err := h.Online.Delete(ctx, athleteID); err != nil {
			errs = append(errs, fmt.Errorf("delete from online store: %w", err))
		}
	}
	// A log that is the online store (wal.Durable) erased the athlete in Delete.
	if h.WAL != nil && any(h.WAL) != any(h.Online) {
		if err := h.WAL.EraseAthlete(ctx, athleteID); err != nil {
			errs = append(errs, fmt.Errorf("erase from write-ahead log: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Names of the files Export writes.
const (
	ExportReadingsBase = "readings" // plus "." and the ExportFormat
	ExportFeaturesFile = "features.json"
)

// ExportSummary says what Export wrote.
type ExportSummary struct {
	Readings     int64  // readings written
	ReadingsFile string // path of the readings file; empty without an offline store
	FeaturesFile string // path of the features file; empty without an online store
}

// Export writes what the holdings keep of the athlete into the folder dir, created
// if needed: their readings from the offline store as readings.parquet or
// readings.jsonl, and their current features from the online store as of asOf as
// features.json (every feature with its unit, value and status; an athlete the
// online store does not hold gets every feature missing). Files are written whole
// or not at all.
func (h Holdings) Export(ctx context.Context, athleteID, dir string, format ExportFormat,
	asOf time.Time) (ExportSummary, error) {
	var sum ExportSummary
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return sum, fmt.Errorf("export athlete: %w", err)
	}

	if h.Offline != nil {
		path := filepath.Join(dir, ExportReadingsBase+"."+string(format))
		err := writeFileAtomic(path, func(f *os.File) error {
			n, err := h.Offline.ExportAthlete(ctx, athleteID, f, format)
			sum.Readings = n
			return err
		})
		if err != nil {
			return sum, err
		}
		sum.ReadingsFile = path
	}

	if h.Online != nil {
		v := features.NewVector()
		err := h.Online.Vector(ctx, athleteID, asOf, v)
		if err != nil && !errors.Is(err, features.ErrUnknownAthlete) {
			return sum, fmt.Errorf("export features: %w", err)
		}
		path := filepath.Join(dir, ExportFeaturesFile)
		err = writeFileAtomic(path, func(f *os.File) error {
			enc := json.NewEncoder(f)
			enc.SetIndent("", "  ")
			return enc.Encode(newFeatureExport(v))
		})
		if err != nil {
			return sum, err
		}
		sum.FeaturesFile = path
	}
	return sum, nil
}

// featureExport is the JSON form of an athlete's current features.
type featureExport struct {
	AthleteID       string         `json:"athlete_id"`
	SchemaVersion   int            `json:"schema_version"`
	AsOf            time.Time      `json:"as_of"`
	FreshestReading *time.Time     `json:"freshest_reading"`
	Features        []featureEntry `json:"features"`
}

type featureEntry struct {
	Name   string   `json:"name"`
	Unit   string   `json:"unit"`
	Value  *float64 `json:"value"` // null when missing
	Status string   `json:"status"`
}

func newFeatureExport(v *features.Vector) featureExport {
	sc := features.CurrentSchema()
	out := featureExport{AthleteID: v.AthleteID, SchemaVersion: v.SchemaVersion,
		AsOf: v.AsOf.UTC(), Features: make([]featureEntry, len(v.Values))}
	if !v.FreshestReading.IsZero() {
		t := v.FreshestReading.UTC()
		out.FreshestReading = &t
	}
	for i, x := range v.Values {
		f := featureEntry{Name: sc.Feature(i).Name, Unit: sc.Feature(i).Unit,
			Status: v.Status[i].String()}
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			f.Value = &x
		}
		out.Features[i] = f
	}
	return out
}

// writeFileAtomic writes a file under a temporary name beside path and renames it
// into place once write succeeded and the data is on disk.
func writeFileAtomic(path string, write func(*os.File) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("export %s: %w", filepath.Base(path), err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("export %s: %w", filepath.Base(path), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("export %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("export %s: %w", filepath.Base(path), err)
	}
	return nil
}
