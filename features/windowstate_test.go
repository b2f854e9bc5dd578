package features

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// windowScenarios feed windows states that exercise every part of the encoding.
var windowScenarios = []struct {
	name string
	feed func(w *AthleteWindow)
}{
	{"never started", func(w *AthleteWindow) {}},
	{"one reading", func(w *AthleteWindow) { w.Add(hrReading(t0, 120)) }},
	{"hour of full readings", func(w *AthleteWindow) {
		for i := range 130 {
			w.Add(fullReading(t0.Add(time.Duration(i)*30*time.Second), i))
		}
	}},
	{"disorder duplicates replacements", func(w *AthleteWindow) {
		for i := range 40 {
			at := t0.Add(time.Duration(40-i) * 7 * time.Second)
			w.Add(hrReading(at, float64(100+i)))
			w.Add(hrReading(at, float64(100+i)))
			w.Add(hrReading(at, float64(90+i)))
		}
		w.Add(hrReading(t0.Add(-time.Hour), 80)) // late
	}},
	{"session gap fluid and weigh-in", func(w *AthleteWindow) {
		w.Add(reading("scale", t0, map[Signal]float64{BodyMass: 71.5}))
		for i := range 20 {
			at := t0.Add(time.Duration(i) * time.Minute)
			w.Add(reading("watch", at, map[Signal]float64{HeartRate: 140, FluidIntake: 50}))
		}
		for i := range 10 {
			at := t0.Add(2*time.Hour + time.Duration(i)*20*time.Second)
			w.Add(hrReading(at, 150))
		}
	}},
	{"many sources", func(w *AthleteWindow) {
		for i := range 300 {
			r := hrReading(t0.Add(time.Duration(i)*20*time.Second), 130)
			r.Source = fmt.Sprintf("strap-%d", i)
			w.Add(r)
		}
	}},
}

// continuation are readings offered after a round trip, to both windows.
func continuation() []Reading {
	var rs []Reading
	for i := range 50 {
		at := t0.Add(2*time.Hour + 5*time.Minute + time.Duration(i)*25*time.Second)
		rs = append(rs, fullReading(at, i), hrReading(at.Add(-90*time.Second), 111))
	}
	return rs
}

func TestWindowStateRoundTrip(t *testing.T) {
	for _, sc := range windowScenarios {
		t.Run(sc.name, func(t *testing.T) {
			w := NewAthleteWindow("a1", WindowOptions{Lateness: 3 * time.Minute,
				MaxReadings: 500})
			sc.feed(w)
			state, err := w.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}

			got := NewAthleteWindow("other", DefaultWindowOptions())
			if err := got.UnmarshalBinary(state); err != nil {
				t.Fatalf("UnmarshalBinary: %v", err)
			}
			again, _ := got.MarshalBinary()
			if !bytes.Equal(again, state) {
				t.Fatal("state of the decoded window differs from the original's")
			}
			if got.AthleteID() != "a1" || got.Counts() != w.Counts() || got.Len() != w.Len() {
				t.Errorf("decoded %s %+v %d, want a1 %+v %d", got.AthleteID(), got.Counts(),
					got.Len(), w.Counts(), w.Len())
			}
			assertSameVectors(t, got, w)

			for i, r := range continuation() {
				if a, b := got.Add(r), w.Add(r); a != b {
					t.Fatalf("reading %d after the round trip: %v, original %v", i, a, b)
				}
			}
			assertSameVectors(t, got, w)
		})
	}
}

// assertSameVectors compares the windows' vectors at instants around their newest
// reading.
func assertSameVectors(t *testing.T, got, want *AthleteWindow) {
	t.Helper()
	newest := want.Newest()
	if newest.IsZero() {
		newest = t0
	}
	for _, d := range []time.Duration{-10 * time.Minute, -time.Minute, 0, 45 * time.Second,
		40 * time.Minute} {
		g, w := NewVector(), NewVector()
		got.Vector(newest.Add(d), g)
		want.Vector(newest.Add(d), w)
		assertSameVector(t, g, w)
	}
}

func TestWindowStateReusesColumns(t *testing.T) {
	big := NewAthleteWindow("big", DefaultWindowOptions())
	windowScenarios[2].feed(big)
	small := NewAthleteWindow("small", DefaultWindowOptions())
	windowScenarios[1].feed(small)
	smallState, _ := small.MarshalBinary()

	if err := big.UnmarshalBinary(smallState); err != nil {
		t.Fatal(err)
	}
	if big.AthleteID() != "small" || big.Len() != 1 || big.Counts() != small.Counts() {
		t.Fatalf("decoded over a larger window: %s, %d rows, %+v", big.AthleteID(),
			big.Len(), big.Counts())
	}
	assertSameVectors(t, big, small)
}

