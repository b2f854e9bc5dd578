package capacity

import (
	"fmt"
	"math"
	"time"
)

// HoursPerMonth is the month cloud providers bill by: 730 hours.
const HoursPerMonth = 730

// Binary units, the ones Google Cloud bills storage and memory in (its "GB" is 2^30
// bytes).
const (
	gib = 1 << 30
	tib = 1 << 40
)

// activeMonths is how long BigQuery bills a table partition as active storage; a
// partition not modified for 90 days is billed at the long-term rate.
const activeMonths = 3

// Workload is the load to plan for.
type Workload struct {
	// RegisteredAthletes is every athlete with an account; the cost per athlete-month
	// divides by it.
	RegisteredAthletes float64

	// ActiveAthletes is how many athletes record at least one workout in a month.
	ActiveAthletes float64

	// PeakExercising is how many athletes stream readings at the busiest moment; it
	// sizes the replicas and Redis.
	PeakExercising float64

	// ExerciseHoursPerActiveAthlete is the hours one active athlete streams in a
	// month; with ActiveAthletes it gives the average load and the data volume.
	ExerciseHoursPerActiveAthlete float64

	// SessionLength is how long one workout streams; with Policy.RedisIdleTTL it says
	// how many athletes who have stopped still hold state in Redis.
	SessionLength time.Duration

	// ReadingInterval is the time between two readings of one exercising athlete.
	ReadingInterval time.Duration

	// AssessmentInterval is the time between two assessments of one exercising
	// athlete.
	AssessmentInterval time.Duration

	// RetentionMonths is how long readings are kept in the offline store and
	// BigQuery; the plan prices the storage held once that much has accumulated.
	RetentionMonths float64

	// TrainingRunsPerMonth is how many training runs a month holds.
	TrainingRunsPerMonth float64

	// TrainingRowsPerRun is how many feature rows one run trains on, after sampling.
	TrainingRowsPerRun float64
}

// DefaultWorkload is the target of the plan: 50 million registered athletes, 10
// million active in a month, 1 million exercising at the peak, a reading every 30 s and
// an assessment every minute. The exercise hours, retention and training figures are
// assumptions of this package, stated in docs/capacity.md.
func DefaultWorkload() Workload {
	return Workload{
		RegisteredAthletes:            50e6,
		ActiveAthletes:                10e6,
		PeakExercising:                1e6,
		ExerciseHoursPerActiveAthlete: 12,
		SessionLength:                 time.Hour,
		ReadingInterval:               30 * time.Second,
		AssessmentInterval:            time.Minute,
		RetentionMonths:               24,
		TrainingRunsPerMonth:          4,
		TrainingRowsPerRun:            100e6,
	}
}

// Policy holds the sizing choices that are not measurements.
type Policy struct {
	// TargetUtilization is the share of a core's measured throughput it is planned
	// to carry, leaving room for bursts and for the HPA to react; in (0, 1].
	TargetUtilization float64

	// ServeCoresPerReplica and IngestCoresPerReplica are the cores each replica
	// requests.
	ServeCoresPerReplica  float64
	IngestCoresPerReplica float64

	// MinServeReplicas and MinIngestReplicas are the floors kept at any load, one per
	// zone of the region.
	MinServeReplicas  int
	MinIngestReplicas int

	// NodeGiBPerVCPU is the memory that comes with each vCPU of the node machine type
	// (n2-standard: 4 GiB). It is billed whether pods use it or not.
	NodeGiBPerVCPU float64

	// SchedulableShare is the share of a node's cores that pods can request; GKE
	// keeps the rest for the kubelet and system daemons. In (0, 1].
	SchedulableShare float64

	// RedisFill is the share of the provisioned Redis memory the data may fill; the
	// rest absorbs fragmentation and the copy made during snapshots. In (0, 1].
	RedisFill float64

	// RedisIdleTTL is how long an athlete's state stays in Redis after the last
	// reading (features.redis.idle_ttl in hydrocast.yaml). Zero means it goes when
	// the session ends.
	RedisIdleTTL time.Duration

	// P99Budget is the Assess latency objective; a bench p99 above it is reported as
	// a warning.
	P99Budget time.Duration
}

