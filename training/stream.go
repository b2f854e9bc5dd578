package training

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"

	"github.com/DataDog/sketches-go/ddsketch"
	"gonum.org/v1/gonum/mat"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/models"
)

// A training set whose labelled rows exceed Options.MemoryRows is streamed: read
// again in passes instead of held whole, so memory does not grow with its length.
//
//  1. The first pass lists the athletes and counts each one's rows per family (and,
//     while the set still fits, keeps it, so a small set is read once).
//  2. The athletes are split and assigned to folds exactly as in memory.
//  3. The ridge families (sweat rate, thermal) are fitted from sufficient statistics:
//     a pass gathers each fold's feature means and a quantile sketch per feature,
//     which give every fold model's imputer; a pass accumulates, per fold model,
//     the cross-products of the imputed features and the labels, from which every
//     penalty's fit is solved at once; a last pass scores every penalty out of fold
//     and sketches the residuals for the sweat interval. The result is the model a
//     fit in memory gives, except that the feature bounds and the interval come from
//     quantile sketches (1e-3 relative accuracy) instead of sorted values.
//  4. What needs rows rather than statistics (the held-out evaluation, the export
//     check, the drift profile, the interval's cross-validated coverage and the
//     anomaly network, whose fit iterates over its rows) uses samples of whole
//     athletes, chosen by a hash of the seed and the athlete, each at most a sixth of
//     MemoryRows rows per family.

// DefaultMemoryRows is the default of Options.MemoryRows.
const DefaultMemoryRows = 1_000_000

// sketchAccuracy is the relative accuracy of the quantile sketches that give a
// streamed fit its feature bounds and sweat interval.
const sketchAccuracy = 1e-3

// streamPasses is the number of passes a streamed run reads after the first.
const streamPasses = 3

// ErrNotRereadable is returned when a source streamed in passes yields another
// number of rows on a later pass than on the first.
var ErrNotRereadable = errors.New("training set changed between passes")

// countingSink counts an athlete's rows of one family and keeps them in a table
// while the whole set still fits in memory.
type countingSink struct {
	fam    int
	counts map[string]*[3]int
	keep   *keeper
	table  *table
}

// keeper drops the in-memory tables once the rows they hold pass a bound.
type keeper struct {
	limit, rows int
	tables      []*countingSink
	drop        func()
}

func (s *countingSink) add(v *features.Vector, labels, baseline []float64, when Timeline) {
	c := s.counts[v.AthleteID]
	if c == nil {
		c = new([3]int)
		s.counts[v.AthleteID] = c
	}
	c[s.fam]++
	if s.table == nil {
		return
	}
	s.keep.rows++
	if s.keep.rows > s.keep.limit {
		for _, t := range s.keep.tables {
			t.table = nil
		}
		s.keep.drop()
		return
	}
	s.table.add(v, labels, baseline, when)
}

// firstPass reads src once, counting every athlete's rows per family, and returns
// the datasets as well when the labelled rows are at most limit.
func firstPass(ctx context.Context, src RecordSource, limit int,
	progress func(int64)) (firstRead, error) {
	tabs, err := newFamilyTables()
	if err != nil {
		return firstRead{}, err
	}
	counts := map[string]*[3]int{}
	keep := &keeper{limit: limit, drop: func() { tabs = nil }}
	var sinks [3]rowSink
	for i, t := range []*table{tabs.sweat, tabs.thermal, tabs.anomaly} {
		s := &countingSink{fam: i, counts: counts, keep: keep, table: t}
		keep.tables = append(keep.tables, s)
		sinks[i] = s
	}
	read := firstRead{counts: counts}
	if read.rows, err = readPass(ctx, src, familySinks{sinks[0], sinks[1], sinks[2]},
		progress); err != nil {
		return firstRead{}, err
	}
	if keep.rows > limit {
		return read, nil
	}
	read.whole = true
	read.datasets, err = tabs.datasets()
	return read, err
}

// firstRead is what the first pass over a training set found: every athlete's rows
// per family, the rows read and, when whole is set, the datasets.
type firstRead struct {
	counts   map[string]*[3]int
	rows     int64
	whole    bool
	datasets Datasets
}

