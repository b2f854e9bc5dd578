package training

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"gonum.org/v1/gonum/mat"

	"github.com/hydrocast/hydrocast/models"
)

// syntheticSource generates a sweat training set of rows rows over athletes
// athletes, a batch at a time, the same on every pass: nothing but the batch in
// hand is held, so a pass over it costs memory for one batch only.
type syntheticSource struct {
	rows, athletes, batch int
	seed                  uint64
	passes                int
}

func (s *syntheticSource) Fingerprint() string { return fmt.Sprintf("synthetic-%d", s.seed) }

func (s *syntheticSource) Records(ctx context.Context) iter.Seq2[arrow.Record, error] {
	s.passes++
	return func(yield func(arrow.Record, error) bool) {
		f, _ := models.FamilyByName(models.SweatRate)
		fields := []arrow.Field{
			{Name: ColumnAthlete, Type: arrow.BinaryTypes.String},
			{Name: ColumnAsOf, Type: &arrow.TimestampType{Unit: arrow.Millisecond}},
			{Name: models.OutSweatRate, Type: arrow.PrimitiveTypes.Float64, Nullable: true},
			{Name: LabelSweatBaseline, Type: arrow.PrimitiveTypes.Float64},
		}
		for _, name := range f.Features {
			fields = append(fields, arrow.Field{Name: name,
				Type: arrow.PrimitiveTypes.Float32, Nullable: true})
		}
		sc := arrow.NewSchema(fields, nil)
		ids := make([]string, s.athletes)
		for a := range ids {
			ids[a] = fmt.Sprintf("athlete-%05d", a)
		}
		t0 := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
		for start := 0; start < s.rows; start += s.batch {
			if ctx.Err() != nil {
				yield(nil, ctx.Err())
				return
			}
			rng := rand.New(rand.NewPCG(s.seed, uint64(start)))
			b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
			n := min(s.batch, s.rows-start)
			for i := range n {
				row := start + i
				a := row * s.athletes / s.rows
				b.Field(0).(*array.StringBuilder).Append(ids[a])
				b.Field(1).(*array.TimestampBuilder).Append(
					arrow.Timestamp(t0 + int64(row%600)*30_000))
				var y float64
				for j := range f.Features {
					fb := b.Field(4 + j).(*array.Float32Builder)
					if rng.IntN(50) == 0 {
						fb.AppendNull()
						continue
					}
					x := 10*float64(j) + rng.NormFloat64()*(1+float64(j%4))
					y += float64(j%3) * 0.01 * x
					fb.Append(float32(x))
				}
				// Sweat rates stay inside the range a training set may hold.
				b.Field(2).(*array.Float64Builder).Append(math.Max(0.05, 0.4+y/10+
					0.2*rng.NormFloat64()+0.1*float64(a%7)))
				b.Field(3).(*array.Float64Builder).Append(1)
			}
			rec := b.NewRecord()
			b.Release()
			ok := yield(rec, nil)
			rec.Release()
			if !ok {
				return
			}
		}
	}
}

// streamRidge fits d's family from a training set of d's rows with the passes of
// a streamed run. exact, when set, replaces the sketched imputers by those fitted on
// each fold model's rows, so that only the arithmetic differs from a fit in memory.
func streamRidge(t *testing.T, d *Dataset, labels []string, seed uint64,
	exact bool) (*ridgeStream, *Model) {
	t.Helper()
	rec := trainingSetRecord(t, d, labels)
	defer rec.Release()
	src := &memorySource{[]arrow.Record{rec}}
	folds := athleteFolds(d.Athletes, 5, seed)
	rs, err := newRidgeStream(d.Family, folds, len(labels), DefaultLambdas)
	if err != nil {
		t.Fatal(err)
	}
	sinks := familySinks{sweat: rs}
	if d.Family.Name == models.ThermalTrajectory {
		sinks = familySinks{thermal: rs}
	}
	for pass, end := range []func() error{rs.endMoments, rs.endCrossProducts, nil} {
		rs.pass = pass + 1
		if _, err := readPass(t.Context(), src, sinks, nil); err != nil {
			t.Fatal(err)
		}
		if end != nil {
			if err := end(); err != nil {
				t.Fatal(err)
			}
		}
		if pass == 0 && exact {
			for m := range rs.k + 1 {
				keep := map[string]bool{}
				for a, f := range folds {
					keep[a] = f != m
				}
				rs.imputers[m] = FitImputer(d.Subset(keep).X)
				rs.shift[m] = rs.imputers[m].Means
			}
		}
	}
	m, err := rs.model(0.8)
	if err != nil {
		t.Fatal(err)
	}
	return rs, m
}

