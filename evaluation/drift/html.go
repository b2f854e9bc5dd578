package drift

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"strconv"
	"time"
)

//go:embed report.html.tmpl
var reportTemplateText string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"num":  func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"pct":  func(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + " %" },
	"half": func(v int) int { return v / 2 },
	"sub":  func(a, b int) int { return a - b },
}).Parse(reportTemplateText))

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write drift report json: %w", err)
	}
	return nil
}

// WriteHTML writes the report as one self-contained HTML page: inline CSS and SVG
// charts, no script, and a content security policy that forbids loading anything.
func (r *Report) WriteHTML(w io.Writer) error {
	if err := reportTemplate.Execute(w, newHTMLView(r)); err != nil {
		return fmt.Errorf("write drift report html: %w", err)
	}
	return nil
}

// htmlView is what the template reads.
type htmlView struct {
	R         *Report
	Heading   string
	Generated string
	Window    string
	Dataset   lineChart
	Features  []htmlFeature
}

type htmlFeature struct {
	FeatureResult
	Anchor    string
	ScoreText string
	PSIText   string
	Rule      string
	Dist      barChart
	Trend     lineChart
}

var anchorUnsafe = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

func newHTMLView(r *Report) htmlView {
	v := htmlView{R: r, Heading: "Drift report", Generated: r.GeneratedAt.UTC().Format(
		"2006-01-02 15:04 MST")}
	if r.Title != "" {
		v.Heading += ": " + r.Title
	}
	if !r.From.IsZero() {
		v.Window = r.From.UTC().Format(time.RFC3339) + " to " + r.To.UTC().Format(time.RFC3339)
	}
	v.Dataset = newLineChart("Share of features with moderate PSI per time bucket",
		r.Timeline, []rule{{Y: r.Options.DatasetShare, Label: "dataset drift share",
			Class: "share"}}, 1)

	psiRules := []rule{
		{Y: r.Options.PSIModerate, Label: "moderate", Class: "moderate"},
		{Y: r.Options.PSIMajor, Label: "major", Class: "major"},
	}
	for i, f := range r.Features {
		hf := htmlFeature{FeatureResult: f, ScoreText: "–", PSIText: "–",
			Anchor: strconv.Itoa(i) + "-" + anchorUnsafe.ReplaceAllString(f.Name, "_"),
			Rule:   ruleText(f.Test, f.Threshold)}
		if f.Status == StatusOK {
			hf.ScoreText = formatNumber(roundTo(f.Score, 3))
			if f.Test.PValue() && f.Score < 1e-15 {
				hf.ScoreText = "< 1e-15" // below the exact method's resolution
			}
			hf.PSIText = formatNumber(roundTo(f.PSI, 3))
		}
		hf.Dist = newBarChart(f.Name, f.Bins, f.Edges)
		hf.Trend = newLineChart("PSI of "+f.Name+" per time bucket", f.Timeline, psiRules, 0)
		v.Features = append(v.Features, hf)
	}
	return v
}

// ruleText states when a test reports drift.
func ruleText(t Method, threshold float64) string {
	if t.PValue() {
		return "drift if p < " + formatNumber(threshold)
	}
	return "drift if ≥ " + formatNumber(threshold)
}
