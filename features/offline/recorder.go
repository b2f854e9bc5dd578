package offline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hydrocast/hydrocast/features"
)

// Recorder is an online store that keeps every reading it is offered in an offline
// store as well: applied, duplicate, replaced, late, over the window's capacity
// and rejected by validation alike, each row marked Late when the online store
// found it too old to apply. So the offline log holds what the online store saw,
// late readings included, and a training set built from it can use them.
//
// A reading is appended once the online store has settled it, and not when the
// online store failed (the caller was not acknowledged and will retry). The
// offline store buffers rows; run its Run to write them out and Close it at the
// end.
type Recorder struct {
	features.OnlineStore
	log      *Store
	lateness time.Duration
}

var _ features.OnlineStore = (*Recorder)(nil)

// NewRecorder returns the online store recording into log. Lateness is the online
// windows' lateness (features.WindowOptions.Lateness), which IngestBatch needs to
// mark late rows; zero means features.DefaultLateness.
func NewRecorder(online features.OnlineStore, log *Store, lateness time.Duration) *Recorder {
	if lateness == 0 {
		lateness = features.DefaultLateness
	}
	return &Recorder{OnlineStore: online, log: log, lateness: max(lateness, 0)}
}

// Ingest applies the reading online, then appends it to the offline log.
func (r *Recorder) Ingest(ctx context.Context, rd features.Reading) (features.AddResult,
	error) {
	res, err := r.OnlineStore.Ingest(ctx, rd)
	if err != nil && !errors.Is(err, features.ErrInvalidReading) &&
		!errors.Is(err, features.ErrWindowFull) {
		return res, err
	}
	row := Row{Reading: rd, Late: res == features.Late}
	if lerr := r.log.Append(ctx, row); lerr != nil {
		return res, errors.Join(err, fmt.Errorf("record reading offline: %w", lerr))
	}
	return res, err
}

// IngestBatch applies the readings online, then appends them to the offline log.
// A row is marked late when its event time is more than the lateness behind the
// newest reading the online store held of its athlete before the batch: the batch
// is applied in event-time order, so nothing in it makes another of its readings
// late. Two batches of one athlete ingested at once may mark a row wrongly; a
// duplicate of a reading older than the lateness is marked late though the online
// store counts it a duplicate.
func (r *Recorder) IngestBatch(ctx context.Context, rs []features.Reading) (features.Counts,
	error) {
	horizon := make(map[string]time.Time)
	for i := range rs {
		id := rs[i].AthleteID
		if _, done := horizon[id]; done {
			continue
		}
		newest, err := r.OnlineStore.Newest(ctx, id)
		if err != nil && !errors.Is(err, features.ErrUnknownAthlete) {
			return features.Counts{}, fmt.Errorf("ingest batch: %w", err)
		}
		if err == nil {
			newest = newest.Add(-r.lateness)
		}
		horizon[id] = newest
	}

	c, err := r.OnlineStore.IngestBatch(ctx, rs)
	if err != nil {
		return c, err
	}
	rows := make([]Row, len(rs))
	for i := range rs {
		h := horizon[rs[i].AthleteID]
		rows[i] = Row{Reading: rs[i], Late: !h.IsZero() && rs[i].Time.Before(h)}
	}
	if err := r.log.Append(ctx, rows...); err != nil {
		return c, fmt.Errorf("record readings offline: %w", err)
	}
	return c, nil
}
