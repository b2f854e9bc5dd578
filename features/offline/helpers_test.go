package offline_test

import (
	"cmp"
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/offline"
)

// t0 is shortly before midnight UTC, so that generated readings span two dates.
var t0 = time.Date(2025, 7, 14, 23, 0, 0, 0, time.UTC)

// makeRows returns n readings per athlete, one every step from t0, with heart rate
// and skin temperature; every third lacks skin temperature, every fifth is late.
// Ingest times trail event times by a second.
func makeRows(athletes []string, n int, step time.Duration) []offline.Row {
	var rows []offline.Row
	for a, id := range athletes {
		for i := range n {
			at := t0.Add(time.Duration(i) * step)
			r := offline.Row{Reading: features.NewReading(id, "watch", at),
				IngestTime: at.Add(time.Second), Late: i%5 == 4}
			r.Set(features.HeartRate, float64(100+a+i%60))
			if i%3 != 0 {
				r.Set(features.SkinTemp, 30+float64(i%7)/10)
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// openStore opens a store in a fresh temporary folder.
func openStore(t testing.TB, opts *offline.Options) *offline.Store {
	t.Helper()
	s, err := offline.Open(t.TempDir(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// appendFlush appends rows and flushes them.
func appendFlush(t testing.TB, s *offline.Store, rows []offline.Row) {
	t.Helper()
	ctx := context.Background()
	if err := s.Append(ctx, rows...); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// collect returns every row q selects.
func collect(t testing.TB, s *offline.Store, q offline.Query) []offline.Row {
	t.Helper()
	var out []offline.Row
	for r, err := range s.Rows(context.Background(), q) {
		if err != nil {
			t.Fatalf("Rows: %v", err)
		}
		out = append(out, r)
	}
	return out
}

// sortRows orders rows by athlete, event time, source, ingest time and heart rate.
func sortRows(rows []offline.Row) {
	slices.SortFunc(rows, func(a, b offline.Row) int {
		return cmp.Or(cmp.Compare(a.AthleteID, b.AthleteID), a.Time.Compare(b.Time),
			cmp.Compare(a.Source, b.Source), a.IngestTime.Compare(b.IngestTime),
			cmp.Compare(a.Values[features.HeartRate], b.Values[features.HeartRate]))
	})
}

// sameRows fails the test at the first difference between got and want, compared
// after sorting both.
func sameRows(t *testing.T, got, want []offline.Row) {
	t.Helper()
	got, want = slices.Clone(got), slices.Clone(want)
	sortRows(got)
	sortRows(want)
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := &got[i], &want[i]
		if g.AthleteID != w.AthleteID || g.Source != w.Source || !g.Time.Equal(w.Time) ||
			!g.IngestTime.Equal(w.IngestTime) || g.Late != w.Late {
			t.Fatalf("row %d: got %s %s %s ingest %s late %t, want %s %s %s ingest %s late %t",
				i, g.AthleteID, g.Source, g.Time, g.IngestTime, g.Late,
				w.AthleteID, w.Source, w.Time, w.IngestTime, w.Late)
		}
		for s := range features.NumSignals {
			gv, wv := g.Values[s], w.Values[s]
			if math.IsNaN(gv) != math.IsNaN(wv) || (!math.IsNaN(wv) && gv != wv) {
				t.Fatalf("row %d %s: got %v, want %v", i, s.Name(), gv, wv)
			}
		}
	}
}