// DefaultPolicy matches the prod overlay: 2-core serving replicas, 1-core ingest
// replicas, three of each at least, n2-standard nodes.
func DefaultPolicy() Policy {
	return Policy{
		TargetUtilization:     0.6,
		ServeCoresPerReplica:  2,
		IngestCoresPerReplica: 1,
		MinServeReplicas:      3,
		MinIngestReplicas:     3,
		NodeGiBPerVCPU:        4,
		SchedulableShare:      0.9,
		RedisFill:             0.7,
		RedisIdleTTL:          2 * time.Hour,
		P99Budget:             50 * time.Millisecond,
	}
}

// Costs is a month's cost by line, in US dollars.
type Costs struct {
	Serve    float64 `json:"serve"`    // inference server nodes
	Ingest   float64 `json:"ingest"`   // ingest worker nodes
	Training float64 `json:"training"` // training run nodes
	Cluster  float64 `json:"cluster"`  // GKE cluster management fee
	Redis    float64 `json:"redis"`    // Memorystore for Redis
	Storage  float64 `json:"storage"`  // Parquet files in Cloud Storage
	BigQuery float64 `json:"bigquery"` // BigQuery storage of the readings
	PubSub   float64 `json:"pubsub"`   // Pub/Sub throughput
}

// Total is the sum of the lines.
func (c Costs) Total() float64 {
	return c.Serve + c.Ingest + c.Training + c.Cluster + c.Redis + c.Storage + c.BigQuery +
		c.PubSub
}

// Plan is the model's output for one workload.
type Plan struct {
	PeakReadingsPerSecond    float64 `json:"peak_readings_per_second"`
	PeakAssessmentsPerSecond float64 `json:"peak_assessments_per_second"`

	// AverageExercising is how many athletes stream at an average moment of the month.
	AverageExercising float64 `json:"average_exercising"`

	// Cores needed at the peak, and the replicas that carry them.
	ServeCoresPeak     float64 `json:"serve_cores_peak"`
	IngestCoresPeak    float64 `json:"ingest_cores_peak"`
	ServeReplicasPeak  int     `json:"serve_replicas_peak"`
	IngestReplicasPeak int     `json:"ingest_replicas_peak"`

	// Cores held on average when the autoscalers follow the load, floors included.
	ServeCoresAverage  float64 `json:"serve_cores_average"`
	IngestCoresAverage float64 `json:"ingest_cores_average"`

	TrainingCoreHoursPerMonth float64 `json:"training_core_hours_per_month"`

	// RedisAthletes is how many athletes hold state in Redis at the peak: those
	// exercising and those who stopped less than the idle TTL ago.
	RedisAthletes float64 `json:"redis_athletes"`

	// RedisGiB is the Memorystore capacity to provision, for the peak.
	RedisGiB float64 `json:"redis_gib"`

	// RedisBytesPerSecondPeak is the traffic between hydrocast and Redis at the peak:
	// an update reads and writes an athlete's state, an assessment reads it.
	RedisBytesPerSecondPeak float64 `json:"redis_bytes_per_second_peak"`

	ReadingsPerMonth float64 `json:"readings_per_month"`

	// Storage added each month and held once RetentionMonths have accumulated.
	ParquetGiBPerMonth  float64 `json:"parquet_gib_per_month"`
	ParquetGiBHeld      float64 `json:"parquet_gib_held"`
	BigQueryGiBPerMonth float64 `json:"bigquery_gib_per_month"`
	BigQueryGiBHeld     float64 `json:"bigquery_gib_held"`

	PubSubTiBPerMonth float64 `json:"pubsub_tib_per_month"`

	// Monthly assumes the cluster autoscaler follows the HPAs, so nodes are paid for
	// the average load; PeakProvisioned keeps the peak's nodes all month, the bound for
	// a cluster that does not scale down.
	Monthly         Costs `json:"monthly"`
	PeakProvisioned Costs `json:"peak_provisioned"`

	// PerAthleteMonth divides Monthly by the registered athletes; PerActiveAthleteMonth
	// by the active ones.
	PerAthleteMonth       float64 `json:"per_athlete_month"`
	PerActiveAthleteMonth float64 `json:"per_active_athlete_month"`

	// Warnings name limits the plan runs into.
	Warnings []string `json:"warnings"`
}

// Limits of one Memorystore for Redis instance: 300 GB of data and 16 Gbit/s of
// network; beyond either, Redis Cluster spreads athletes over shards.
const (
	maxRedisInstanceGiB         = 300
	maxRedisInstanceBytesPerSec = 16e9 / 8
)

