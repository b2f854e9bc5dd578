package capacity

import (
	"bytes"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// The hand-computed case: small round numbers, each result worked out on paper below.
func handBench() Bench {
	return Bench{
		MeasuredOn:                        "by hand",
		IngestReadingsPerCoreSecond:       0.5,
		AssessPerCoreSecond:               0.25,
		AssessP99Seconds:                  0.01,
		RedisBytesPerAthlete:              1 << 27, // 128 MiB
		ParquetBytesPerReading:            100,
		BigQueryBytesPerReading:           200,
		PubSubBytesPerReading:             1000,
		TrainingCoreSecondsPerMillionRows: 600,
	}
}

func handWorkload() Workload {
	return Workload{
		RegisteredAthletes:            1000,
		ActiveAthletes:                100,
		PeakExercising:                20,
		ExerciseHoursPerActiveAthlete: 36.5,
		SessionLength:                 time.Hour,
		ReadingInterval:               10 * time.Second,
		AssessmentInterval:            20 * time.Second,
		RetentionMonths:               6,
		TrainingRunsPerMonth:          2,
		TrainingRowsPerRun:            3e6,
	}
}

func handPolicy() Policy {
	return Policy{
		TargetUtilization:     0.5,
		ServeCoresPerReplica:  2,
		IngestCoresPerReplica: 1,
		MinServeReplicas:      3,
		MinIngestReplicas:     3,
		NodeGiBPerVCPU:        4,
		SchedulableShare:      1,
		RedisFill:             0.5,
		RedisIdleTTL:          time.Hour,
		P99Budget:             50 * time.Millisecond,
	}
}

func handPrices() Prices {
	return Prices{
		Region: "test", AsOf: "2026-12-03",
		VCPUHour: 0.01, NodeGiBHour: 0.001, ClusterHour: 0.1, RedisGiBHour: 0.05,
		StorageGiBMonth: 0.02, BigQueryActiveGiBMonth: 0.02, BigQueryLongTermGiBMonth: 0.01,
		PubSubTiB: 40,
	}
}

func TestEstimateByHand(t *testing.T) {
	p, err := Estimate(handBench(), handWorkload(), handPolicy(), handPrices())
	if err != nil {
		t.Fatal(err)
	}

	// A core-hour costs 0.01 + 4 GiB × 0.001 = 0.014. The month holds
	// 100 athletes × 36.5 h × 360 readings/h = 1,314,000 readings; their bytes held for
	// six months: Parquet 1,314,000 × 100 × 6 = 788.4e6, BigQuery 1,314,000 × 200 = 262.8e6
	// a month, three months active and three long-term.
	const (
		parquetHeld = 788.4e6 / (1 << 30)
		bqMonth     = 262.8e6 / (1 << 30)
		pubsubMonth = 1.314e9 / (1 << 40)
	)
	storage := parquetHeld * 0.02
	bq := bqMonth * (3*0.02 + 3*0.01)
	pubsub := pubsubMonth * 40
	// Average: 100 × 36.5 / 730 = 5 exercising; serving needs 0.25/s ÷ 0.125 = 2 cores,
	// below the floor of 3 × 2; ingest 0.5/s ÷ 0.25 = 2 cores, below the floor of 3 × 1.
	// Serve 6 × 730 × 0.014 = 61.32; ingest 3 × 730 × 0.014 = 30.66; training
	// 2 × 3 × 600 s = 1 core-hour = 0.014; cluster 73. Redis holds the 20 exercising and
	// the 20 who stopped within the hour's TTL: 40 × 128 MiB ÷ 0.5 = 10 GiB,
	// 10 × 730 × 0.05 = 365.
	total := 61.32 + 30.66 + 0.014 + 73 + 365 + storage + bq + pubsub

	got := []struct {
		name      string
		got, want float64
	}{
		{"peak readings/s", p.PeakReadingsPerSecond, 2},
		{"peak assessments/s", p.PeakAssessmentsPerSecond, 1},
		{"average exercising", p.AverageExercising, 5},
		// 2 readings/s over 0.5 × 0.5 per core; 1 assessment/s over 0.25 × 0.5.
		{"ingest cores at peak", p.IngestCoresPeak, 8},
		{"serve cores at peak", p.ServeCoresPeak, 8},
		{"ingest replicas at peak", float64(p.IngestReplicasPeak), 8},
		{"serve replicas at peak", float64(p.ServeReplicasPeak), 4},
		{"serve cores on average", p.ServeCoresAverage, 6},
		{"ingest cores on average", p.IngestCoresAverage, 3},
		{"training core-hours", p.TrainingCoreHoursPerMonth, 1},
		{"Redis athletes", p.RedisAthletes, 40},
		{"Redis GiB", p.RedisGiB, 10},
		// (2 × 2 readings/s + 1 assessment/s) × 128 MiB.
		{"Redis bytes/s", p.RedisBytesPerSecondPeak, 5 << 27},
		{"readings/month", p.ReadingsPerMonth, 1314000},
		{"Parquet GiB held", p.ParquetGiBHeld, parquetHeld},
		{"BigQuery GiB/month", p.BigQueryGiBPerMonth, bqMonth},
		{"Pub/Sub TiB/month", p.PubSubTiBPerMonth, pubsubMonth},
		{"serve cost", p.Monthly.Serve, 61.32},
		{"ingest cost", p.Monthly.Ingest, 30.66},
		{"training cost", p.Monthly.Training, 0.014},
		{"cluster cost", p.Monthly.Cluster, 73},
		{"Redis cost", p.Monthly.Redis, 365},
		{"storage cost", p.Monthly.Storage, storage},
		{"BigQuery cost", p.Monthly.BigQuery, bq},
		{"Pub/Sub cost", p.Monthly.PubSub, pubsub},
		{"total", p.Monthly.Total(), total},
		// Peak all month: serve 4 × 2 = 8 cores and ingest 8 × 1 = 8 cores,
		// each 8 × 730 × 0.014 = 81.76.
		{"serve cost at peak", p.PeakProvisioned.Serve, 81.76},
		{"ingest cost at peak", p.PeakProvisioned.Ingest, 81.76},
		{"per athlete-month", p.PerAthleteMonth, total / 1000},
		{"per active athlete-month", p.PerActiveAthleteMonth, total / 100},
	}
	for _, g := range got {
		t.Run(g.name, func(t *testing.T) {
			if !near(g.got, g.want) {
				t.Errorf("got %v, want %v", g.got, g.want)
			}
		})
	}
	if len(p.Warnings) != 0 {
		t.Errorf("warnings %q, want none", p.Warnings)
	}
}

// near compares to a relative 1e-9: the hand figures are exact decimals that binary
// floating point only approximates.
func near(got, want float64) bool {
	return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))
}

