package training

import (
	"math"
	"slices"
	"strings"
)

// RegressionMetrics summarise predictions of one output against its labels.
type RegressionMetrics struct {
	N    int     `json:"n"`    // labelled rows scored
	MAE  float64 `json:"mae"`  // mean absolute error, in the output's unit
	RMSE float64 `json:"rmse"` // root mean squared error, in the output's unit
	R2   float64 `json:"r2"`   // 1 − SSE/SST; negative when worse than the mean
	Bias float64 `json:"bias"` // mean of prediction − label
	// Coverage is the share of labels inside the prediction interval; nil when the
	// model gives no interval.
	Coverage *float64 `json:"coverage,omitempty"`
}

// Regress scores pred against y, skipping rows whose label or prediction is NaN.
func Regress(y, pred []float64) RegressionMetrics {
	var m RegressionMetrics
	var sumAbs, sumSq, sumErr, sumY float64
	for i, v := range y {
		if math.IsNaN(v) || math.IsNaN(pred[i]) {
			continue
		}
		e := pred[i] - v
		m.N++
		sumAbs += math.Abs(e)
		sumSq += e * e
		sumErr += e
		sumY += v
	}
	if m.N == 0 {
		return m
	}
	n := float64(m.N)
	m.MAE, m.RMSE, m.Bias = sumAbs/n, math.Sqrt(sumSq/n), sumErr/n

	yMean := sumY / n
	var sst float64
	for i, v := range y {
		if math.IsNaN(v) || math.IsNaN(pred[i]) {
			continue
		}
		sst += (v - yMean) * (v - yMean)
	}
	if sst > 0 {
		m.R2 = 1 - sumSq/sst
	}
	return m
}

// WithCoverage returns m with Coverage set to the share of labelled rows of y that lie
// within [lower, upper].
func (m RegressionMetrics) WithCoverage(y, lower, upper []float64) RegressionMetrics {
	var in, n int
	for i, v := range y {
		if math.IsNaN(v) || math.IsNaN(lower[i]) {
			continue
		}
		n++
		if v >= lower[i] && v <= upper[i] {
			in++
		}
	}
	if n > 0 {
		c := float64(in) / float64(n)
		m.Coverage = &c
	}
	return m
}

// Timeline places a scored row in time: its session and its minute in the session.
// Rows passed to Detect are grouped by session and in time order.
type Timeline struct {
	Session string
	Minute  int
}

// DetectionMetrics summarise a detector's alarms (score ≥ Threshold) against fault
// labels. A fault event is a run of consecutive positive rows in one session; a false
// alarm is an alarm that starts on a negative row.
type DetectionMetrics struct {
	Threshold      float64 `json:"threshold"`
	Events         int     `json:"fault_events"`          // fault events present
	EventsDetected int     `json:"fault_events_detected"` // with an alarm on any of its rows
	EventRecall    float64 `json:"event_recall"`          // EventsDetected / Events
	RowRecall      float64 `json:"row_recall"`            // alarmed share of positive rows
	RowPrecision   float64 `json:"row_precision"`         // positive share of alarmed rows
	FalseAlarms    int     `json:"false_alarms"`          // alarms starting on a negative row
	CleanHours     float64 `json:"clean_athlete_hours"`   // time on negative rows
	// FalseAlarmsPerHour is FalseAlarms per athlete-hour of clean data.
	FalseAlarmsPerHour float64 `json:"false_alarms_per_athlete_hour"`
}

// Detect scores alarms against labels (1 = fault). stepMin is the minutes between
// consecutive rows of a session; a larger gap ends a run.
func Detect(score, label []float64, when []Timeline, threshold float64,
	stepMin int) DetectionMetrics {
	m := DetectionMetrics{Threshold: threshold}
	score, label, when = inTimeOrder(score, label, when)
	var pos, neg, alarmed, truePos int
	inEvent, eventHit, prevAlarm := false, false, false
	for i := range score {
		contiguous := i > 0 && when[i].Session == when[i-1].Session &&
			when[i].Minute-when[i-1].Minute <= stepMin
		if !contiguous {
			if inEvent && eventHit {
				m.EventsDetected++
			}
			inEvent, eventHit, prevAlarm = false, false, false
		}
		alarm := score[i] >= threshold
		fault := label[i] == 1

		if fault {
			pos++
			if !inEvent {
				m.Events++
				inEvent, eventHit = true, false
			}
			eventHit = eventHit || alarm
		} else {
			neg++
			if inEvent && eventHit {
				m.EventsDetected++
			}
			inEvent = false
			if alarm && !prevAlarm {
				m.FalseAlarms++
			}
		}
		if alarm {
			alarmed++
			if fault {
				truePos++
			}
		}
		prevAlarm = alarm
	}
	if inEvent && eventHit {
		m.EventsDetected++
	}

	m.EventRecall = ratio(m.EventsDetected, m.Events)
	m.RowRecall = ratio(truePos, pos)
	m.RowPrecision = ratio(truePos, alarmed)
	m.CleanHours = float64(neg*stepMin) / 60
	if m.CleanHours > 0 {
		m.FalseAlarmsPerHour = float64(m.FalseAlarms) / m.CleanHours
	}
	return m
}

// ratio returns a/b, or 0 when b is 0.
func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// inTimeOrder returns the rows ordered by session, then minute, as Detect reads
// events: a training set need not arrive in that order. Rows already in order are
// returned as they are.
func inTimeOrder(score, label []float64, when []Timeline) ([]float64, []float64,
	[]Timeline) {
	less := func(a, b Timeline) int {
		if c := strings.Compare(a.Session, b.Session); c != 0 {
			return c
		}
		return a.Minute - b.Minute
	}
	if slices.IsSortedFunc(when, less) {
		return score, label, when
	}
	idx := make([]int, len(when))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return less(when[a], when[b]) })
	s, l, w := make([]float64, len(idx)), make([]float64, len(idx)), make([]Timeline,
		len(idx))
	for k, i := range idx {
		s[k], l[k], w[k] = score[i], label[i], when[i]
	}
	return s, l, w
}