// Estimate computes the plan for a workload from the bench figures, the policy and
// the prices.
func Estimate(b Bench, w Workload, pol Policy, pr Prices) (Plan, error) {
	if err := validate(b, w, pol, pr); err != nil {
		return Plan{}, err
	}
	var p Plan

	// Load at the peak and on average.
	readEvery, assessEvery := w.ReadingInterval.Seconds(), w.AssessmentInterval.Seconds()
	p.PeakReadingsPerSecond = w.PeakExercising / readEvery
	p.PeakAssessmentsPerSecond = w.PeakExercising / assessEvery
	p.AverageExercising = w.ActiveAthletes * w.ExerciseHoursPerActiveAthlete / HoursPerMonth

	// Cores: the rate over what a core carries at the target utilisation.
	ingestPerCore := b.IngestReadingsPerCoreSecond * pol.TargetUtilization
	assessPerCore := b.AssessPerCoreSecond * pol.TargetUtilization
	p.IngestCoresPeak = p.PeakReadingsPerSecond / ingestPerCore
	p.ServeCoresPeak = p.PeakAssessmentsPerSecond / assessPerCore
	p.IngestReplicasPeak = replicas(p.IngestCoresPeak, pol.IngestCoresPerReplica,
		pol.MinIngestReplicas)
	p.ServeReplicasPeak = replicas(p.ServeCoresPeak, pol.ServeCoresPerReplica,
		pol.MinServeReplicas)

	// On average the HPAs run fewer replicas, never below their floors.
	p.IngestCoresAverage = math.Max(p.AverageExercising/readEvery/ingestPerCore,
		float64(pol.MinIngestReplicas)*pol.IngestCoresPerReplica)
	p.ServeCoresAverage = math.Max(p.AverageExercising/assessEvery/assessPerCore,
		float64(pol.MinServeReplicas)*pol.ServeCoresPerReplica)
	p.TrainingCoreHoursPerMonth = w.TrainingRunsPerMonth * w.TrainingRowsPerRun / 1e6 *
		b.TrainingCoreSecondsPerMillionRows / 3600

	// Memory for everyone exercising at the peak and everyone who stopped within the
	// idle TTL, taking the peak to last that long; never more than the active athletes.
	p.RedisAthletes = math.Min(w.ActiveAthletes,
		w.PeakExercising*(1+pol.RedisIdleTTL.Seconds()/w.SessionLength.Seconds()))
	p.RedisGiB = p.RedisAthletes * b.RedisBytesPerAthlete / pol.RedisFill / gib
	p.RedisBytesPerSecondPeak = (2*p.PeakReadingsPerSecond + p.PeakAssessmentsPerSecond) *
		b.RedisBytesPerAthlete

	// Data volume.
	p.ReadingsPerMonth = w.ActiveAthletes * w.ExerciseHoursPerActiveAthlete * 3600 /
		readEvery
	p.ParquetGiBPerMonth = p.ReadingsPerMonth * b.ParquetBytesPerReading / gib
	p.ParquetGiBHeld = p.ParquetGiBPerMonth * w.RetentionMonths
	p.BigQueryGiBPerMonth = p.ReadingsPerMonth * b.BigQueryBytesPerReading / gib
	p.BigQueryGiBHeld = p.BigQueryGiBPerMonth * w.RetentionMonths
	p.PubSubTiBPerMonth = p.ReadingsPerMonth * b.PubSubBytesPerReading / tib

	p.Monthly = p.costs(w, pol, pr, p.ServeCoresAverage, p.IngestCoresAverage)
	p.PeakProvisioned = p.costs(w, pol, pr,
		float64(p.ServeReplicasPeak)*pol.ServeCoresPerReplica,
		float64(p.IngestReplicasPeak)*pol.IngestCoresPerReplica)
	p.PerAthleteMonth = p.Monthly.Total() / w.RegisteredAthletes
	p.PerActiveAthleteMonth = p.Monthly.Total() / w.ActiveAthletes

	p.Warnings = warnings(p, b, pol)
	return p, nil
}

