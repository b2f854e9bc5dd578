package evaluation

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// ABOptions set the error rates of an A/B analysis. A zero field selects the default.
type ABOptions struct {
	// Alpha is the two-sided significance level. Default 0.05.
	Alpha float64
	// Power is the chance of detecting the observed effect that the sample size
	// advice aims for. Default 0.8.
	Power float64
}

func (o ABOptions) withDefaults() ABOptions {
	if !(o.Alpha > 0 && o.Alpha < 1) {
		o.Alpha = 0.05
	}
	if !(o.Power > 0 && o.Power < 1) {
		o.Power = 0.8
	}
	return o
}

// ABResult compares the two arms of an A/B split on their labelled sessions.
//
// The outcome is each session's mean absolute error (a group of Predictions is a
// session; without groups every row is one), because sessions, not rows, were
// assigned to arms and are independent. The arms are compared with Welch's
// two-sample t-test, which does not assume equal variances.
type ABResult struct {
	Outcome string `json:"outcome"`
	Method  string `json:"method"`
	A       Arm    `json:"a"`
	B       Arm    `json:"b"`
	// Diff is B's mean outcome minus A's, with its confidence interval at 1 − Alpha.
	Diff   float64 `json:"diff"`
	Lower  float64 `json:"lower"`
	Upper  float64 `json:"upper"`
	PValue float64 `json:"p_value"`
	DF     float64 `json:"df"` // Welch–Satterthwaite degrees of freedom
	// Conclusive is PValue < Alpha; Better then names the arm with lower error.
	Conclusive bool   `json:"conclusive"`
	Better     string `json:"better,omitempty"`
	Power      Power  `json:"power"`
}

// Arm is one arm's metrics and per-session outcome.
type Arm struct {
	Metrics  Metrics `json:"metrics"` // over all of the arm's rows
	Sessions int     `json:"sessions"`
	Mean     float64 `json:"mean"` // of the per-session outcome
	SD       float64 `json:"sd"`   // sample standard deviation of the same
}

// Power is the sample size advice: how many labelled sessions per arm would detect
// the observed difference with the chosen power, by the normal approximation
// n = (z₁₋α/₂ + z_power)² · (s_A² + s_B²) / Δ² with equal arms.
type Power struct {
	Alpha  float64 `json:"alpha"`
	Power  float64 `json:"power"`
	Effect float64 `json:"effect"` // |Diff| assumed to be the true difference
	// SessionsPerArm is n above and MoreSessions the sessions still to label over
	// both arms; both nil when the observed difference is zero.
	SessionsPerArm *int   `json:"sessions_per_arm,omitempty"`
	MoreSessions   *int   `json:"more_sessions,omitempty"`
	Note           string `json:"note,omitempty"`
}

// AnalyzeAB compares arm a with arm b. Each arm needs at least two sessions with a
// usable row, else ErrNotEnoughData.
func AnalyzeAB(a, b Predictions, opt ABOptions) (ABResult, error) {
	opt = opt.withDefaults()
	armA, err := scoreArm(&a)
	if err != nil {
		return ABResult{}, fmt.Errorf("a/b analysis: arm a: %w", err)
	}
	armB, err := scoreArm(&b)
	if err != nil {
		return ABResult{}, fmt.Errorf("a/b analysis: arm b: %w", err)
	}

	r := ABResult{Outcome: "session mean absolute error", A: armA, B: armB,
		Method: "Welch two-sample t-test on the per-session outcome",
		Diff:   armB.Mean - armA.Mean}
	r.Lower, r.Upper, r.PValue, r.DF = welch(armA, armB, opt.Alpha)
	r.Conclusive = r.PValue < opt.Alpha
	if r.Conclusive {
		r.Better = pick(r.Diff < 0)
	}
	r.Power = power(armA, armB, math.Abs(r.Diff), opt)
	if r.Conclusive && r.Power.MoreSessions != nil {
		zero := 0
		r.Power.MoreSessions = &zero
		r.Power.Note = "already conclusive at this alpha"
	}
	return r, nil
}

// scoreArm scores one arm and summarises its per-session outcomes.
func scoreArm(p *Predictions) (Arm, error) {
	m, err := Score(*p)
	if err != nil {
		return Arm{}, err
	}
	sessions := make(map[string]*[2]float64) // Σ|e|, n
	var order []string
	var outcomes []float64
	for i := range p.Label {
		if !p.usable(i) {
			continue
		}
		e := math.Abs(p.Pred[i] - p.Label[i])
		if p.Group == nil {
			outcomes = append(outcomes, e)
			continue
		}
		s, ok := sessions[p.Group[i]]
		if !ok {
			s = &[2]float64{}
			sessions[p.Group[i]] = s
			order = append(order, p.Group[i])
		}
		s[0] += e
		s[1]++
	}
	for _, g := range order {
		outcomes = append(outcomes, sessions[g][0]/sessions[g][1])
	}
	if len(outcomes) < 2 {
		return Arm{}, fmt.Errorf("%w: %d session(s), need 2", ErrNotEnoughData,
			len(outcomes))
	}
	a := Arm{Metrics: m, Sessions: len(outcomes)}
	a.Mean, a.SD = meanSD(outcomes)
	return a, nil
}

// meanSD returns the mean and the sample standard deviation (divisor n − 1).
func meanSD(xs []float64) (mean, sd float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(xs)-1))
}

// welch returns the confidence interval of the difference of means (B − A), the
// two-sided p-value and the degrees of freedom.
func welch(a, b Arm, alpha float64) (lo, hi, p, df float64) {
	va := a.SD * a.SD / float64(a.Sessions)
	vb := b.SD * b.SD / float64(b.Sessions)
	diff := b.Mean - a.Mean
	se := math.Sqrt(va + vb)
	if se == 0 {
		// Both arms constant: the difference is known exactly.
		df = float64(a.Sessions + b.Sessions - 2)
		if diff == 0 {
			return 0, 0, 1, df
		}
		return diff, diff, 0, df
	}
	df = (va + vb) * (va + vb) /
		(va*va/float64(a.Sessions-1) + vb*vb/float64(b.Sessions-1))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}
	p = min(1, 2*t.Survival(math.Abs(diff)/se))
	half := t.Quantile(1-alpha/2) * se
	return diff - half, diff + half, p, df
}

// power returns the sample size advice for detecting effect.
func power(a, b Arm, effect float64, opt ABOptions) Power {
	pw := Power{Alpha: opt.Alpha, Power: opt.Power, Effect: effect}
	variance := a.SD*a.SD + b.SD*b.SD
	if effect == 0 || variance == 0 {
		pw.Note = "no difference or no spread observed; a sample size cannot be derived"
		return pw
	}
	z := distuv.UnitNormal.Quantile(1-opt.Alpha/2) + distuv.UnitNormal.Quantile(opt.Power)
	need := z * z * variance / (effect * effect)
	if need > math.MaxInt32 {
		pw.Note = "the observed difference is too small to detect with any practical sample"
		return pw
	}
	n := int(math.Ceil(need))
	more := max(0, n-a.Sessions) + max(0, n-b.Sessions)
	pw.SessionsPerArm, pw.MoreSessions = &n, &more
	return pw
}
