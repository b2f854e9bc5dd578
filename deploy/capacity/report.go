package capacity

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// The business plan's range for the cost per registered athlete-month, in US dollars,
// which a report compares the model's result with.
const (
	PlanLowPerAthleteMonth  = 0.01
	PlanHighPerAthleteMonth = 0.05
)

// WriteReport prints the plan as an aligned table: load, sizing, the month's cost by
// line and the cost per athlete-month against the business plan's range.
func WriteReport(out io.Writer, p Plan, w Workload, pr Prices) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	line := func(format string, args ...any) { fmt.Fprintf(tw, format+"\n", args...) }

	line("load\tpeak\taverage")
	line("  athletes exercising\t%s\t%s", count(w.PeakExercising), count(p.AverageExercising))
	line("  readings/s\t%.0f\t%.0f", p.PeakReadingsPerSecond,
		p.AverageExercising/w.ReadingInterval.Seconds())
	line("  assessments/s\t%.0f\t%.0f", p.PeakAssessmentsPerSecond,
		p.AverageExercising/w.AssessmentInterval.Seconds())
	line("")

	line("sizing\tpeak\taverage")
	line("  serve cores\t%.1f (%d replicas)\t%.1f", p.ServeCoresPeak, p.ServeReplicasPeak,
		p.ServeCoresAverage)
	line("  ingest cores\t%.1f (%d replicas)\t%.1f", p.IngestCoresPeak,
		p.IngestReplicasPeak, p.IngestCoresAverage)
	line("")

	line("memory and data")
	line("  Redis\t%.1f GiB for %s athletes, %.1f Gbit/s at the peak", p.RedisGiB,
		count(p.RedisAthletes), p.RedisBytesPerSecondPeak*8/1e9)
	line("  training\t%.0f core-hours/month", p.TrainingCoreHoursPerMonth)
	line("  readings\t%s/month", count(p.ReadingsPerMonth))
	line("  Parquet (Cloud Storage)\t%.0f GiB/month, %.0f GiB held (%g months)",
		p.ParquetGiBPerMonth, p.ParquetGiBHeld, w.RetentionMonths)
	line("  BigQuery\t%.0f GiB/month, %.0f GiB held", p.BigQueryGiBPerMonth,
		p.BigQueryGiBHeld)
	line("  Pub/Sub\t%.1f TiB/month", p.PubSubTiBPerMonth)
	line("")

	line("cost, USD/month\tautoscaled\tpeak all month")
	m, pk := p.Monthly, p.PeakProvisioned
	for _, c := range []struct {
		name      string
		auto, top float64
	}{
		{"serve nodes", m.Serve, pk.Serve},
		{"ingest nodes", m.Ingest, pk.Ingest},
		{"training nodes", m.Training, pk.Training},
		{"GKE cluster fee", m.Cluster, pk.Cluster},
		{"Memorystore for Redis", m.Redis, pk.Redis},
		{"Cloud Storage", m.Storage, pk.Storage},
		{"BigQuery storage", m.BigQuery, pk.BigQuery},
		{"Pub/Sub", m.PubSub, pk.PubSub},
		{"total", m.Total(), pk.Total()},
	} {
		line("  %s\t%.0f\t%.0f", c.name, c.auto, c.top)
	}
	line("")

	line("per athlete-month\t$%.6f\t(%s registered)", p.PerAthleteMonth,
		count(w.RegisteredAthletes))
	line("per active athlete-month\t$%.6f\t(%s active)", p.PerActiveAthleteMonth,
		count(w.ActiveAthletes))
	line("business plan\t$%.2f-%.2f\t%s", PlanLowPerAthleteMonth, PlanHighPerAthleteMonth,
		againstPlan(p.PerAthleteMonth))
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write capacity report: %w", err)
	}

	notes := []string{fmt.Sprintf("prices: %s list prices read on %s", pr.Region, pr.AsOf)}
	if len(pr.Assumed) > 0 {
		notes = append(notes, "assumed, not confirmed: "+strings.Join(pr.Assumed, ", "))
	}
	for _, wn := range p.Warnings {
		notes = append(notes, "warning: "+wn)
	}
	for _, n := range notes {
		if _, err := fmt.Fprintln(out, n); err != nil {
			return fmt.Errorf("write capacity report: %w", err)
		}
	}
	return nil
}

