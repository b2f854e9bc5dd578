package wal

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/hydrocast/hydrocast/features"
)

// recovery is what recovering a directory found.
type recovery struct {
	store    *features.Store
	next     uint64 // the segment the writer starts
	replayed int    // records applied from the log
	skipped  bool   // damage was skipped (Options.SkipCorrupt)
	deleted  bool   // a deletion was replayed: its erasure did not finish
}

// recoverDir rebuilds the store of dir: the newest readable snapshot, then the log
// after it.
func recoverDir(dir string, o *Options, logger *slog.Logger) (*recovery, error) {
	if err := removeTemps(dir); err != nil {
		return nil, err
	}
	segs, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	snaps, err := listSnapshots(dir)
	if err != nil {
		return nil, err
	}

	rec := &recovery{}
	from := rec.loadSnapshot(dir, snaps, segs, o, logger)
	if from.segment == 0 {
		if len(segs) > 0 && segs[0] != 1 {
			return nil, &CorruptError{Segment: segmentName(segs[0]), Reason: "the log starts " +
				"after segment 1 and no readable snapshot covers what came before"}
		}
		from = position{segment: 1, offset: segmentHeaderSize}
	}

	first, _ := slices.BinarySearch(segs, from.segment)
	rec.next = from.segment
	for k, index := range segs[first:] {
		if index != from.segment+uint64(k) {
			return nil, &CorruptError{Segment: segmentName(from.segment + uint64(k)),
				Reason: "segment missing"}
		}
		off := int64(segmentHeaderSize)
		if index == from.segment {
			off = from.offset
		}
		last := first+k == len(segs)-1
		kept, err := rec.replaySegment(dir, index, off, last, o, logger)
		if err != nil {
			return nil, err
		}
		if kept {
			rec.next = index + 1
		}
	}

	// A crash while a snapshot cleaned up may have left segments it covers.
	if err := removeSegmentsBefore(dir, from.segment); err != nil {
		return nil, err
	}
	return rec, nil
}

// loadSnapshot restores the newest snapshot that reads whole and whose segment is
// still there, and returns its position; the zero position when there is none.
func (rec *recovery) loadSnapshot(dir string, snaps []position, segs []uint64, o *Options,
	logger *slog.Logger) position {
	for _, p := range snaps {
		name := snapshotName(p)
		if _, found := slices.BinarySearch(segs, p.segment); !found {
			logger.Warn("wal snapshot without its segment", "snapshot", name)
			continue
		}
		store := features.NewStore(o.Store)
		if err := readSnapshot(filepath.Join(dir, name), p, store); err != nil {
			logger.Warn("wal snapshot unreadable", "snapshot", name, "err", err)
			continue
		}
		rec.store = store
		return p
	}
	rec.store = features.NewStore(o.Store)
	return position{}
}

// replaySegment applies the records of segment index from offset off. It reports
// whether the segment stays: the last segment is removed when its header is torn.
func (rec *recovery) replaySegment(dir string, index uint64, off int64, last bool,
	o *Options, logger *slog.Logger) (bool, error) {
	name := segmentName(index)
	path := filepath.Join(dir, name)
	data, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("read segment: %w", err)
	}
	if err := checkSegmentHeader(data, index); err != nil {
		if last && tornHeader(data) {
			logger.Warn("wal torn segment header removed", "segment", name)
			return false, removeFile(dir, path)
		}
		return false, &CorruptError{Segment: name, Reason: err.Error()}
	}
	if off < segmentHeaderSize || off > int64(len(data)) {
		return false, &CorruptError{Segment: name, Offset: off,
			Reason: "snapshot position outside the segment"}
	}

	for {
		_, dmg := scanFrames(data, off, func(_ int64, r *Record) {
			applyRecord(rec.store, r)
			rec.replayed++
			rec.deleted = rec.deleted || r.Kind == KindDelete
		})
		switch {
		case dmg == nil:
			return true, nil
		case last && dmg.resume < 0:
			logger.Warn("wal torn tail truncated", "segment", name, "offset", dmg.offset,
				"bytes", int64(len(data))-dmg.offset, "reason", dmg.reason)
			return true, truncateFile(path, dmg.offset)
		case !o.SkipCorrupt:
			return false, &CorruptError{Segment: name, Offset: dmg.offset, Reason: dmg.reason}
		}

		resume := dmg.resume
		if resume < 0 {
			resume = int64(len(data))
		}
		logger.Warn("wal corrupt records skipped", "segment", name, "offset", dmg.offset,
			"bytes", resume-dmg.offset, "reason", dmg.reason)
		rec.skipped = true
		off = resume
	}
}

// tornHeader reports whether a segment's header is what a crash while creating it
// leaves: short, or zeros.
func tornHeader(data []byte) bool {
	return len(data) < segmentHeaderSize ||
		bytes.Equal(data[:segmentHeaderSize], make([]byte, segmentHeaderSize))
}

// applyRecord applies a record to the store as the live store did.
func applyRecord(store *features.Store, r *Record) {
	ctx := context.Background()
	switch r.Kind {
	case KindReading:
		store.Ingest(ctx, r.Reading)
	case KindDelete:
		store.Delete(ctx, r.AthleteID)
	}
}

// truncateFile cuts the file at path to size bytes, durably.
func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("truncate segment: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("truncate segment: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync truncated segment: %w", err)
	}
	return nil
}

func removeFile(dir, path string) error {
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove segment: %w", err)
	}
	return syncDir(dir)
}