func TestEstimateScalesWithLoad(t *testing.T) {
	// Ten times the athletes at the peak: ten times the peak cores and Redis memory,
	// the same average load and so the same autoscaled compute. The active athletes
	// are raised so that they do not cap Redis.
	w := handWorkload()
	w.ActiveAthletes = 1e6
	base, err := Estimate(handBench(), w, handPolicy(), handPrices())
	if err != nil {
		t.Fatal(err)
	}
	w.PeakExercising *= 10
	big, err := Estimate(handBench(), w, handPolicy(), handPrices())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"serve cores at peak", big.ServeCoresPeak, 10 * base.ServeCoresPeak},
		{"ingest cores at peak", big.IngestCoresPeak, 10 * base.IngestCoresPeak},
		{"Redis GiB", big.RedisGiB, 10 * base.RedisGiB},
		{"autoscaled serve cost", big.Monthly.Serve, base.Monthly.Serve},
		{"readings/month", big.ReadingsPerMonth, base.ReadingsPerMonth},
	} {
		if !near(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestEstimateWarns(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Bench)
		want   string
	}{
		{"slow calls", func(b *Bench) { b.AssessP99Seconds = 0.2 }, "p99"},
		// 40 athletes × 2 GiB ÷ 0.5 = 160 GiB fits; 5 × 2 GiB a second does not.
		{"Redis traffic", func(b *Bench) { b.RedisBytesPerAthlete = 1 << 31 }, "Gbit/s"},
		// 40 athletes × 4 GiB ÷ 0.5 = 320 GiB, over the 300 of one instance.
		{"Redis memory", func(b *Bench) { b.RedisBytesPerAthlete = 1 << 32 }, "GiB, over"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := handBench()
			c.change(&b)
			p, err := Estimate(b, handWorkload(), handPolicy(), handPrices())
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, w := range p.Warnings {
				found = found || strings.Contains(w, c.want)
			}
			if !found {
				t.Errorf("warnings %q, want one about %q", p.Warnings, c.want)
			}
		})
	}
}