// againstPlan places a cost per athlete-month relative to the business plan's band.
func againstPlan(perAthleteMonth float64) string {
	switch {
	case perAthleteMonth < PlanLowPerAthleteMonth:
		return fmt.Sprintf("below the band: %.2g of its low end",
			perAthleteMonth/PlanLowPerAthleteMonth)
	case perAthleteMonth > PlanHighPerAthleteMonth:
		return fmt.Sprintf("above the band: %.2g times its high end",
			perAthleteMonth/PlanHighPerAthleteMonth)
	default:
		return "within the band"
	}
}

// count prints a number of things with a k, M or G suffix.
func count(n float64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.3g G", n/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.3g M", n/1e6)
	case n >= 1e4:
		return fmt.Sprintf("%.3g k", n/1e3)
	default:
		return fmt.Sprintf("%.0f", n)
	}
}

// Summary is a plan with everything it was computed from, the form
// `hydrocast capacity --format json` prints.
type Summary struct {
	Bench    Bench           `json:"bench"`
	Sources  []Source        `json:"sources"`
	Workload WorkloadSummary `json:"workload"`
	Prices   Prices          `json:"prices"`
	Plan     Plan            `json:"plan"`

	// PlanLow and PlanHigh are the business plan's band per registered
	// athlete-month, in US dollars; AgainstPlan places Plan.PerAthleteMonth in it.
	PlanLow     float64 `json:"plan_low_per_athlete_month"`
	PlanHigh    float64 `json:"plan_high_per_athlete_month"`
	AgainstPlan string  `json:"against_plan"`
}

// WorkloadSummary is a Workload with its durations in seconds.
type WorkloadSummary struct {
	RegisteredAthletes            float64 `json:"registered_athletes"`
	ActiveAthletes                float64 `json:"active_athletes"`
	PeakExercising                float64 `json:"peak_exercising"`
	ExerciseHoursPerActiveAthlete float64 `json:"exercise_hours_per_active_athlete"`
	SessionSeconds                float64 `json:"session_seconds"`
	ReadingIntervalSeconds        float64 `json:"reading_interval_seconds"`
	AssessmentIntervalSeconds     float64 `json:"assessment_interval_seconds"`
	RetentionMonths               float64 `json:"retention_months"`
	TrainingRunsPerMonth          float64 `json:"training_runs_per_month"`
	TrainingRowsPerRun            float64 `json:"training_rows_per_run"`
}

// Summarize gathers a plan and its inputs for printing as JSON.
func Summarize(b Bench, sources []Source, w Workload, pr Prices, p Plan) Summary {
	return Summary{
		Bench:   b,
		Sources: sources,
		Workload: WorkloadSummary{
			RegisteredAthletes:            w.RegisteredAthletes,
			ActiveAthletes:                w.ActiveAthletes,
			PeakExercising:                w.PeakExercising,
			ExerciseHoursPerActiveAthlete: w.ExerciseHoursPerActiveAthlete,
			SessionSeconds:                w.SessionLength.Seconds(),
			ReadingIntervalSeconds:        w.ReadingInterval.Seconds(),
			AssessmentIntervalSeconds:     w.AssessmentInterval.Seconds(),
			RetentionMonths:               w.RetentionMonths,
			TrainingRunsPerMonth:          w.TrainingRunsPerMonth,
			TrainingRowsPerRun:            w.TrainingRowsPerRun,
		},
		Prices:      pr,
		Plan:        p,
		PlanLow:     PlanLowPerAthleteMonth,
		PlanHigh:    PlanHighPerAthleteMonth,
		AgainstPlan: againstPlan(p.PerAthleteMonth),
	}
}

// WriteSources prints which figures came from the bench file and which from the
// baseline, one line each, after a report.
func WriteSources(out io.Writer, b Bench, sources []Source) error {
	if _, err := fmt.Fprintf(out, "figures: %s\n", b.MeasuredOn); err != nil {
		return fmt.Errorf("write capacity report: %w", err)
	}
	for _, s := range sources {
		from := s.From
		if s.Figure != "" {
			from += " (" + s.Figure + ")"
		}
		if _, err := fmt.Fprintf(out, "  %-40s %s\n", s.Field, from); err != nil {
			return fmt.Errorf("write capacity report: %w", err)
		}
	}
	return nil
}
