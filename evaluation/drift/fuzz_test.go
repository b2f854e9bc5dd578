package drift

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"
)

// floatsFrom reads little-endian float64s from fuzz bytes, split in two at cut.
func floatsFrom(data []byte, cut uint8) (a, b []float64) {
	var all []float64
	for len(data) >= 8 {
		all = append(all, math.Float64frombits(binary.LittleEndian.Uint64(data)))
		data = data[8:]
	}
	k := min(int(cut), len(all))
	return all[:k], all[k:]
}

func seedFloats(vs ...float64) []byte {
	out := make([]byte, 0, 8*len(vs))
	for _, v := range vs {
		out = binary.LittleEndian.AppendUint64(out, math.Float64bits(v))
	}
	return out
}

// checkValue fails on a NaN or infinite statistic, or an error other than the
// documented ones.
func checkValue(t *testing.T, name string, v float64, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrNotEnoughData) && !errors.Is(err, ErrMismatch) &&
			!errors.Is(err, ErrInvalid) {
			t.Errorf("%s: undocumented error %v", name, err)
		}
		return
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		t.Errorf("%s = %v", name, v)
	}
}

func addSampleSeeds(f *testing.F) {
	f.Add(seedFloats(1, 2, 3, 4, 2, 3), uint8(3))
	f.Add(seedFloats(math.NaN(), math.Inf(1), 5), uint8(1))
	f.Add(seedFloats(-math.MaxFloat64, math.MaxFloat64, 0, math.SmallestNonzeroFloat64), uint8(2))
	f.Add(seedFloats(7, 7, 7, 7), uint8(2))
	f.Add([]byte{}, uint8(0))
}

func FuzzSampleStatistics(f *testing.F) {
	addSampleSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		a, b := floatsFrom(data, cut)
		ks, err := KS(a, b)
		checkValue(t, "ks D", ks.D, err)
		checkValue(t, "ks p", ks.PValue, err)
		if err == nil && (ks.PValue < 0 || ks.PValue > 1 || ks.D < 0 || ks.D > 1) {
			t.Errorf("KS out of range: %+v", ks)
		}
		w, err := Wasserstein(a, b)
		checkValue(t, "wasserstein", w, err)
		wn, err := WassersteinNormalized(a, b)
		checkValue(t, "normalised wasserstein", wn, err)
		if err == nil && (w < 0 || wn < 0) {
			t.Errorf("negative distance %v %v", w, wn)
		}

		a32 := make([]float32, len(a))
		for i, v := range a {
			a32[i] = float32(v)
		}
		ks32, err := KS(a32, a32)
		checkValue(t, "ks float32", ks32.PValue, err)
	})
}

func FuzzHistogramStatistics(f *testing.F) {
	addSampleSeeds(f)
	f.Add(seedFloats(10, 20, 30, 20, 20, 20), uint8(3))
	f.Add(seedFloats(0, 1, 1, 0), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		a, b := floatsFrom(data, cut)
		psi, err := PSI(a, b)
		checkValue(t, "psi", psi, err)
		js, err := JensenShannon(a, b)
		checkValue(t, "js", js, err)
		if err == nil && (js < 0 || js > 1) {
			t.Errorf("JS %v outside [0, 1]", js)
		}
		chi, err := ChiSquare(a, b)
		checkValue(t, "chi-square", chi.Statistic, err)
		checkValue(t, "chi-square p", chi.PValue, err)
		if err == nil && (chi.PValue < 0 || chi.PValue > 1 || chi.DF < 0) {
			t.Errorf("chi-square out of range: %+v", chi)
		}
	})
}

func FuzzDecodeProfile(f *testing.F) {
	good, err := json.Marshal(testProfile(f, 60, 60))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"format":1,"features":[{"name":"x","kind":"numeric","count":1,` +
		`"edges":[1],"counts":[0,1],"sample":[1],"min":1,"max":1}]}`))
	f.Add([]byte(`{"format":1,"features":[{"name":"c","kind":"categorical","count":2,` +
		`"categories":["a"],"category_counts":[1],"other":1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodeProfile(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("undocumented error %v", err)
			}
			return
		}
		// A profile that decodes must carry a monitor and a report without trouble.
		m, err := NewMonitor(p, MonitorOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Features) == 0 {
			checkReport(t, m.Report(Options{}))
			return
		}
		row := make([]float64, len(p.Features))
		cats := make([]string, len(p.Features))
		for i := range row {
			row[i], cats[i] = float64(i), "a"
		}
		for k := range 40 {
			row[0] = float64(k)
			if err := m.Observe(time.Unix(int64(k)*600, 0), row, cats); err != nil {
				t.Fatal(err)
			}
		}
		checkReport(t, m.Report(Options{MinCount: 1}))
	})
}

func FuzzDecodeSketch(f *testing.F) {
	p := testProfile(f, 60, 60)
	for i := range p.Features {
		s := NewSketch(&p.Features[i], SketchOptions{Reservoir: 4})
		for v := range 10 {
			s.Add(130 + float64(v))
			s.AddCategory("run")
		}
		data, err := json.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeSketch(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("undocumented error %v", err)
			}
			return
		}
		// A decoded sketch must take values and merge with a copy of itself.
		for v := range 20 {
			s.Add(float64(v))
			s.AddCategory("x")
		}
		c := s.clone()
		if err := s.Merge(c); err != nil {
			t.Errorf("merging a copy: %v", err)
		}
		if _, err := json.Marshal(s); err != nil {
			t.Errorf("re-encoding: %v", err)
		}
	})
}

func FuzzRestoreMonitor(f *testing.F) {
	// A small monitor keeps the seed short, which keeps input minimisation quick.
	p := flagProfile(f)
	m, err := NewMonitor(p, MonitorOptions{Sketch: SketchOptions{Reservoir: 3}})
	if err != nil {
		f.Fatal(err)
	}
	for k := range 6 {
		_ = m.Observe(t0.Add(time.Duration(k)*25*time.Minute), []float64{float64(k % 5), 0},
			[]string{"", []string{"a", "b", "z"}[k%3]})
	}
	good, err := json.Marshal(m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := RestoreMonitor(p, data, MonitorOptions{MaxBuckets: 2})
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrMismatch) {
				t.Errorf("undocumented error %v", err)
			}
			return
		}
		checkReport(t, r.Report(Options{MinCount: 1}))
	})
}

// checkReport fails on a report that JSON cannot encode (a NaN or Inf anywhere) or
// that HTML rendering rejects.
func checkReport(t *testing.T, r *Report) {
	t.Helper()
	if _, err := json.Marshal(r); err != nil {
		t.Errorf("report does not encode: %v", err)
	}
	if err := r.WriteHTML(discard{}); err != nil {
		t.Errorf("report does not render: %v", err)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