func TestWindowStateErrors(t *testing.T) {
	w := NewAthleteWindow("a1", DefaultWindowOptions())
	windowScenarios[4].feed(w)
	good, _ := w.MarshalBinary()

	// Offsets in the encoding of a window whose id is "a1" (one length byte).
	const idEnd = 2 + 1 + 2
	cases := []struct {
		name   string
		mutate func([]byte) []byte
		want   error
	}{
		{"newer version", func(b []byte) []byte { b[0] = 2; return b }, ErrStateVersion},
		{"empty", func(b []byte) []byte { return nil }, ErrStateCorrupt},
		{"trailing byte", func(b []byte) []byte { return append(b, 0) }, ErrStateCorrupt},
		{"lateness over an hour", func(b []byte) []byte {
			return slices.Concat(b[:idEnd], binary.AppendUvarint(nil, 3600001), b[idEnd+3:])
		}, ErrStateCorrupt},
		{"max readings zero", func(b []byte) []byte {
			_, n := binary.Uvarint(b[idEnd:])
			_, m := binary.Uvarint(b[idEnd+n:])
			return slices.Concat(b[:idEnd+n], []byte{0}, b[idEnd+n+m:])
		}, ErrStateCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := c.mutate(slices.Clone(good))
			got := NewAthleteWindow("x", DefaultWindowOptions())
			err := got.UnmarshalBinary(bad)
			if !errors.Is(err, c.want) {
				t.Fatalf("UnmarshalBinary: %v, want %v", err, c.want)
			}
			if got.Len() != 0 || got.AthleteID() != "" {
				t.Errorf("window after a failed decode: %s, %d rows", got.AthleteID(), got.Len())
			}
		})
	}

	t.Run("every truncation", func(t *testing.T) {
		for n := range len(good) {
			err := NewAthleteWindow("x", WindowOptions{}).UnmarshalBinary(good[:n])
			if !errors.Is(err, ErrStateCorrupt) {
				t.Fatalf("first %d of %d bytes: %v, want ErrStateCorrupt", n, len(good), err)
			}
		}
	})
}

func TestWindowStateRejectsBadRows(t *testing.T) {
	cases := []struct {
		name  string
		setup func(w *AthleteWindow)
	}{
		{"rows out of order", func(w *AthleteWindow) {
			w.rows.times[w.rows.phys(0)], w.rows.times[w.rows.phys(1)] =
				w.rows.times[w.rows.phys(1)], w.rows.times[w.rows.phys(0)]
		}},
		{"unknown source", func(w *AthleteWindow) { w.rows.srcs[w.rows.phys(1)] = 7 }},
		{"open minute far behind", func(w *AthleteWindow) {
			w.committed.bin = w.committed.last - 10*minuteMs
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := NewAthleteWindow("a1", WindowOptions{})
			for i := range 5 {
				w.Add(hrReading(t0.Add(time.Duration(i)*time.Minute), 130))
			}
			c.setup(w)
			state, _ := w.MarshalBinary()
			err := NewAthleteWindow("x", WindowOptions{}).UnmarshalBinary(state)
			if !errors.Is(err, ErrStateCorrupt) {
				t.Fatalf("UnmarshalBinary: %v, want ErrStateCorrupt", err)
			}
		})
	}
}

// snapshotStore returns a store holding windows, deleted athletes and quarantine
// entries, some of them overflow.
func snapshotStore(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	opts := DefaultOptions()
	opts.QuarantineCap = 3
	s := NewStore(&opts)
	for a := range 6 {
		id := fmt.Sprintf("athlete-%d", a)
		for i := range 30 + a*10 {
			r := fullReading(t0.Add(time.Duration(i)*30*time.Second), i)
			r.AthleteID = id
			s.Ingest(ctx, r)
		}
		bad := hrReading(t0.Add(time.Duration(a)*time.Second), 999)
		bad.AthleteID = id
		s.Ingest(ctx, bad)
	}
	s.Ingest(ctx, NewReading("", "watch", time.Time{}))
	if err := s.Delete(ctx, "athlete-2"); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreSnapshotRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := snapshotStore(t)
	var snap bytes.Buffer
	if err := s.WriteSnapshot(&snap); err != nil {
		t.Fatal(err)
	}

	got := NewStore(nil)
	got.Ingest(ctx, hrReading(t0, 100)) // replaced by the snapshot
	if err := got.ReadSnapshot(bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatalf("ReadSnapshot: %v", err)
	}
	var again bytes.Buffer
	if err := got.WriteSnapshot(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), snap.Bytes()) {
		t.Fatal("snapshot of the restored store differs from the original's")
	}
	assertSameStores(t, got, s)

	// Both go on alike, window options included.
	for _, r := range continuation() {
		r.AthleteID = "athlete-4"
		a, _ := got.Ingest(ctx, r)
		b, _ := s.Ingest(ctx, r)
		if a != b {
			t.Fatalf("ingest after restore: %v, original %v", a, b)
		}
	}
	assertSameStores(t, got, s)
}