// readPass streams src once through addRecord into sinks, reporting the rows read
// after every batch, and returns the rows read.
func readPass(ctx context.Context, src RecordSource, sinks familySinks,
	progress func(int64)) (int64, error) {
	v := features.NewVector()
	var rows int64
	for rec, err := range src.Records(ctx) {
		if err != nil {
			return rows, fmt.Errorf("read training set: %w", err)
		}
		if err := addRecord(sinks, rec, v); err != nil {
			return rows, err
		}
		rows += rec.NumRows()
		if progress != nil {
			progress(rows)
		}
	}
	return rows, ctx.Err()
}

// athleteHash orders athletes for sampling: the same seed and athlete always give
// the same number, whatever else the data holds.
func athleteHash(seed uint64, athlete string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(seed >> (8 * i))
	}
	h.Write(b[:])
	h.Write([]byte(athlete))
	return h.Sum64()
}

// sampleAthletes returns athletes of ids in hash order, each taken when its rows
// still fit in limit with those taken before, skipped when they would not.
func sampleAthletes(ids []string, rows func(string) int, limit int,
	seed uint64) map[string]bool {
	hash := make(map[string]uint64, len(ids))
	for _, a := range ids {
		hash[a] = athleteHash(seed, a)
	}
	order := slices.Clone(ids)
	slices.SortFunc(order, func(a, b string) int { return cmp.Compare(hash[a], hash[b]) })
	keep := map[string]bool{}
	total := 0
	for _, a := range order {
		n := rows(a)
		if total+n > limit {
			continue
		}
		total += n
		keep[a] = true
	}
	return keep
}

// sampleSink keeps the rows of the sampled training and held-out athletes of one
// family, and passes every row to next when it is set.
type sampleSink struct {
	train, test *table
	inTrain     map[string]bool
	inTest      map[string]bool
	next        rowSink
}

func (s *sampleSink) add(v *features.Vector, labels, baseline []float64, when Timeline) {
	switch {
	case s.inTrain[v.AthleteID]:
		s.train.add(v, labels, baseline, when)
	case s.inTest[v.AthleteID]:
		s.test.add(v, labels, baseline, when)
	}
	if s.next != nil {
		s.next.add(v, labels, baseline, when)
	}
}

// ridgeStream fits a ridge family (sweat rate or thermal) over passes, from
// per-fold statistics. Models 0 to k−1 leave out fold f; model k uses every
// training athlete.
type ridgeStream struct {
	family  models.Family
	idx     []int
	folds   map[string]int
	k, outs int
	pass    int
	x       []float64
	gather  []float32

	// Pass 1: per fold, per feature.
	rows    []int
	sum     [][]float64
	present [][]int
	sketch  [][]*ddsketch.DDSketch

	// After pass 1: each model's imputer, and the shift of its cross-products.
	imputers []Imputer
	shift    [][]float64

	// Pass 2: per model, per label pattern (a bit per labelled output), the sums of
	// u uᵀ for u = (imputed features − shift, 1, labels with 0 for missing).
	grams [][]*mat.SymDense
	u     []float64

	// After pass 2: per model and penalty, the fit.
	lambdas []float64
	fits    [][]*Linear
	oof     [][]oofPredictor

	// Pass 3: per penalty, the out-of-fold errors, and for the sweat family the
	// residuals' sketch.
	absErr  []float64
	sqErr   [][]float64
	labeled [][]int
	resid   []*ddsketch.DDSketch
}

