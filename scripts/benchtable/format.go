package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Report is what bench.json holds: the run's circumstances and its rows.
type Report struct {
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
	CPU       string `json:"cpu,omitempty"`
	Cores     int    `json:"cores"`
	// LoadAverage is the machine's 1, 5 and 15-minute load average when the table
	// was made, as /proc/loadavg gives it.
	LoadAverage string   `json:"load_average,omitempty"`
	Notes       []string `json:"notes,omitempty"`
	Figures     []Row    `json:"figures"`
}

// WriteTable prints the report as an aligned text table, its circumstances first.
func WriteTable(w io.Writer, rep *Report) error {
	fmt.Fprintf(w, "hydrocast benchmarks, %s, %s, %d cores", rep.Date, rep.GoVersion,
		rep.Cores)
	if rep.CPU != "" {
		fmt.Fprintf(w, " (%s)", rep.CPU)
	}
	fmt.Fprintln(w)
	if rep.LoadAverage != "" {
		fmt.Fprintf(w, "load average at the end: %s\n", rep.LoadAverage)
	}
	for _, n := range rep.Notes {
		fmt.Fprintln(w, n)
	}
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tmeasured\tgoal\treference (same run)\tratio\tverdict")
	for _, r := range rep.Figures {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Figure, measuredText(r), r.Goal,
			referenceText(r), ratioText(r), verdictText(r))
	}
	return tw.Flush()
}

func measuredText(r Row) string {
	if r.Measured == nil {
		return "—"
	}
	return formatValue(*r.Measured, r.Unit)
}

func referenceText(r Row) string {
	if r.ReferenceValue == nil {
		return r.Reference
	}
	return r.Reference + ": " + formatValue(*r.ReferenceValue, r.Unit)
}

func ratioText(r Row) string {
	if r.Ratio == nil {
		return "—"
	}
	return sig3(*r.Ratio) + "×"
}

func verdictText(r Row) string {
	if r.Note == "" {
		return r.Verdict
	}
	return r.Verdict + ": " + r.Note
}

// goalText prints a figure's goal; ref is the reference's median when measured.
func goalText(f *Figure, ref *float64) string {
	g := f.Goal
	switch {
	case g.Min != nil:
		return "≥ " + formatValue(*g.Min, f.Unit)
	case g.Max != nil:
		return "≤ " + formatValue(*g.Max, f.Unit)
	}
	op, factor := "≥ ", g.MinRatio
	if g.MaxRatio != nil {
		op, factor = "≤ ", g.MaxRatio
	}
	text := op + sig3(*factor) + " × ref"
	if ref != nil {
		text += " (" + formatValue(*factor**ref, f.Unit) + ")"
	}
	return text
}

// formatValue prints v in unit: "ns" as a duration, "B" as a size, a rate with an
// SI prefix, anything else as a plain number.
func formatValue(v float64, unit string) string {
	switch {
	case unit == "ns":
		return scaled(v, []scale{{1e9, "s"}, {1e6, "ms"}, {1e3, "µs"}, {1, "ns"}})
	case unit == "B":
		return scaled(v, []scale{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"},
			{1, "B"}})
	case strings.HasSuffix(unit, "/s"):
		return scaled(v, []scale{{1e9, "G " + unit}, {1e6, "M " + unit},
			{1e3, "k " + unit}, {1, unit}})
	}
	return sig3(v) + " " + unit
}

// scale is a unit and how many base units it holds.
type scale struct {
	size float64
	name string
}

// scaled prints v in the largest of scales (largest first) in which it is at least
// 1; the last scale takes whatever is left.
func scaled(v float64, scales []scale) string {
	for _, s := range scales[:len(scales)-1] {
		if math.Abs(v) >= s.size {
			return sig3(v/s.size) + " " + s.name
		}
	}
	last := scales[len(scales)-1]
	return sig3(v/last.size) + " " + last.name
}

// sig3 prints v with three significant digits and no exponent; integers of more
// digits keep them all.
func sig3(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	digits := max(2-int(math.Floor(math.Log10(math.Abs(v)))), 0)
	return strconv.FormatFloat(v, 'f', digits, 64)
}