// assertSameStores compares what two stores report: athletes, counts, quarantine
// and every athlete's vector.
func assertSameStores(t *testing.T, got, want *Store) {
	t.Helper()
	ctx := context.Background()
	gi, _ := got.Athletes(ctx)
	wi, _ := want.Athletes(ctx)
	if !slices.Equal(gi, wi) {
		t.Fatalf("athletes %v, want %v", gi, wi)
	}
	if gc, wc := must(got.Counts(ctx)), must(want.Counts(ctx)); gc != wc {
		t.Errorf("counts %+v, want %+v", gc, wc)
	}
	if gq, wq := must(got.Quarantine(ctx)), must(want.Quarantine(ctx)); !slices.Equal(gq, wq) {
		t.Errorf("quarantine %+v, want %+v", gq, wq)
	}
	for _, id := range wi {
		asOf, _ := want.Newest(ctx, id)
		g, w := NewVector(), NewVector()
		got.Vector(ctx, id, asOf, g)
		want.Vector(ctx, id, asOf, w)
		assertSameVector(t, g, w)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestStoreSnapshotErrorsLeaveStore(t *testing.T) {
	ctx := context.Background()
	var snap bytes.Buffer
	if err := snapshotStore(t).WriteSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	good := snap.Bytes()
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"newer version", append([]byte{2}, good[1:]...), ErrStateVersion},
		{"truncated", good[:len(good)-10], ErrStateCorrupt},
		{"header only", good[:3], ErrStateCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := NewStore(nil)
			s.Ingest(ctx, hrReading(t0, 100))
			if err := s.ReadSnapshot(bytes.NewReader(c.data)); !errors.Is(err, c.want) {
				t.Fatalf("ReadSnapshot: %v, want %v", err, c.want)
			}
			if ids, _ := s.Athletes(ctx); !slices.Equal(ids, []string{"a1"}) {
				t.Errorf("athletes %v after a failed read, want [a1]", ids)
			}
		})
	}
}

func FuzzWindowState(f *testing.F) {
	for _, sc := range windowScenarios {
		w := NewAthleteWindow("a1", WindowOptions{Lateness: time.Minute, MaxReadings: 64})
		sc.feed(w)
		state, _ := w.MarshalBinary()
		f.Add(state)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w := NewAthleteWindow("x", DefaultWindowOptions())
		if err := w.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrStateCorrupt) && !errors.Is(err, ErrStateVersion) {
				t.Fatalf("error wraps neither sentinel: %v", err)
			}
			return
		}
		// A decoded window works and encodes to a state that decodes to itself.
		v := NewVector()
		w.Vector(w.Newest().Add(time.Minute), v)
		w.Add(hrReading(w.Newest().Add(time.Second), 120))
		state, _ := w.MarshalBinary()
		again := NewAthleteWindow("y", WindowOptions{})
		if err := again.UnmarshalBinary(state); err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		if state2, _ := again.MarshalBinary(); !bytes.Equal(state, state2) {
			t.Fatal("re-encoded state changes on a second round trip")
		}
	})
}

func FuzzStoreSnapshot(f *testing.F) {
	s := NewStore(nil)
	s.Ingest(context.Background(), hrReading(t0, 120))
	s.Ingest(context.Background(), hrReading(t0, 999))
	var snap bytes.Buffer
	s.WriteSnapshot(&snap)
	f.Add(snap.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewStore(nil)
		if err := s.ReadSnapshot(bytes.NewReader(data)); err != nil {
			return
		}
		if err := s.WriteSnapshot(&bytes.Buffer{}); err != nil {
			t.Fatalf("restored store does not write a snapshot: %v", err)
		}
	})
}
