package features

import (
	"context"
	"errors"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
)

// Errors of the online stores.
var (
	// ErrInvalidReading is returned, together with the *ValidationError, for a
	// reading that failed validation; the reading went to quarantine.
	ErrInvalidReading = errors.New("invalid reading")
	// ErrUnknownAthlete is returned for an athlete the store holds no readings of.
	ErrUnknownAthlete = errors.New("unknown athlete")
	// ErrWindowFull is returned when an athlete's window holds its maximum of
	// readings (see WindowOptions.MaxReadings); the reading was not applied.
	ErrWindowFull = errors.New("athlete window full")
)

// OnlineStore serves the current features of athletes: it ingests readings, keeps
// their per-athlete windows and builds feature vectors on request. The in-memory
// Store implements it; a Redis-backed store shared by several servers will too.
// Implementations are safe for concurrent use.
type OnlineStore interface {
	// Ingest validates a reading and applies it to its athlete's window. A reading
	// that fails validation is quarantined and reported as Rejected with an error
	// wrapping ErrInvalidReading and the *ValidationError.
	Ingest(ctx context.Context, r Reading) (AddResult, error)

	// IngestBatch ingests readings in event-time order (stable, so that of two
	// readings with the same source and time the later in rs wins). Rejected and
	// late readings are counted, not errors; the error is for the store itself.
	IngestBatch(ctx context.Context, rs []Reading) (Counts, error)

	// Vector fills dst with the athlete's features as of asOf. For an athlete it
	// holds nothing of, it marks every feature missing and returns ErrUnknownAthlete.
	Vector(ctx context.Context, athleteID string, asOf time.Time, dst *Vector) error

	// Vectors returns the features of the athletes as of asOf as an Arrow record,
	// one row per id in the order given (layout in NewRecord); an unknown athlete
	// gets a row of missing features. The caller releases the record.
	Vectors(ctx context.Context, athleteIDs []string, asOf time.Time) (arrow.Record, error)

	// Newest returns the event time of the athlete's newest applied reading; it
	// returns ErrUnknownAthlete for an athlete the store holds nothing of.
	Newest(ctx context.Context, athleteID string) (time.Time, error)

	// Athletes returns the ids of the athletes the store holds, sorted.
	Athletes(ctx context.Context) ([]string, error)

	// Delete forgets everything the store holds about an athlete: window, counts and
	// quarantine entries. Deleting an unknown athlete is not an error.
	Delete(ctx context.Context, athleteID string) error

	// Quarantine returns the counts of rejected readings per athlete, source and
	// reason, sorted by athlete, source and field.
	Quarantine(ctx context.Context) ([]QuarantineEntry, error)

	// Counts returns the outcomes of all readings offered to the store.
	Counts(ctx context.Context) (Counts, error)
}

// QuarantineEntry counts the readings rejected for one athlete, source and field.
type QuarantineEntry struct {
	AthleteID string
	Source    string
	Field     string // the ValidationError field, e.g. "heart_rate_bpm"
	Count     uint64

	LastReason string    // the latest rejection's reason
	LastTime   time.Time // the latest rejected reading's event time

	// Overflow marks the entry that gathers, per field, the rejections of athletes
	// and sources beyond the store's quarantine capacity; its AthleteID and Source
	// are empty.
	Overflow bool
}