// costs prices a month with the given serving and ingest cores.
func (p Plan) costs(w Workload, pol Policy, pr Prices, serveCores, ingestCores float64) Costs {
	// A requested core costs the node's vCPU, the memory that comes with it, and the
	// share of the node pods cannot request.
	coreHour := (pr.VCPUHour + pol.NodeGiBPerVCPU*pr.NodeGiBHour) / pol.SchedulableShare

	// BigQuery bills a partition as active for its first three months.
	active := math.Min(w.RetentionMonths, activeMonths)
	longTerm := w.RetentionMonths - active

	return Costs{
		Serve:    serveCores * HoursPerMonth * coreHour,
		Ingest:   ingestCores * HoursPerMonth * coreHour,
		Training: p.TrainingCoreHoursPerMonth * coreHour,
		Cluster:  HoursPerMonth * pr.ClusterHour,
		Redis:    p.RedisGiB * HoursPerMonth * pr.RedisGiBHour,
		Storage:  p.ParquetGiBHeld * pr.StorageGiBMonth,
		BigQuery: p.BigQueryGiBPerMonth * (active*pr.BigQueryActiveGiBMonth +
			longTerm*pr.BigQueryLongTermGiBMonth),
		PubSub: p.PubSubTiBPerMonth * pr.PubSubTiB,
	}
}

// replicas is the number of replicas of the given size that carry the cores, at least
// the floor.
func replicas(cores, perReplica float64, floor int) int {
	return max(int(math.Ceil(cores/perReplica)), floor)
}

func warnings(p Plan, b Bench, pol Policy) []string {
	var out []string
	if p99 := time.Duration(b.AssessP99Seconds * float64(time.Second)); p99 > pol.P99Budget {
		out = append(out, fmt.Sprintf("measured Assess p99 %v exceeds the %v budget; more "+
			"replicas do not shorten a call", p99.Round(time.Microsecond), pol.P99Budget))
	}
	if p.RedisGiB > maxRedisInstanceGiB {
		out = append(out, fmt.Sprintf("Redis needs %.0f GiB, over the %d GB of one "+
			"Memorystore instance: use Redis Cluster and shard by athlete", p.RedisGiB,
			maxRedisInstanceGiB))
	}
	if p.RedisBytesPerSecondPeak > maxRedisInstanceBytesPerSec {
		out = append(out, fmt.Sprintf("Redis traffic %.1f Gbit/s at the peak, over the "+
			"16 Gbit/s of one Memorystore instance: use Redis Cluster",
			p.RedisBytesPerSecondPeak*8/1e9))
	}
	return out
}

// validate checks every input the arithmetic divides by or multiplies with.
func validate(b Bench, w Workload, pol Policy, pr Prices) error {
	if err := b.Validate(); err != nil {
		return err
	}
	if err := positive("workload", []field{
		{"registered athletes", w.RegisteredAthletes},
		{"active athletes", w.ActiveAthletes},
		{"peak exercising", w.PeakExercising},
		{"exercise hours", w.ExerciseHoursPerActiveAthlete},
		{"session length", w.SessionLength.Seconds()},
		{"reading interval", w.ReadingInterval.Seconds()},
		{"assessment interval", w.AssessmentInterval.Seconds()},
		{"retention months", w.RetentionMonths},
	}); err != nil {
		return err
	}
	if w.TrainingRunsPerMonth < 0 || w.TrainingRowsPerRun < 0 || pol.RedisIdleTTL < 0 {
		return fmt.Errorf("training or idle TTL: %w: must not be negative", ErrInvalid)
	}
	if err := positive("policy", []field{
		{"target utilization", pol.TargetUtilization},
		{"serve cores per replica", pol.ServeCoresPerReplica},
		{"ingest cores per replica", pol.IngestCoresPerReplica},
		{"min serve replicas", float64(pol.MinServeReplicas)},
		{"min ingest replicas", float64(pol.MinIngestReplicas)},
		{"node GiB per vCPU", pol.NodeGiBPerVCPU},
		{"schedulable share", pol.SchedulableShare},
		{"redis fill", pol.RedisFill},
		{"p99 budget", pol.P99Budget.Seconds()},
	}); err != nil {
		return err
	}
	for _, f := range []field{{"target utilization", pol.TargetUtilization},
		{"schedulable share", pol.SchedulableShare}, {"redis fill", pol.RedisFill}} {
		if f.value > 1 {
			return fmt.Errorf("policy %s = %v: %w: must be at most 1", f.name, f.value,
				ErrInvalid)
		}
	}
	return pr.validate()
}