func TestEstimateRefusesBadInput(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Bench, *Workload, *Policy, *Prices)
	}{
		{"zero throughput", func(b *Bench, _ *Workload, _ *Policy, _ *Prices) {
			b.AssessPerCoreSecond = 0
		}},
		{"NaN figure", func(b *Bench, _ *Workload, _ *Policy, _ *Prices) {
			b.RedisBytesPerAthlete = math.NaN()
		}},
		{"no athletes", func(_ *Bench, w *Workload, _ *Policy, _ *Prices) {
			w.ActiveAthletes = 0
		}},
		{"no interval", func(_ *Bench, w *Workload, _ *Policy, _ *Prices) {
			w.ReadingInterval = 0
		}},
		{"negative training", func(_ *Bench, w *Workload, _ *Policy, _ *Prices) {
			w.TrainingRowsPerRun = -1
		}},
		{"utilisation above 1", func(_ *Bench, _ *Workload, p *Policy, _ *Prices) {
			p.TargetUtilization = 1.5
		}},
		{"no replicas", func(_ *Bench, _ *Workload, p *Policy, _ *Prices) {
			p.MinServeReplicas = 0
		}},
		{"free Redis", func(_ *Bench, _ *Workload, _ *Policy, pr *Prices) {
			pr.RedisGiBHour = 0
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, w, p, pr := handBench(), handWorkload(), handPolicy(), handPrices()
			c.change(&b, &w, &p, &pr)
			if _, err := Estimate(b, w, p, pr); !errors.Is(err, ErrInvalid) {
				t.Errorf("err %v, want ErrInvalid", err)
			}
		})
	}
}

func TestReadBench(t *testing.T) {
	good, err := os.ReadFile("testdata/bench.json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := ReadBench(bytes.NewReader(good))
	if err != nil {
		t.Fatalf("read testdata/bench.json: %v", err)
	}
	if b.IngestReadingsPerCoreSecond != 2200 || b.PubSubBytesPerReading != 1150 {
		t.Errorf("decoded %+v", b)
	}

	cases := []struct {
		name, old, new string
	}{
		{"misspelt field", `"assess_per_core_second"`, `"assess_per_core_sec"`},
		{"missing figure", `"redis_bytes_per_athlete": 6552,`, ``},
		{"negative figure", `"parquet_bytes_per_reading": 22`,
			`"parquet_bytes_per_reading": -22`},
		{"string figure", `"pubsub_bytes_per_reading": 1150`,
			`"pubsub_bytes_per_reading": "1150"`},
		{"trailing data", "}\n", "}\n{}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !bytes.Contains(good, []byte(c.old)) {
				t.Fatalf("testdata/bench.json holds no %q", c.old)
			}
			bad := bytes.Replace(good, []byte(c.old), []byte(c.new), 1)
			if _, err := ReadBench(bytes.NewReader(bad)); !errors.Is(err, ErrInvalid) {
				t.Errorf("err %v, want ErrInvalid", err)
			}
		})
	}
}

func TestWriteReport(t *testing.T) {
	p, err := Estimate(handBench(), handWorkload(), handPolicy(), handPrices())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteReport(&buf, p, handWorkload(), handPrices()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	// The hand case costs some $350 a month for 1,000 athletes, $0.35 each: above the
	// plan's $0.05 by about seven times.
	for _, want := range []string{"serve cores", "8.0 (4 replicas)", "Redis", "10.0 GiB",
		"above the band", "test list prices read on 2026-12-03"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestAgainstPlan(t *testing.T) {
	cases := []struct {
		cost float64
		want string
	}{
		{0.001, "below the band: 0.1 of its low end"},
		{0.01, "within the band"},
		{0.05, "within the band"},
		{0.2, "above the band: 4 times its high end"},
	}
	for _, c := range cases {
		if got := againstPlan(c.cost); got != c.want {
			t.Errorf("againstPlan(%v) = %q, want %q", c.cost, got, c.want)
		}
	}
}

func TestCount(t *testing.T) {
	cases := []struct {
		n    float64
		want string
	}{
		{730, "730"},
		{164384, "164 k"},
		{1e6, "1 M"},
		{1.44e10, "14.4 G"},
	}
	for _, c := range cases {
		if got := count(c.n); got != c.want {
			t.Errorf("count(%v) = %q, want %q", c.n, got, c.want)
		}
	}
}