// TestStreamedRidgeSolvesAsInMemory checks the streamed fit's arithmetic: given the
// imputers a fit in memory computes, the sums give the same penalty and the same
// coefficients as the rows, and the sketched interval is within a rank or two of
// the sorted residuals'.
func TestStreamedRidgeSolvesAsInMemory(t *testing.T) {
	_, ds := testDatasets(t)
	const seed = 4
	for _, c := range []struct {
		d      *Dataset
		labels []string
		fit    func(*Dataset, FitOptions) (*Model, error)
		loss   func(y, p *mat.Dense) float64
	}{
		{ds.Sweat, []string{models.OutSweatRate}, FitSweat, func(y, p *mat.Dense) float64 {
			return Regress(mat.Col(nil, 0, y), mat.Col(nil, 0, p)).MAE
		}},
		{ds.Thermal, []string{models.OutCoreTemp15m, models.OutCoreTemp30m,
			models.OutCoreTemp60m}, FitThermal, func(y, p *mat.Dense) float64 {
			var sum float64
			for j := range 3 {
				sum += Regress(mat.Col(nil, j, y), mat.Col(nil, j, p)).RMSE
			}
			return sum / 3
		}},
	} {
		name := c.d.Family.Name
		_, got := streamRidge(t, c.d, c.labels, seed, true)
		fitted, err := c.fit(c.d, FitOptions{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		want := rowReference(t, c.d, seed, c.loss)
		if fitted.Lambda != want.Lambda || !mat.EqualApprox(fitted.Linear.Weights,
			got.Linear.Weights, 1e-12) {
			t.Errorf("%s: the in-memory fit differs from the streamed one", name)
		}
		if got.Lambda != want.Lambda {
			t.Errorf("%s: penalty %g streamed, %g in memory", name, got.Lambda, want.Lambda)
		}
		r, outs := want.Linear.Weights.Dims()
		for i := range r {
			for o := range outs {
				g, w := got.Linear.Weights.At(i, o), want.Linear.Weights.At(i, o)
				if math.Abs(g-w) > 1e-6*math.Max(1e-2, math.Abs(w)) {
					t.Errorf("%s: weight %d,%d is %v streamed, %v in memory", name, i, o, g,
						w)
				}
			}
		}
		// The sweat bias holds the interval too; the thermal one only the fit.
		if name == models.ThermalTrajectory {
			for o, b := range want.Linear.Bias {
				if math.Abs(got.Linear.Bias[o]-b) > 1e-6*math.Abs(b) {
					t.Errorf("%s: bias %d is %v streamed, %v in memory", name, o,
						got.Linear.Bias[o], b)
				}
			}
			continue
		}
		if b, wb := got.Linear.Bias[0], want.Linear.Bias[0]; math.Abs(b-wb) > 1e-6 {
			t.Errorf("sweat bias %v streamed, %v in memory", b, wb)
		}
		// The interval: within the sketch's accuracy of the in-memory fit's sorted
		// out-of-fold residuals a rank or two either side of each quantile.
		oof, err := outOfFold(c.d, athleteFolds(c.d.Athletes, 5, seed),
			func(d *Dataset) (*Model, error) { return fitRidgeModel(d, want.Lambda) })
		if err != nil {
			t.Fatal(err)
		}
		res := make([]float64, c.d.Rows())
		for i := range res {
			res[i] = c.d.Y.At(i, 0) - oof.At(i, 0)
		}
		slices.Sort(res)
		for _, q := range []struct{ got, p float64 }{
			{got.Interval.Lower, got.Interval.LowerP},
			{got.Interval.Upper, got.Interval.UpperP},
		} {
			r := int(q.p * float64(len(res)-1))
			lo, hi := res[max(r-2, 0)], res[min(r+3, len(res)-1)]
			slack := 2 * sketchAccuracy * math.Max(math.Abs(lo), math.Abs(hi))
			if q.got < lo-slack || q.got > hi+slack {
				t.Errorf("interval's %v quantile %v, want within [%v, %v]", q.p, q.got, lo,
					hi)
			}
		}
	}
}

// rowReference fits d's ridge family by refitting every fold and penalty from rows,
// with the penalty of lowest loss.
func rowReference(t *testing.T, d *Dataset, seed uint64,
	loss func(y, p *mat.Dense) float64) *Model {
	t.Helper()
	lambda, _, err := pickLambda(d, athleteFolds(d.Athletes, 5, seed), DefaultLambdas, loss)
	if err != nil {
		t.Fatal(err)
	}
	m, err := fitRidgeModel(d, lambda)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestStreamedBounds checks the sketched feature bounds: each lies, within the
// sketch's relative accuracy, between the sorted values a rank or two either side.
func TestStreamedBounds(t *testing.T) {
	_, ds := testDatasets(t)
	d := ds.Sweat
	rs, _ := streamRidge(t, d, []string{models.OutSweatRate}, 4, false)
	full := rs.imputers[rs.k]
	n, k := d.X.Dims()
	want := FitImputer(d.X)
	for j := range k {
		var col []float64
		for i := range n {
			if v := d.X.At(i, j); !math.IsNaN(v) {
				col = append(col, v)
			}
		}
		slices.Sort(col)
		for _, c := range []struct {
			got float64
			p   float64
		}{{full.Lower[j], BoundQuantile}, {full.Upper[j], 1 - BoundQuantile}} {
			r := c.p * float64(len(col)-1)
			lo := col[max(int(r)-2, 0)]
			hi := col[min(int(r)+3, len(col)-1)]
			slack := 2 * sketchAccuracy * math.Max(math.Abs(lo), math.Abs(hi))
			if c.got < lo-slack || c.got > hi+slack {
				t.Errorf("feature %d: %v quantile %v, want within [%v, %v]", j, c.p, c.got,
					lo, hi)
			}
		}
		if full.Means[j] != want.Means[j] && math.Abs(full.Means[j]-want.Means[j]) >
			1e-12*math.Abs(want.Means[j]) || full.Missing[j] != want.Missing[j] {
			t.Errorf("feature %d: mean %v missing %d, want %v and %d", j, full.Means[j],
				full.Missing[j], want.Means[j], want.Missing[j])
		}
	}
	if full.Rows != n {
		t.Errorf("imputer rows %d, want %d", full.Rows, n)
	}
}

// TestRunStreamed trains every family through Run on a training set larger than the
// memory bound: the report says what was sampled, two runs give the same bytes, and
// a source that changes between passes is refused.
func TestRunStreamed(t *testing.T) {
	_, ds := testDatasets(t)
	var recs []arrow.Record
	for _, c := range []struct {
		d      *Dataset
		labels []string
	}{
		{ds.Sweat, []string{models.OutSweatRate, LabelSweatBaseline}},
		{ds.Thermal, []string{models.OutCoreTemp15m, models.OutCoreTemp30m,
			models.OutCoreTemp60m}},
		{ds.Anomaly, []string{LabelFault}},
	} {
		r := trainingSetRecord(t, c.d, c.labels)
		defer r.Release()
		recs = append(recs, r)
	}
	total := ds.Sweat.Rows() + ds.Thermal.Rows() + ds.Anomaly.Rows()
	o := DefaultOptions()
	o.Source = &memorySource{recs}
	o.MemoryRows = total / 2
	var passes []string
	rep, err := Run(t.Context(), o, func(p Progress) {
		if p.Rows > 0 && (len(passes) == 0 || passes[len(passes)-1] != p.Step) {
			passes = append(passes, p.Step)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(passes) != 4 {
		t.Errorf("passes %q, want the first and three more", passes)
	}
	for _, fr := range rep.Families {
		s := fr.Sample
		if s == nil || s.SampleTestRows == 0 || s.SampleTestRows > o.MemoryRows/6 ||
			s.SampleTrainRows > o.MemoryRows/6 || fr.Evaluation.Rows != s.SampleTestRows {
			t.Fatalf("%s: sample %+v, evaluation rows %d", fr.Family, s,
				fr.Evaluation.Rows)
		}
		if fr.Family == models.Anomaly {
			if !s.FitOnSample || fr.TrainRows != s.SampleTrainRows {
				t.Errorf("anomaly: sample %+v, train rows %d", s, fr.TrainRows)
			}
		} else if fr.TrainRows != s.TrainRows || s.FitOnSample {
			t.Errorf("%s: sample %+v, train rows %d", fr.Family, s, fr.TrainRows)
		}
		if fr.Export.Rows == 0 {
			t.Errorf("%s: export check %+v", fr.Family, fr.Export)
		}
	}
	if s := rep.Families[0]; !(s.Evaluation.Outputs[0].Model.MAE <
		s.Evaluation.Outputs[0].Baseline.MAE) {
		t.Errorf("streamed sweat model no better than the baseline: %+v",
			s.Evaluation.Outputs[0])
	}

	again, err := Run(t.Context(), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rep.Families {
		if again.Families[i].ONNXSHA256 != rep.Families[i].ONNXSHA256 {
			t.Errorf("%s: a second streamed run gave other bytes", rep.Families[i].Family)
		}
	}

	o.Source = &shrinkingSource{recs: recs}
	if _, err := Run(t.Context(), o, nil); !errors.Is(err, ErrNotRereadable) {
		t.Errorf("source that changes between passes: error %v, want ErrNotRereadable",
			err)
	}
}

// shrinkingSource drops its last record after the first pass.
type shrinkingSource struct {
	recs   []arrow.Record
	passes int
}

func (s *shrinkingSource) Fingerprint() string { return "00" }

func (s *shrinkingSource) Records(ctx context.Context) iter.Seq2[arrow.Record, error] {
	s.passes++
	recs := s.recs
	if s.passes > 1 {
		recs = recs[:len(recs)-1]
	}
	return (&memorySource{recs}).Records(ctx)
}

// TestStreamedMemoryBounded streams sweat training sets of 100,000 and 800,000 rows
// through the passes and compares the peak heap: streamed, it must not grow with the
// rows (held whole, 800,000 rows of 11 features are some 70 MB more).
func TestStreamedMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 900,000 rows four times")
	}
	peak := func(rows int) uint64 {
		src := &syntheticSource{rows: rows, athletes: 400, batch: 8192, seed: 3}
		o := DefaultOptions().withDefaults()
		o.Source, o.MemoryRows = src, 60_000
		o.Families = []string{models.SweatRate}
		runtime.GC()
		// The live heap after a collection, after every batch: what the run holds.
		var top uint64
		sample := func(Progress) {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			top = max(top, ms.HeapAlloc)
		}
		first, err := firstPass(t.Context(), src, o.MemoryRows,
			func(int64) { sample(Progress{}) })
		if err != nil || first.whole {
			t.Fatalf("first pass: whole %v, error %v", first.whole, err)
		}
		var athletes []string
		for a := range first.counts {
			athletes = append(athletes, a)
		}
		train, test := SplitAthletes(athletes, o.TestShare, o.Seed)
		sf, err := streamFit(t.Context(), o, first, splitSets(train, test), sample)
		if err != nil {
			t.Fatal(err)
		}
		if got := sf[models.SweatRate].sample.TrainRows; got == 0 || src.passes != 4 {
			t.Fatalf("%d training rows over %d passes", got, src.passes)
		}
		return top
	}
	small, large := peak(100_000), peak(800_000)
	t.Logf("peak heap: %d MiB at 100,000 rows, %d MiB at 800,000", small>>20, large>>20)
	if large > small+small/4+16<<20 {
		t.Errorf("peak heap grew from %d MiB to %d MiB with the rows", small>>20,
			large>>20)
	}
}

// The row-based cross-validation the streamed and in-memory ridge fits replaced:
// each fold and penalty refits from its rows. The tests keep it as the independent
// reference those fits must agree with.

// fitRidgeModel imputes and fits a ridge regression of every output of d.
func fitRidgeModel(d *Dataset, lambda float64) (*Model, error) {
	im := FitImputer(d.X)
	lin, err := FitRidge(im.Fill(d.X), d.Y, lambda)
	if err != nil {
		return nil, err
	}
	return &Model{Family: d.Family, Imputer: im, Linear: lin, Lambda: lambda}, nil
}

// pickLambda cross-validates a ridge fit for each penalty and returns the one of
// lowest loss with its out-of-fold predictions; ties go to the larger penalty.
func pickLambda(d *Dataset, folds map[string]int, lambdas []float64,
	loss func(y, pred *mat.Dense) float64) (float64, *mat.Dense, error) {
	best, bestLoss := math.NaN(), math.Inf(1)
	var bestOOF *mat.Dense
	for _, lambda := range lambdas {
		oof, err := outOfFold(d, folds, func(t *Dataset) (*Model, error) {
			return fitRidgeModel(t, lambda)
		})
		if err != nil {
			return 0, nil, fmt.Errorf("cross-validate λ=%g: %w", lambda, err)
		}
		if l := loss(d.Y, oof); l <= bestLoss {
			best, bestLoss, bestOOF = lambda, l, oof
		}
	}
	if bestOOF == nil {
		return 0, nil, fmt.Errorf("no penalty gave a finite loss: %w", ErrTooFewRows)
	}
	return best, bestOOF, nil
}

// outOfFold returns, for every row of d, the prediction of a model fitted on the
// other folds' athletes.
func outOfFold(d *Dataset, folds map[string]int, fit func(*Dataset) (*Model, error)) (
	*mat.Dense, error) {
	oof, _, err := crossFit(d, folds, fit, false)
	return oof, err
}

// TestMemoryRowsInFingerprint: the memory bound changes a streamed run's models, so
// it is part of the configuration a run id is made of, for a training set only.
func TestMemoryRowsInFingerprint(t *testing.T) {
	o := DefaultOptions()
	other := o
	other.MemoryRows = 6000
	if o.Fingerprint() != other.Fingerprint() {
		t.Error("a cohort run's fingerprint depends on the memory bound it ignores")
	}
	o.Source, other.Source = &memorySource{}, &memorySource{}
	if o.Fingerprint() == other.Fingerprint() {
		t.Error("two bounds on a training set give one fingerprint")
	}
}

// TestRunSkipsUnlabelledFamilies: without a family list, a training set labelling
// only the sweat rate trains that family alone.
func TestRunSkipsUnlabelledFamilies(t *testing.T) {
	_, ds := testDatasets(t)
	sweat := trainingSetRecord(t, ds.Sweat, []string{models.OutSweatRate,
		LabelSweatBaseline})
	defer sweat.Release()
	o := DefaultOptions()
	o.Source = &memorySource{[]arrow.Record{sweat}}
	rep, err := Run(t.Context(), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Families) != 1 || rep.Families[0].Family != models.SweatRate {
		t.Errorf("trained %d families, want sweat-rate alone", len(rep.Families))
	}
}
