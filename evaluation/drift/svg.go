package drift

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Chart sizes in SVG user units (CSS pixels at 100 % zoom).
const (
	chartWidth  = 460
	chartHeight = 150
	chartPad    = 28 // room for axis labels
	barLeft     = 44 // room for the share labels left of the bars
	maxBars     = 24 // more bins are folded into one "other bins" bar
)

// barChart is a side-by-side bar chart of reference and live shares.
type barChart struct {
	Width, Height int
	Left          int // x of the plot's left edge
	Title         string
	Bars          []bar
	Labels        []axisLabel
	Ticks         []axisLabel
	Baseline      float64
}

type bar struct {
	X, Y, W, H float64
	Class      string // "ref" or "live"
	Tip        string
}

type axisLabel struct {
	X, Y   float64
	Text   string
	Anchor string
}

// lineChart is a time series with threshold rules.
type lineChart struct {
	Width, Height int
	Title         string
	Lines         []string // polyline point lists, one per run of defined values
	Dots          []dot
	Rules         []rule
	Labels        []axisLabel
	Empty         bool
}

type dot struct {
	X, Y float64
	Tip  string
}

type rule struct {
	Y      float64
	Label  string
	Class  string
	X      float64 // where the label sits
	Anchor string
}

// newBarChart lays out the bins of a feature, folding the smallest bins into one when
// there are more than maxBars. With edges (a numeric feature's inner bin edges) the
// axis is labelled at the bin boundaries, else under each bar.
func newBarChart(name string, bins []Bin, edges []float64) barChart {
	if len(bins) > maxBars {
		bins, edges = foldBins(bins), nil
	}
	c := barChart{Width: chartWidth, Height: chartHeight, Left: barLeft,
		Title:    "Distribution of " + name + ": reference and live shares per bin",
		Baseline: chartHeight - chartPad}
	if len(bins) == 0 {
		return c
	}
	top := 0.0
	for _, b := range bins {
		top = max(top, b.Reference, b.Live)
	}
	if top == 0 {
		top = 1
	}
	plotH := float64(chartHeight - chartPad - 8)
	slot := float64(chartWidth-barLeft-8) / float64(len(bins))
	w := slot * 0.4
	for i, b := range bins {
		x := float64(barLeft) + slot*float64(i) + slot*0.1
		for k, v := range []float64{b.Reference, b.Live} {
			h := v / top * plotH
			class, side := "ref", "reference"
			if k == 1 {
				class, side = "live", "live"
			}
			c.Bars = append(c.Bars, bar{X: x + w*float64(k), Y: c.Baseline - h, W: w, H: h,
				Class: class, Tip: fmt.Sprintf("%s — %s %.1f %%", b.Label, side, 100*v)})
		}
		if edges == nil && (len(bins) <= 12 || i == 0 || i == len(bins)-1) {
			c.Labels = append(c.Labels, axisLabel{X: x + w, Y: c.Baseline + 14,
				Text: shorten(b.Label, 12), Anchor: "middle"})
		}
	}
	// Label at most about eight boundaries so that the numbers do not collide.
	step := (len(edges) + 7) / 8
	for i := 0; i < len(edges); i += max(step, 1) {
		c.Labels = append(c.Labels, axisLabel{X: float64(barLeft) + slot*float64(i+1),
			Y: c.Baseline + 14, Text: formatNumber(roundTo(edges[i], 4)), Anchor: "middle"})
	}
	c.Ticks = []axisLabel{
		{X: barLeft - 4, Y: c.Baseline - plotH + 4, Text: percent(top), Anchor: "end"},
		{X: barLeft - 4, Y: c.Baseline, Text: "0", Anchor: "end"},
	}
	return c
}

// foldBins keeps the maxBars−1 largest bins (by their larger share) in their order and
// folds the rest into one.
func foldBins(bins []Bin) []Bin {
	if len(bins) <= maxBars {
		return bins
	}
	idx := make([]int, len(bins))
	for i := range idx {
		idx[i] = i
	}
	size := func(i int) float64 { return max(bins[i].Reference, bins[i].Live) }
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(size(b), size(a)) })
	keep := idx[:maxBars-1]
	slices.Sort(keep)
	out := make([]Bin, 0, maxBars)
	rest := Bin{Label: fmt.Sprintf("%d more", len(bins)-len(keep))}
	kept := make(map[int]bool, len(keep))
	for _, i := range keep {
		out = append(out, bins[i])
		kept[i] = true
	}
	for i, b := range bins {
		if !kept[i] {
			rest.Reference += b.Reference
			rest.Live += b.Live
		}
	}
	return append(out, rest)
}

// newLineChart lays out a drift-over-time series on a y axis from 0 to at least the
// highest rule.
func newLineChart(title string, points []TimePoint, rules []rule, yMin float64) lineChart {
	c := lineChart{Width: chartWidth, Height: chartHeight, Title: title}
	top := yMin
	for _, r := range rules {
		top = max(top, r.Y*1.2)
	}
	defined := 0
	for _, p := range points {
		if p.Status == StatusOK {
			defined++
			top = max(top, p.Value)
		}
	}
	if defined == 0 {
		c.Empty = true
		return c
	}
	plotW := float64(chartWidth - 2*chartPad)
	plotH := float64(chartHeight - 2*chartPad)
	x := func(i int) float64 {
		if len(points) == 1 {
			return float64(chartPad) + plotW/2
		}
		return float64(chartPad) + plotW*float64(i)/float64(len(points)-1)
	}
	y := func(v float64) float64 { return float64(chartPad) + plotH*(1-v/top) }

	var run []string
	flush := func() {
		if len(run) > 1 {
			c.Lines = append(c.Lines, strings.Join(run, " "))
		}
		run = nil
	}
	for i, p := range points {
		if p.Status != StatusOK {
			flush()
			continue
		}
		px, py := x(i), y(p.Value)
		run = append(run, fmt.Sprintf("%.1f,%.1f", px, py))
		c.Dots = append(c.Dots, dot{X: px, Y: py, Tip: fmt.Sprintf("%s: %s (%d rows)",
			p.Start.UTC().Format(time.RFC3339), formatNumber(p.Value), p.Rows)})
	}
	flush()
	c.Rules = placeRules(rules, y)
	c.Labels = []axisLabel{
		{X: chartPad, Y: chartHeight - 8, Text: points[0].Start.UTC().Format("Jan 2 15:04"),
			Anchor: "start"},
		{X: chartWidth - chartPad, Y: chartHeight - 8, Anchor: "end",
			Text: points[len(points)-1].Start.UTC().Format("Jan 2 15:04")},
		{X: chartPad - 4, Y: y(top) + 4, Text: formatNumber(roundTo(top, 3)), Anchor: "end"},
		{X: chartPad - 4, Y: y(0) + 4, Text: "0", Anchor: "end"},
	}
	return c
}

// placeRules maps threshold rules to chart coordinates, alternating the side of
// their labels so that close rules stay readable.
func placeRules(rules []rule, y func(float64) float64) []rule {
	out := make([]rule, len(rules))
	for i, r := range rules {
		out[i] = rule{Y: y(r.Y), Label: r.Label, Class: r.Class, X: chartWidth - chartPad,
			Anchor: "end"}
		if i%2 == 1 {
			out[i].X, out[i].Anchor = chartPad+4, "start"
		}
	}
	return out
}

func percent(v float64) string { return strconv.FormatFloat(100*v, 'f', 0, 64) + " %" }

func roundTo(v float64, digits int) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', digits, 64), 64)
	return f
}

// shorten cuts s to at most n runes, marking the cut.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
