package training

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/training/simulate"
)

func TestBuildDatasetsShapes(t *testing.T) {
	_, ds := testDatasets(t)
	cases := []struct {
		d      *Dataset
		family string
		labels int
	}{
		{ds.Sweat, models.SweatRate, 1},
		{ds.Thermal, models.ThermalTrajectory, 3},
		{ds.Anomaly, models.Anomaly, 1},
	}
	for _, c := range cases {
		t.Run(c.family, func(t *testing.T) {
			f, _ := models.FamilyByName(c.family)
			r, k := c.d.X.Dims()
			_, m := c.d.Y.Dims()
			_, b := c.d.Baseline.Dims()
			if r == 0 || k != len(f.Features) || m != c.labels || b != c.labels ||
				len(c.d.Athletes) != r || len(c.d.When) != r {
				t.Errorf("%d rows × %d features, %d labels, %d baselines, %d athletes, "+
					"%d times", r, k, m, b, len(c.d.Athletes), len(c.d.When))
			}
		})
	}
}

// sessionsByID indexes the cohort's sessions.
func sessionsByID(c *simulate.Cohort) map[string]*simulate.Session {
	m := map[string]*simulate.Session{}
	for i := range c.Sessions {
		m[c.Sessions[i].ID] = &c.Sessions[i]
	}
	return m
}

func TestSweatExamples(t *testing.T) {
	c, ds := testDatasets(t)
	sessions := sessionsByID(c)
	seen := map[string]bool{}
	for i, w := range ds.Sweat.When {
		s := sessions[w.Session]
		if w.Minute < sweatFirstMinute || (w.Minute-sweatFirstMinute)%sweatEvery != 0 {
			t.Fatalf("row %d at minute %d", i, w.Minute)
		}
		if got := ds.Sweat.Y.At(i, 0); got != s.MeasuredSweatRate {
			t.Fatalf("row %d label %v, session %s measured %v", i, got, s.ID,
				s.MeasuredSweatRate)
		}
		if ds.Sweat.Athletes[i] != s.AthleteID {
			t.Fatalf("row %d of athlete %s from session %s", i, ds.Sweat.Athletes[i], s.ID)
		}
		seen[s.ID] = true
	}
	// Every session lasts at least 30 minutes, so each gives sweat examples.
	if len(seen) != len(c.Sessions) {
		t.Errorf("sweat examples from %d of %d sessions", len(seen), len(c.Sessions))
	}
}

func TestThermalLabelsLookAhead(t *testing.T) {
	c, ds := testDatasets(t)
	sessions := sessionsByID(c)

	// The pill's readings, read straight from the cohort, are the reference.
	type key struct {
		athlete string
		ms      int64
	}
	core := map[key]float64{}
	for r, err := range c.Readings(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := r.Get(features.CoreTemp); ok {
			core[key{r.AthleteID, r.Time.UnixMilli()}] = v
		}
	}

	labelled := make([]int, len(thermalHorizons))
	for i, w := range ds.Thermal.When {
		s := sessions[w.Session]
		asOf := s.Start.Add(time.Duration(w.Minute) * time.Minute)
		for h, lead := range thermalHorizons {
			got := ds.Thermal.Y.At(i, h)
			at := asOf.Add(lead)
			if !at.Before(s.End) {
				if !math.IsNaN(got) {
					t.Fatalf("row %d horizon %v: label %v past the session's end", i, lead,
						got)
				}
				continue
			}
			if want := core[key{s.AthleteID, at.UnixMilli()}]; got != want {
				t.Fatalf("row %d horizon %v: label %v, pill read %v", i, lead, got, want)
			}
			labelled[h]++
		}
	}
	if slices.Contains(labelled, 0) {
		t.Errorf("labelled rows per horizon %v: one has none", labelled)
	}
}

func TestAnomalyLabels(t *testing.T) {
	c, ds := testDatasets(t)
	sessions := sessionsByID(c)
	positives := 0
	for i, w := range ds.Anomaly.When {
		s := sessions[w.Session]
		asOf := s.Start.Add(time.Duration(w.Minute) * time.Minute)
		want, onlyHidable := 0.0, true
		for _, f := range c.Faults {
			// A fault's readings lie in [Start, End]; it counts while any of them is
			// within the five minutes up to asOf.
			if f.SessionID == s.ID && !f.Start.After(asOf) &&
				asOf.Sub(f.End) < 5*time.Minute {
				want = 1
				onlyHidable = onlyHidable && f.Kind == simulate.FlatLine &&
					f.Signal == features.SkinTemp
			}
		}
		got := ds.Anomaly.Y.At(i, 0)
		// A skin flat line may be left unlabelled when the whole-degree replay hides
		// it (see visibleFaults); every other fault must be labelled.
		if got != want && (got == 1 || !onlyHidable) {
			t.Fatalf("session %s minute %d: label %v, want %v", s.ID, w.Minute, got, want)
		}
		positives += int(got)
	}
	if positives == 0 || positives == ds.Anomaly.Rows() {
		t.Errorf("%d positive rows of %d", positives, ds.Anomaly.Rows())
	}
}

func TestBuildDatasetsIndependentOfWorkers(t *testing.T) {
	_, c := testCohort(t)
	one, err := BuildDatasets(context.Background(), c, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, many := testDatasets(t)
	for _, pair := range [][2]*Dataset{{one.Sweat, many.Sweat},
		{one.Thermal, many.Thermal}, {one.Anomaly, many.Anomaly}} {
		a, b := pair[0], pair[1]
		if !sameFloats(a.X.RawMatrix().Data, b.X.RawMatrix().Data) ||
			!sameFloats(a.Y.RawMatrix().Data, b.Y.RawMatrix().Data) ||
			!slices.Equal(a.Athletes, b.Athletes) {
			t.Errorf("%s: datasets differ between 1 and several workers", a.Family.Name)
		}
	}
}

// sameFloats compares bit for bit, NaN equal to NaN.
func sameFloats(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool {
		return math.Float64bits(x) == math.Float64bits(y)
	})
}

func TestDatasetSubset(t *testing.T) {
	_, ds := testDatasets(t)
	d := ds.Sweat
	keep := map[string]bool{d.Athletes[0]: true}
	sub := d.Subset(keep)
	if sub.Rows() == 0 {
		t.Fatal("no rows kept")
	}
	for i, a := range sub.Athletes {
		if !keep[a] {
			t.Fatalf("row %d of athlete %s", i, a)
		}
	}
	if got := sub.X.RawRowView(0); !sameFloats(got, d.X.RawRowView(0)) {
		t.Errorf("first kept row %v, want %v", got, d.X.RawRowView(0))
	}
}