func newRidgeStream(f models.Family, folds map[string]int, outs int,
	lambdas []float64) (*ridgeStream, error) {
	idx, err := features.CurrentSchema().Indices(f.Features)
	if err != nil {
		return nil, fmt.Errorf("family %s: %w", f.Name, err)
	}
	k := 0
	for _, g := range folds {
		k = max(k, g+1)
	}
	d := len(idx)
	s := &ridgeStream{family: f, idx: idx, folds: folds, k: k, outs: outs,
		x: make([]float64, d), gather: make([]float32, d), lambdas: lambdas,
		rows: make([]int, k), sum: make([][]float64, k), present: make([][]int, k),
		sketch: make([][]*ddsketch.DDSketch, k)}
	for g := range k {
		s.sum[g], s.present[g] = make([]float64, d), make([]int, d)
		s.sketch[g] = make([]*ddsketch.DDSketch, d)
		for j := range d {
			if s.sketch[g][j], err = ddsketch.NewDefaultDDSketch(sketchAccuracy); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// add takes one row of the current pass; rows of athletes outside the folds (the
// held-out ones) are ignored.
func (s *ridgeStream) add(v *features.Vector, labels, _ []float64, _ Timeline) {
	g, ok := s.folds[v.AthleteID]
	if !ok {
		return
	}
	features.Gather(v, s.idx, s.gather)
	for j, x := range s.gather {
		s.x[j] = float64(x)
	}
	s.addFold(g, labels)
}

// addRow takes one row of raw features x, held in memory, of the training athlete
// of fold g.
func (s *ridgeStream) addRow(g int, x, labels []float64) {
	copy(s.x, x)
	s.addFold(g, labels)
}

// addFold takes the current row, s.x, of fold g into the current pass.
func (s *ridgeStream) addFold(g int, labels []float64) {
	switch s.pass {
	case 1:
		s.addMoments(g)
	case 2:
		s.addCrossProducts(g, labels)
	case 3:
		s.addOutOfFold(g, labels)
	}
}

func (s *ridgeStream) addMoments(g int) {
	s.rows[g]++
	for j, x := range s.x {
		if math.IsNaN(x) {
			continue
		}
		s.sum[g][j] += x
		s.present[g][j]++
		_ = s.sketch[g][j].Add(x)
	}
}

// endMoments turns the fold statistics into every model's imputer.
func (s *ridgeStream) endMoments() error {
	d := len(s.idx)
	s.imputers = make([]Imputer, s.k+1)
	for m := range s.k + 1 {
		im := Imputer{Means: make([]float64, d), Lower: make([]float64, d),
			Upper: make([]float64, d), Missing: make([]int, d)}
		for j := range d {
			merged, err := ddsketch.NewDefaultDDSketch(sketchAccuracy)
			if err != nil {
				return err
			}
			var sum float64
			present := 0
			for g := range s.k {
				if g == m {
					continue
				}
				if j == 0 {
					im.Rows += s.rows[g]
				}
				sum += s.sum[g][j]
				present += s.present[g][j]
				im.Missing[j] += s.rows[g] - s.present[g][j]
				if err := merged.MergeWith(s.sketch[g][j]); err != nil {
					return err
				}
			}
			if present == 0 {
				continue
			}
			im.Means[j] = sum / float64(present)
			q, err := merged.GetValuesAtQuantiles([]float64{BoundQuantile, 1 - BoundQuantile})
			if err != nil {
				return err
			}
			// The sketch's values are within its relative accuracy of a true order
			// statistic; the mean stays inside the bounds, as it does in memory.
			im.Lower[j], im.Upper[j] = min(q[0], im.Means[j]), max(q[1], im.Means[j])
		}
		s.imputers[m] = im
	}
	s.sketch = nil
	s.setImputers(s.imputers)
	return nil
}

// setImputers sets every model's imputer (models 0 to k−1 leave out fold f, model
// k uses every fold) and readies the sums of the next pass.
func (s *ridgeStream) setImputers(ims []Imputer) {
	d := len(s.idx)
	s.imputers = ims
	s.shift = make([][]float64, len(ims))
	for m, im := range ims {
		s.shift[m] = slices.Clone(im.Means)
	}
	dim := d + 1 + s.outs
	s.grams = make([][]*mat.SymDense, s.k+1)
	for m := range s.grams {
		s.grams[m] = make([]*mat.SymDense, 1<<s.outs)
	}
	s.u = make([]float64, dim)
}

// fill writes model m's imputed, shifted features of the current row into u.
func (s *ridgeStream) fill(m int, u []float64) {
	im := s.imputers[m]
	for j, x := range s.x {
		if math.IsNaN(x) {
			x = im.Means[j]
		}
		u[j] = min(max(x, im.Lower[j]), im.Upper[j]) - s.shift[m][j]
	}
}

func (s *ridgeStream) addCrossProducts(g int, labels []float64) {
	d := len(s.idx)
	pattern := 0
	for o, y := range labels {
		s.u[d+1+o] = 0
		if !math.IsNaN(y) {
			pattern |= 1 << o
			s.u[d+1+o] = y
		}
	}
	if pattern == 0 {
		return
	}
	s.u[d] = 1
	for m := range s.k + 1 {
		if m == g {
			continue
		}
		s.fill(m, s.u)
		gm := s.grams[m][pattern]
		if gm == nil {
			gm = mat.NewSymDense(len(s.u), nil)
			s.grams[m][pattern] = gm
		}
		raw := gm.RawSymmetric()
		for a, ua := range s.u {
			if ua == 0 {
				continue
			}
			row := raw.Data[a*raw.Stride+a : a*raw.Stride+len(s.u)]
			for b, ub := range s.u[a:] {
				row[b] += ua * ub
			}
		}
	}
}

// endCrossProducts solves every model's ridge fit for every penalty.
func (s *ridgeStream) endCrossProducts() error {
	s.fits = make([][]*Linear, s.k+1)
	s.oof = make([][]oofPredictor, s.k+1)
	for m := range s.k + 1 {
		s.fits[m] = make([]*Linear, len(s.lambdas))
		s.oof[m] = make([]oofPredictor, len(s.lambdas))
		for li, lambda := range s.lambdas {
			lin, err := s.solve(m, lambda)
			if err != nil {
				if m < s.k {
					return fmt.Errorf("fold %d, λ=%g: %w", m, lambda, err)
				}
				return fmt.Errorf("λ=%g: %w", lambda, err)
			}
			s.fits[m][li] = lin
			s.oof[m][li] = newOOFPredictor(lin, s.shift[m])
		}
	}
	n := len(s.lambdas)
	s.absErr = make([]float64, n)
	s.sqErr, s.labeled = make([][]float64, n), make([][]int, n)
	s.resid = make([]*ddsketch.DDSketch, n)
	for li := range n {
		s.sqErr[li], s.labeled[li] = make([]float64, s.outs), make([]int, s.outs)
		var err error
		if s.resid[li], err = ddsketch.NewDefaultDDSketch(sketchAccuracy); err != nil {
			return err
		}
	}
	return nil
}

// solve fits model m's ridge regression with the given penalty from its sums, as
// FitRidge does from rows: the inputs standardised on every row, each output
// centred within its labelled rows.
func (s *ridgeStream) solve(m int, lambda float64) (*Linear, error) {
	d := len(s.idx)
	dim := d + 1 + s.outs
	all := mat.NewSymDense(dim, nil)
	for _, gp := range s.grams[m] {
		if gp != nil {
			all.AddSym(all, gp)
		}
	}
	n := all.At(d, d)
	if n < 2 {
		return nil, ErrTooFewRows
	}
	lin := &Linear{Mean: make([]float64, d), Scale: make([]float64, d),
		Weights: mat.NewDense(d, s.outs, nil), Bias: make([]float64, s.outs)}
	meanU := make([]float64, d)
	for j := range d {
		meanU[j] = all.At(d, j) / n
		lin.Mean[j] = meanU[j] + s.shift[m][j]
		lin.Scale[j] = math.Sqrt(max(all.At(j, j)/n-meanU[j]*meanU[j], 0))
		if lin.Scale[j] < 1e-12*math.Max(1, math.Abs(lin.Mean[j])) {
			lin.Scale[j] = 1
		}
	}
	for o := range s.outs {
		lab := mat.NewSymDense(dim, nil)
		for p, gp := range s.grams[m] {
			if gp != nil && p&(1<<o) != 0 {
				lab.AddSym(lab, gp)
			}
		}
		no := lab.At(d, d)
		if no < 2 {
			return nil, fmt.Errorf("%s: %.0f labelled rows (is its label column absent?): %w",
				s.family.Outputs[o].Name, no, ErrTooFewRows)
		}
		yc := d + 1 + o
		yMean := lab.At(d, yc) / no
		ubar := make([]float64, d)
		for j := range d {
			ubar[j] = lab.At(d, j) / no
		}
		gram := mat.NewSymDense(d, nil)
		rhs := mat.NewVecDense(d, nil)
		for a := range d {
			for b := a; b < d; b++ {
				cov := lab.At(a, b)/no - ubar[a]*ubar[b]
				gram.SetSym(a, b, cov/(lin.Scale[a]*lin.Scale[b]))
			}
			gram.SetSym(a, a, gram.At(a, a)+lambda)
			rhs.SetVec(a, (lab.At(a, yc)/no-ubar[a]*yMean)/lin.Scale[a])
		}
		var chol mat.Cholesky
		if !chol.Factorize(gram) {
			return nil, fmt.Errorf("output %d: normal equations are not positive definite",
				o)
		}
		w := mat.NewVecDense(d, nil)
		if err := chol.SolveVecTo(w, rhs); err != nil {
			return nil, fmt.Errorf("output %d: solve normal equations: %w", o, err)
		}
		b := yMean
		for j := range d {
			zMean := (ubar[j] - meanU[j]) / lin.Scale[j]
			b -= w.AtVec(j) * zMean
			lin.Weights.Set(j, o, w.AtVec(j))
		}
		lin.Bias[o] = b
	}
	return lin, nil
}

func (s *ridgeStream) addOutOfFold(g int, labels []float64) {
	s.fill(g, s.u)
	d := len(s.idx)
	for li, p := range s.oof[g] {
		for o, y := range labels {
			if math.IsNaN(y) {
				continue
			}
			e := y - p.predict(o, s.u[:d])
			s.sqErr[li][o] += e * e
			s.labeled[li][o]++
			if s.outs == 1 {
				s.absErr[li] += math.Abs(e)
				_ = s.resid[li].Add(e)
			}
		}
	}
}

// oofPredictor is a fold model's fit folded into one weight per shifted input and
// output: ŷ = alpha + beta · u, for u the imputed inputs less the model's shift.
type oofPredictor struct {
	alpha, beta []float64
}

func newOOFPredictor(lin *Linear, shift []float64) oofPredictor {
	d, outs := lin.Weights.Dims()
	p := oofPredictor{alpha: slices.Clone(lin.Bias), beta: make([]float64, d*outs)}
	for o := range outs {
		for j := range d {
			b := lin.Weights.At(j, o) / lin.Scale[j]
			p.beta[o*d+j] = b
			p.alpha[o] += b * (shift[j] - lin.Mean[j])
		}
	}
	return p
}

// predict returns output o's prediction for the shifted inputs u.
func (p oofPredictor) predict(o int, u []float64) float64 {
	d := len(u)
	pred := p.alpha[o]
	for j, b := range p.beta[o*d : (o+1)*d] {
		pred += b * u[j]
	}
	return pred
}

// model picks the penalty of lowest out-of-fold loss (ties to the larger, as
// pickLambda does) and returns the full model with it: for the sweat family (one
// output) the loss is the MAE and the interval comes from the residuals' sketch; for
// the thermal family the loss is the RMSE averaged over the outputs.
func (s *ridgeStream) model(coverage float64) (*Model, error) {
	best, err := s.best()
	if err != nil {
		return nil, err
	}
	if s.outs > 1 {
		return s.fullModel(best, nil), nil
	}
	lowP := (1 - coverage) / 2
	q, err := s.resid[best].GetValuesAtQuantiles([]float64{lowP, 1 - lowP})
	if err != nil {
		return nil, fmt.Errorf("interval: %w", err)
	}
	return s.fullModel(best, &Interval{Lower: q[0], Upper: q[1], LowerP: lowP,
		UpperP: 1 - lowP}), nil
}

// best returns the index of the penalty of lowest out-of-fold loss (ties to the
// larger, as the grid ascends): the MAE for one output, else the RMSE averaged
// over the outputs.
func (s *ridgeStream) best() (int, error) {
	best, bestLoss := -1, math.Inf(1)
	for li := range s.lambdas {
		var loss float64
		if s.outs == 1 {
			loss = s.absErr[li] / float64(s.labeled[li][0])
		} else {
			for o := range s.outs {
				loss += math.Sqrt(s.sqErr[li][o]/float64(s.labeled[li][o])) / float64(s.outs)
			}
		}
		if loss <= bestLoss {
			best, bestLoss = li, loss
		}
	}
	if best < 0 {
		return 0, fmt.Errorf("no penalty gave a finite loss: %w", ErrTooFewRows)
	}
	return best, nil
}

// fullModel returns the model fitted on every fold with penalty best, with the
// sweat interval iv when it is not nil, its parameters rounded to float32.
func (s *ridgeStream) fullModel(best int, iv *Interval) *Model {
	m := &Model{Family: s.family, Imputer: s.imputers[s.k], Linear: s.fits[s.k][best],
		Lambda: s.lambdas[best]}
	if iv == nil {
		m.Linear = roundParams(m.Linear)
		return m
	}
	m.Interval = iv
	m.Linear = roundParams(withInterval(m.Linear, *iv))
	return m
}

// ridgeFromRows fits d's ridge models for every fold and penalty from sums, as a
// streamed run does, but with each model's imputer fitted on its rows exactly and
// the rows read from memory. It returns after the out-of-fold pass.
func ridgeFromRows(d *Dataset, folds map[string]int, lambdas []float64) (*ridgeStream,
	error) {
	_, outs := d.Y.Dims()
	s, err := newRidgeStream(d.Family, folds, outs, lambdas)
	if err != nil {
		return nil, err
	}
	s.sketch = nil
	ims := make([]Imputer, s.k+1)
	for m := range s.k + 1 {
		keep := make(map[string]bool, len(folds))
		for a, f := range folds {
			keep[a] = f != m
		}
		ims[m] = FitImputer(d.Subset(keep).X)
	}
	s.setImputers(ims)
	for pass, end := range []func() error{s.endCrossProducts, nil} {
		s.pass = pass + 2
		for i, a := range d.Athletes {
			s.addRow(folds[a], d.X.RawRowView(i), d.Y.RawRowView(i))
		}
		if end != nil {
			if err := end(); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// outOfFoldResiduals returns, for every row of d, its label less the prediction of
// the fold model with penalty index li that did not see its athlete (one output).
func (s *ridgeStream) outOfFoldResiduals(d *Dataset, li int) []float64 {
	res := make([]float64, d.Rows())
	u := make([]float64, len(s.u))
	for i, a := range d.Athletes {
		g := s.folds[a]
		copy(s.x, d.X.RawRowView(i))
		s.fill(g, u)
		p := s.oof[g][li]
		res[i] = d.Y.At(i, 0) - p.predict(0, u[:len(s.idx)])
	}
	return res
}

// SampleReport says which rows of a streamed training set a family's evaluation,
// export check and drift profile read, and which rows its fit read.
type SampleReport struct {
	// TrainRows and TestRows are the family's rows of the training and the held-out
	// athletes in the whole set.
	TrainRows int `json:"train_rows"`
	TestRows  int `json:"test_rows"`
	// SampleTrainRows and SampleTestRows are the rows of the sampled athletes.
	SampleTrainRows int `json:"sample_train_rows"`
	SampleTestRows  int `json:"sample_test_rows"`
	// FitOnSample is set when the model itself was fitted on the training sample
	// (the anomaly network), not on every training row.
	FitOnSample bool `json:"fit_on_sample,omitempty"`
}

// streamedFamily is one family of a streamed run: its model (nil until fitted, for
// the anomaly family, from the sample) and its samples.
type streamedFamily struct {
	model       *Model
	ridge       *ridgeStream
	train, test *table
	sample      SampleReport
}

// streamFit reads o.Source in passes and fits the families of o.Families, given
// what the first pass found. progress is told of each pass, with Done counting
// passes from 1.
func streamFit(ctx context.Context, o Options, first firstRead, split athleteSplit,
	progress func(Progress)) (map[string]*streamedFamily, error) {
	counts := first.counts
	fit := o.Fit.withDefaults()
	out := map[string]*streamedFamily{}
	var sinks [3]*sampleSink
	var ridges []*ridgeStream
	for fi, name := range AllFamilies {
		if !slices.Contains(o.Families, name) {
			continue
		}
		var trainIDs, testIDs []string
		sf := &streamedFamily{}
		for a, c := range counts {
			switch {
			case c[fi] == 0:
			case split.train[a]:
				trainIDs = append(trainIDs, a)
				sf.sample.TrainRows += c[fi]
			case split.test[a]:
				testIDs = append(testIDs, a)
				sf.sample.TestRows += c[fi]
			}
		}
		if len(trainIDs) == 0 || len(testIDs) == 0 {
			return nil, fmt.Errorf("family %s: %d training and %d test rows: %w", name,
				sf.sample.TrainRows, sf.sample.TestRows, ErrTooFewRows)
		}
		slices.Sort(trainIDs)
		rows := func(a string) int { return counts[a][fi] }
		limit := o.MemoryRows / 6
		f, _ := models.FamilyByName(name)
		var err error
		if sf.train, err = newTable(f); err != nil {
			return nil, err
		}
		if sf.test, err = newTable(f); err != nil {
			return nil, err
		}
		sinks[fi] = &sampleSink{train: sf.train, test: sf.test,
			inTrain: sampleAthletes(trainIDs, rows, limit, o.Seed),
			inTest:  sampleAthletes(testIDs, rows, limit, o.Seed)}
		// Known now, before any pass: an empty sample would fail the run at its end.
		if len(sinks[fi].inTrain) == 0 || len(sinks[fi].inTest) == 0 {
			return nil, fmt.Errorf("family %s: no training or held-out athlete's rows fit "+
				"in a sample of %d rows (raise the memory bound): %w", name, limit,
				ErrTooFewRows)
		}
		if fi < 2 {
			outs := 1
			if name == models.ThermalTrajectory {
				outs = len(thermalHorizons)
			}
			folds := athleteFolds(trainIDs, fit.Folds, o.Seed)
			if sf.ridge, err = newRidgeStream(f, folds, outs, fit.Lambdas); err != nil {
				return nil, err
			}
			ridges = append(ridges, sf.ridge)
		}
		out[name] = sf
	}

	passes := []struct {
		name string
		end  func(*ridgeStream) error
	}{
		{"pass 1 of 3: feature moments and samples", (*ridgeStream).endMoments},
		{"pass 2 of 3: cross-products", (*ridgeStream).endCrossProducts},
		{"pass 3 of 3: out-of-fold errors", nil},
	}
	for p, pass := range passes {
		if p > 0 && len(ridges) == 0 {
			break // the samples are all an anomaly-only run needs
		}
		fs := familySinks{}
		for fi, dst := range []*rowSink{&fs.sweat, &fs.thermal, &fs.anomaly} {
			sf := out[AllFamilies[fi]]
			switch {
			case sf == nil:
			case p == 0:
				if sf.ridge != nil {
					sinks[fi].next = sf.ridge
				}
				*dst = sinks[fi]
			case sf.ridge != nil:
				*dst = sf.ridge
			}
		}
		for _, r := range ridges {
			r.pass = p + 1
		}
		read, err := readPass(ctx, o.Source, fs, func(rows int64) {
			if progress != nil {
				progress(Progress{Step: pass.name, Done: p, Rows: rows})
			}
		})
		if err != nil {
			return nil, err
		}
		if read != first.rows {
			return nil, fmt.Errorf("%w: %d rows on the first pass, %d on pass %d of %d",
				ErrNotRereadable, first.rows, read, p+2, streamPasses+1)
		}
		for _, r := range ridges {
			if pass.end == nil {
				continue
			}
			if err := pass.end(r); err != nil {
				return nil, fmt.Errorf("family %s: %w", r.family.Name, err)
			}
		}
		if progress != nil {
			progress(Progress{Step: pass.name, Done: p + 1, Rows: read})
		}
	}

	for name, sf := range out {
		sf.sample.SampleTrainRows = len(sf.train.athletes)
		sf.sample.SampleTestRows = len(sf.test.athletes)
		if sf.sample.SampleTrainRows == 0 || sf.sample.SampleTestRows == 0 {
			return nil, fmt.Errorf("family %s: no athlete's rows fit in a sample of %d "+
				"rows (raise the memory bound): %w", name, o.MemoryRows/6, ErrTooFewRows)
		}
		if sf.ridge == nil {
			continue
		}
		var err error
		if sf.model, err = sf.ridge.model(fit.IntervalCoverage); err != nil {
			return nil, fmt.Errorf("fit %s: %w", name, err)
		}
		sf.ridge = nil
	}
	return out, nil
}

// report finishes a streamed family as trainFamily finishes one held in memory, on
// its samples; the anomaly network is fitted here, on the training sample.
// It returns the held-out sample too, for the gates.
func (sf *streamedFamily) report(ctx context.Context, o Options,
	meta ExportMeta) (FamilyReport, *Dataset, error) {
	train, err := sf.train.dataset()
	if err != nil {
		return FamilyReport{}, nil, err
	}
	test, err := sf.test.dataset()
	if err != nil {
		return FamilyReport{}, nil, err
	}
	m := sf.model
	if m == nil {
		sf.sample.FitOnSample = true
		if m, err = FitAnomaly(train, o.Fit); err != nil {
			return FamilyReport{}, nil, err
		}
	}
	all, err := sf.train.join(sf.test).dataset()
	if err != nil {
		return FamilyReport{}, nil, err
	}
	fr, err := finishFamily(ctx, m, train, test, all, true, o, meta)
	if err != nil {
		return FamilyReport{}, nil, err
	}
	fr.TrainRows = sf.sample.TrainRows
	if sf.sample.FitOnSample {
		fr.TrainRows = sf.sample.SampleTrainRows
	}
	sample := sf.sample
	fr.Sample = &sample
	return fr, test, nil
}
