package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/redis/go-redis/v9"

	"github.com/hydrocast/hydrocast/features"
)

// Vector fills dst with the athlete's features as of asOf (see
// features.OnlineStore): one GET, then the window's own computation. On any error
// dst is left with every feature missing.
func (s *Store) Vector(ctx context.Context, athleteID string, asOf time.Time,
	dst *features.Vector) error {
	raw, err := s.rdb.Get(ctx, s.windowKey(athleteID)).Bytes()
	if err := s.vectorOf(athleteID, raw, err, asOf, dst); err != nil {
		return fmt.Errorf("vector of athlete: %w", err)
	}
	return nil
}

// vectorOf computes a vector from a window key's value, or fails for a GET that
// failed or found nothing.
func (s *Store) vectorOf(athleteID string, raw []byte, getErr error, asOf time.Time,
	dst *features.Vector) error {
	switch {
	case errors.Is(getErr, redis.Nil):
		dst.Reset(athleteID, asOf)
		return features.ErrUnknownAthlete
	case getErr != nil:
		dst.Reset(athleteID, asOf)
		return getErr
	}

	w := s.windows.Get().(*features.AthleteWindow)
	defer s.windows.Put(w)
	if err := decodeValue(raw, w); err != nil {
		dst.Reset(athleteID, asOf)
		return err
	}
	w.Vector(asOf, dst)
	return nil
}

// Vectors returns the athletes' features as an Arrow record (see
// features.OnlineStore), reading all windows in one pipelined round trip.
func (s *Store) Vectors(ctx context.Context, athleteIDs []string,
	asOf time.Time) (arrow.Record, error) {
	pipe := s.rdb.Pipeline()
	gets := make([]*redis.StringCmd, len(athleteIDs))
	for i, id := range athleteIDs {
		gets[i] = pipe.Get(ctx, s.windowKey(id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("build vectors: %w", err)
	}

	rb := features.NewRecordBuilder(s.opts.Allocator)
	defer rb.Release()
	v := features.NewVector()
	for i, id := range athleteIDs {
		raw, err := gets[i].Bytes()
		err = s.vectorOf(id, raw, err, asOf, v)
		if err != nil && !errors.Is(err, features.ErrUnknownAthlete) {
			return nil, fmt.Errorf("build vectors: %w", err)
		}
		if err := rb.Append(v); err != nil {
			return nil, fmt.Errorf("build vectors: %w", err)
		}
	}
	return rb.NewRecord(), nil
}

// Newest returns the event time of the athlete's newest reading (see
// features.OnlineStore).
func (s *Store) Newest(ctx context.Context, athleteID string) (time.Time, error) {
	raw, err := s.rdb.Get(ctx, s.windowKey(athleteID)).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return time.Time{}, fmt.Errorf("newest reading of athlete: %w",
			features.ErrUnknownAthlete)
	case err != nil:
		return time.Time{}, fmt.Errorf("newest reading of athlete: %w", err)
	}

	w := s.windows.Get().(*features.AthleteWindow)
	defer s.windows.Put(w)
	if err := decodeValue(raw, w); err != nil {
		return time.Time{}, fmt.Errorf("newest reading of athlete: %w", err)
	}
	if w.Len() == 0 {
		return time.Time{}, fmt.Errorf("newest reading of athlete: %w",
			features.ErrUnknownAthlete)
	}
	return w.Newest(), nil
}

// Athletes returns the ids of the athletes held, sorted. It scans the keyspace.
func (s *Store) Athletes(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.scanWindows(ctx, func(keys []string) error {
		for _, k := range keys {
			ids = append(ids, s.athleteOf(k))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list athletes: %w", err)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// Counts returns the outcomes of all readings offered to the store. It scans the
// keyspace and reads every window.
func (s *Store) Counts(ctx context.Context) (features.Counts, error) {
	c, err := s.windowCounts(ctx)
	if err != nil {
		return c, fmt.Errorf("count readings: %w", err)
	}

	pipe := s.rdb.Pipeline()
	deleted := pipe.HGetAll(ctx, s.deletedKey)
	rejected := pipe.Get(ctx, s.rejectedKey)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return c, fmt.Errorf("count readings: %w", err)
	}
	for field, v := range deleted.Val() {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return c, fmt.Errorf("count deleted readings: %w", err)
		}
		addCount(&c, field, n)
	}
	if v := rejected.Val(); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return c, fmt.Errorf("count rejected readings: %w", err)
		}
		c.Rejected += n
	}
	return c, nil
}

// windowCounts sums the counts of every window.
func (s *Store) windowCounts(ctx context.Context) (features.Counts, error) {
	var c features.Counts
	w := s.windows.Get().(*features.AthleteWindow)
	defer s.windows.Put(w)
	seen := make(map[string]bool)
	err := s.scanWindows(ctx, func(keys []string) error {
		pipe := s.rdb.Pipeline()
		gets := make([]*redis.StringCmd, 0, len(keys))
		for _, k := range keys {
			if !seen[k] {
				seen[k] = true
				gets = append(gets, pipe.Get(ctx, k))
			}
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		for _, g := range gets {
			raw, err := g.Bytes()
			if errors.Is(err, redis.Nil) {
				continue // expired or deleted since the scan
			}
			if err != nil {
				return err
			}
			if err := decodeValue(raw, w); err != nil {
				return err
			}
			c.Merge(w.Counts())
		}
		return nil
	})
	return c, err
}

func addCount(c *features.Counts, field string, n uint64) {
	switch field {
	case "applied":
		c.Applied += n
	case "duplicate":
		c.Duplicate += n
	case "replaced":
		c.Replaced += n
	case "late":
		c.Late += n
	case "full":
		c.Full += n
	case "rejected":
		c.Rejected += n
	}
}

// scanWindows calls fn with batches of the store's window keys, on every master
// of a cluster. A key may come twice; fn copes.
func (s *Store) scanWindows(ctx context.Context, fn func(keys []string) error) error {
	match := escapeGlob(s.opts.Prefix) + "{*}:w"
	scan := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, match, 1000).Result()
			if err != nil {
				return err
			}
			if len(keys) > 0 {
				if err := fn(keys); err != nil {
					return err
				}
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return scan(ctx, c)
		})
	}
	return scan(ctx, s.rdb)
}

// athleteOf returns the athlete of a window key.
func (s *Store) athleteOf(key string) string {
	return key[len(s.opts.Prefix)+1 : len(key)-len("}:w")]
}

// escapeGlob escapes the characters special to Redis's MATCH patterns.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
