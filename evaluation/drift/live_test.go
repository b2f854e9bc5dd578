package drift

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// liveProfile is the reference of a model with inputs "hr" and "temp" and output
// "sweat", N(140, 10²), N(30, 3²) and N(1.2, 0.3²), as a trainer would store it.
func liveProfile(t testing.TB) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	p, err := BuildProfile([]Column{
		{Name: "hr", Values: normals(rng, 5000, 140, 10)},
		{Name: "temp", Values: normals(rng, 5000, 30, 3)},
		{Name: "sweat", Values: normals(rng, 5000, 1.2, 0.3)},
	}, ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// feed sends n rows to l for key k, one a minute from t0: hr shifted by hrShift, the
// columns given in the order temp, sweat, hr to check matching by name.
func feed(l *Live, k Key, ref []byte, n int, hrShift float64, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	names := []string{"temp", "sweat", "hr"}
	for i := range n {
		row := []float64{30 + 3*rng.NormFloat64(), 1.2 + 0.3*rng.NormFloat64(),
			140 + hrShift + 10*rng.NormFloat64()}
		l.Observe(k, ref, names, t0.Add(time.Duration(i)*time.Minute), row)
	}
}

func featureByName(t *testing.T, r *Report, name string) FeatureResult {
	t.Helper()
	for _, f := range r.Features {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("report has no feature %q", name)
	return FeatureResult{}
}

func TestLiveDetectsShiftAndPersists(t *testing.T) {
	dir := t.TempDir()
	ref := liveProfile(t)
	k := Key{Model: "sweat-rate", Version: 3}
	l, err := NewLive(LiveOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	feed(l, k, ref, 3000, 25, 1)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	r := l.Monitor(k).Report(Options{})
	if hr := featureByName(t, r, "hr"); !hr.Drift || r.Features[0].Name != "hr" {
		t.Errorf("hr shifted by 2.5 sd: drift %v, first feature %s", hr.Drift,
			r.Features[0].Name)
	}
	if temp := featureByName(t, r, "temp"); temp.Status != StatusOK || temp.Drift {
		t.Errorf("temp unchanged: status %s drift %v", temp.Status, temp.Drift)
	}

	// A new process resumes from the file and keeps counting.
	l2, err := NewLive(LiveOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	feed(l2, k, ref, 10, 0, 2)
	if got := l2.Monitor(k).Report(Options{}).LiveRows; got != 3010 {
		t.Errorf("after restart the monitor holds %d rows, want 3010", got)
	}
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	p, _ := DecodeProfile(ref)
	saved, err := ReadState(dir, k, p)
	if err != nil {
		t.Fatal(err)
	}
	if got := saved.Report(Options{}).LiveRows; got != 3010 {
		t.Errorf("ReadState: %d rows, want 3010", got)
	}
}

func TestLiveRetire(t *testing.T) {
	dir := t.TempDir()
	ref := liveProfile(t)
	k := Key{Model: "sweat-rate", Version: 1}
	l, err := NewLive(LiveOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	feed(l, k, ref, 50, 0, 1)
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	feed(l, k, ref, 5, 0, 2)
	if err := l.Retire(k); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(l.Collector())
	if fams, _ := reg.Gather(); len(fams) != 0 || l.Monitor(k) != nil {
		t.Errorf("a retired version still has %d metric families or a monitor", len(fams))
	}
	// The rows after the last flush were saved by Retire, and a new row resumes them.
	feed(l, k, ref, 1, 0, 3)
	if got := l.Monitor(k).Report(Options{}).LiveRows; got != 56 {
		t.Errorf("resumed with %d rows, want 56", got)
	}
}

func TestLiveWithoutProfileIsSkipped(t *testing.T) {
	l, err := NewLive(LiveOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range [][]byte{nil, []byte(`{"format":`), []byte(`{"format":99}`)} {
		k := Key{Model: "m", Version: len(ref)}
		feed(l, k, ref, 5, 0, 1)
		if l.Monitor(k) != nil {
			t.Errorf("reference %q: a monitor exists", ref)
		}
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestLiveRestartsAfterDamagedState(t *testing.T) {
	dir := t.TempDir()
	k := Key{Model: "sweat-rate", Version: 1}
	path, err := StatePath(dir, k, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(`{"bucket_width_ns": 1, "total": [}`), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := NewLive(LiveOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	feed(l, k, liveProfile(t), 7, 0, 1)
	if got := l.Monitor(k).Report(Options{}).LiveRows; got != 7 {
		t.Errorf("%d rows, want 7 from a fresh start", got)
	}
	if _, err := os.Stat(path + ".bad"); err != nil {
		t.Errorf("damaged state not kept aside: %v", err)
	}
}

func TestReadStateMergesInstances(t *testing.T) {
	dir := t.TempDir()
	ref := liveProfile(t)
	k := Key{Model: "sweat-rate", Version: 2}
	for i, inst := range []string{"a", "b"} {
		l, err := NewLive(LiveOptions{Dir: dir, Instance: inst})
		if err != nil {
			t.Fatal(err)
		}
		feed(l, k, ref, 100*(i+1), 0, uint64(i))
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := DecodeProfile(ref)
	m, err := ReadState(dir, k, p)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Report(Options{}).LiveRows; got != 300 {
		t.Errorf("merged %d rows, want 300", got)
	}
	if _, err := ReadState(dir, Key{Model: "sweat-rate", Version: 9}, p); !errors.Is(err,
		os.ErrNotExist) {
		t.Errorf("missing version: %v, want os.ErrNotExist", err)
	}
}

func TestStatePathRejectsUnsafeNames(t *testing.T) {
	for _, m := range []string{"", "..", "../x", "a/b", ".hidden", `a\b`} {
		if _, err := StatePath("d", Key{Model: m, Version: 1}, ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("model %q: %v, want ErrInvalid", m, err)
		}
	}
	if _, err := NewLive(LiveOptions{Instance: "../x"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("instance ../x: %v, want ErrInvalid", err)
	}
}

func TestMonitorSinceKeepsRecentBuckets(t *testing.T) {
	l, err := NewLive(LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k := Key{Model: "m", Version: 1}
	feed(l, k, liveProfile(t), 600, 0, 1) // ten hours from t0
	w := l.Monitor(k).Since(t0.Add(7*time.Hour + 30*time.Minute))
	r := w.Report(Options{})
	if r.LiveRows != 180 || len(r.Timeline) != 3 || !r.From.Equal(t0.Add(7*time.Hour)) {
		t.Errorf("window: %d rows, %d buckets from %v; want 180, 3 from %v", r.LiveRows,
			len(r.Timeline), r.From, t0.Add(7*time.Hour))
	}
	// The window's reservoirs come from the buckets', so KS still runs.
	if hr := featureByName(t, r, "hr"); hr.Status != StatusOK || hr.Test != MethodWasserstein {
		t.Errorf("hr in the window: %s %s (%s)", hr.Test, hr.Status, hr.Reason)
	}
}

func TestLiveCollector(t *testing.T) {
	l, err := NewLive(LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k := Key{Model: "sweat-rate", Version: 4}
	feed(l, k, liveProfile(t), 2000, 25, 1)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(l.Collector())
	if fams, err := reg.Gather(); err != nil || len(fams) != 0 {
		t.Fatalf("before a flush: %d families, err %v; want none", len(fams), err)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.Metric {
			got[f.GetName()+labelText(m)] = m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{
		`hydrocast_feature_drift_detected{feature="hr",model="sweat-rate",` +
			`test="wasserstein_norm",version="4"}`: 1,
		`hydrocast_feature_drift_detected{feature="temp",model="sweat-rate",` +
			`test="wasserstein_norm",version="4"}`: 0,
		`hydrocast_drift_live_rows{model="sweat-rate",version="4"}`: 2000,
	}
	for name, v := range want {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, v)
		}
	}
}

func labelText(m *dto.Metric) string {
	var parts []string
	for _, l := range m.Label {
		parts = append(parts, l.GetName()+`="`+l.GetValue()+`"`)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// FuzzReadState feeds the decoder behind ReadState arbitrary state files: it must
// return a monitor or an error, never panic.
func FuzzReadState(f *testing.F) {
	ref := liveProfile(f)
	p, err := DecodeProfile(ref)
	if err != nil {
		f.Fatal(err)
	}
	l, err := NewLive(LiveOptions{})
	if err != nil {
		f.Fatal(err)
	}
	k := Key{Model: "m", Version: 1}
	feed(l, k, ref, 50, 0, 1)
	seed, err := json.Marshal(l.Monitor(k))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"bucket_width_ns":3600000000000,"total":[],"buckets":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, err := restoreSaved(p, data); err == nil {
			m.Since(t0).Report(Options{})
		}
	})
}

func TestReportSectionsInHTMLAndJSON(t *testing.T) {
	l, err := NewLive(LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k := Key{Model: "m", Version: 1}
	feed(l, k, liveProfile(t), 100, 0, 1)
	r := l.Monitor(k).Report(Options{})
	r.Sections = []Section{{Title: "Realised <accuracy>", Note: "by version",
		Columns: []string{"version", "MAE"}, Rows: [][]string{{"3", "0.412"}}}}
	var html, js strings.Builder
	if err := r.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<h2>Realised &lt;accuracy&gt;</h2>", "<th>MAE</th>",
		"<td>0.412</td>"} {
		if !strings.Contains(html.String(), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if !strings.Contains(js.String(), `"title": "Realised \u003caccuracy\u003e"`) {
		t.Errorf("JSON lacks the section:\n%s", js.String()[:min(400, js.Len())])
	}
}

// BenchmarkLiveObserve measures what the server's assess path pays per model run.
func BenchmarkLiveObserve(b *testing.B) {
	l, err := NewLive(LiveOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ref := liveProfile(b)
	k := Key{Model: "sweat-rate", Version: 1}
	names := []string{"temp", "sweat", "hr"}
	row := []float64{30, 1.2, 140}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		l.Observe(k, ref, names, t0.Add(time.Duration(i)*time.Second), row)
	}
}
