package evaluation

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// RealisedOptions shape the matching of predictions to labels. A zero field selects
// the default.
type RealisedOptions struct {
	// MaxSession is how long after its start a label without an end still claims
	// predictions. Default 6 hours.
	MaxSession time.Duration
	AB         ABOptions
}

func (o RealisedOptions) withDefaults() RealisedOptions {
	if o.MaxSession <= 0 {
		o.MaxSession = 6 * time.Hour
	}
	return o
}

// Realised is the accuracy the served versions achieved once labels arrived.
type Realised struct {
	Labels      int `json:"labels"`       // label events given
	Predictions int `json:"predictions"`  // predictions given
	Matched     int `json:"matched_rows"` // predictions that fell in a labelled session
	// Versions holds per version (arm) the metrics over its matched predictions,
	// in version order.
	Versions []VersionAccuracy `json:"versions"`
	// AB compares every pair of versions with labelled sessions; Error says why a
	// pair has no result (too few sessions, usually).
	AB []ABPair `json:"ab,omitempty"`
}

// VersionAccuracy is one version's realised accuracy.
type VersionAccuracy struct {
	Version  string  `json:"version"`
	Sessions int     `json:"sessions"`
	Metrics  Metrics `json:"metrics"`
}

// ABPair is the A/B analysis of two versions on their own labelled sessions.
type ABPair struct {
	A      string    `json:"a"`
	B      string    `json:"b"`
	Result *ABResult `json:"result,omitempty"`
	Error  string    `json:"error,omitempty"`
}

// RealisedAccuracy matches each prediction to the label of the athlete's session it
// fell in (from SessionStart to SessionEnd, or without an end to the athlete's next
// label or MaxSession, whichever is first), scores each version on its matched
// predictions with the session as the unit of independence, and runs AnalyzeAB on
// every pair of versions. Predictions outside every labelled session are left out.
// It reports ErrNoRows when nothing matched.
func RealisedAccuracy(labels []Label, preds []Prediction, opt RealisedOptions) (Realised,
	error) {
	opt = opt.withDefaults()
	out := Realised{Labels: len(labels), Predictions: len(preds)}
	byAthlete := sessionsByAthlete(labels, opt.MaxSession)

	arms := map[string]*Predictions{}
	sessions := map[string]map[string]bool{}
	for _, p := range preds {
		l, ok := matchSession(byAthlete[p.AthleteID], p.Time)
		if !ok {
			continue
		}
		a := arms[p.Version]
		if a == nil {
			a = &Predictions{Lower: []float64{}, Upper: []float64{}}
			arms[p.Version] = a
			sessions[p.Version] = map[string]bool{}
		}
		group := l.AthleteID + "@" + l.SessionStart.UTC().Format(time.RFC3339)
		a.Label = append(a.Label, l.SweatRateLPerH)
		a.Pred = append(a.Pred, p.Value)
		a.Lower = append(a.Lower, p.Lower)
		a.Upper = append(a.Upper, p.Upper)
		a.Group = append(a.Group, group)
		sessions[p.Version][group] = true
		out.Matched++
	}
	if out.Matched == 0 {
		return out, fmt.Errorf("realised accuracy: %w: no prediction fell in a labelled "+
			"session", ErrNoRows)
	}

	versions := make([]string, 0, len(arms))
	for v := range arms {
		versions = append(versions, v)
	}
	slices.SortFunc(versions, compareVersions)
	for _, v := range versions {
		m, err := Score(*arms[v])
		if err != nil {
			continue // every prediction of the version was NaN
		}
		out.Versions = append(out.Versions, VersionAccuracy{Version: v,
			Sessions: len(sessions[v]), Metrics: m})
	}
	for i, a := range versions {
		for _, b := range versions[i+1:] {
			pair := ABPair{A: a, B: b}
			if r, err := AnalyzeAB(*arms[a], *arms[b], opt.AB); err != nil {
				pair.Error = err.Error()
			} else {
				pair.Result = &r
			}
			out.AB = append(out.AB, pair)
		}
	}
	return out, nil
}

// compareVersions orders version numbers numerically and other names after them.
func compareVersions(a, b string) int {
	na, errA := strconv.Atoi(a)
	nb, errB := strconv.Atoi(b)
	switch {
	case errA == nil && errB == nil:
		return cmp.Compare(na, nb)
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return cmp.Compare(a, b)
}

// span is a labelled session with the end of the time it claims.
type span struct {
	Label
	until time.Time
}

// sessionsByAthlete sorts each athlete's labels by start and fixes the end each one
// claims predictions until.
func sessionsByAthlete(labels []Label, maxSession time.Duration) map[string][]span {
	out := map[string][]span{}
	for _, l := range labels {
		out[l.AthleteID] = append(out[l.AthleteID], span{Label: l})
	}
	for _, spans := range out {
		slices.SortFunc(spans, func(a, b span) int {
			return a.SessionStart.Compare(b.SessionStart)
		})
		for i := range spans {
			s := &spans[i]
			s.until = s.SessionStart.Add(maxSession)
			if !s.SessionEnd.IsZero() {
				s.until = s.SessionEnd
			} else if i+1 < len(spans) && spans[i+1].SessionStart.Before(s.until) {
				s.until = spans[i+1].SessionStart
			}
		}
	}
	return out
}

// matchSession returns the label of the session that t falls in: the latest one
// starting at or before t whose span reaches past t.
func matchSession(spans []span, t time.Time) (Label, bool) {
	i, _ := slices.BinarySearchFunc(spans, t, func(s span, t time.Time) int {
		if s.SessionStart.After(t) {
			return 1
		}
		return -1
	})
	// spans[:i] start at or before t; the latest of them is the candidate.
	if i == 0 || !t.Before(spans[i-1].until) {
		return Label{}, false
	}
	l := spans[i-1].Label
	if math.IsNaN(l.SweatRateLPerH) {
		return Label{}, false
	}
	return l, true
}

// AnalysisRealised names the rows of realised accuracy in Row.Analysis.
const AnalysisRealised = "realised"

// Table flattens realised accuracy: each version's metrics under analysis
// "realised", then each pair's A/B rows under "ab" with the segment "<a> vs <b>".
func (r Realised) Table() []Row {
	var out []Row
	for _, v := range r.Versions {
		out = append(out, v.Metrics.Table(AnalysisRealised, v.Version, "")...)
	}
	for _, p := range r.AB {
		if p.Result == nil {
			continue
		}
		for _, row := range p.Result.Table() {
			row.Segment = p.A + " vs " + p.B
			out = append(out, row)
		}
	}
	return out
}
