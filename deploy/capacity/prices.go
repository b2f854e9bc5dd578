package capacity

// Prices are cloud list prices in US dollars, on demand, before discounts and free
// tiers.
type Prices struct {
	// Region is where the prices apply.
	Region string `json:"region"`

	// AsOf is the date the prices were read, YYYY-MM-DD.
	AsOf string `json:"as_of"`

	// VCPUHour and NodeGiBHour price the node machine type per vCPU-hour and per
	// GiB-hour of memory (GKE Standard bills the Compute Engine nodes).
	VCPUHour    float64 `json:"vcpu_hour"`
	NodeGiBHour float64 `json:"node_gib_hour"`

	// ClusterHour is the GKE cluster management fee per cluster-hour.
	ClusterHour float64 `json:"cluster_hour"`

	// RedisGiBHour is Memorystore for Redis capacity per GiB-hour.
	RedisGiBHour float64 `json:"redis_gib_hour"`

	// StorageGiBMonth is Cloud Storage Standard per GiB-month.
	StorageGiBMonth float64 `json:"storage_gib_month"`

	// BigQueryActiveGiBMonth and BigQueryLongTermGiBMonth are BigQuery logical storage
	// per GiB-month, for data modified in the last 90 days and for older data.
	BigQueryActiveGiBMonth   float64 `json:"bigquery_active_gib_month"`
	BigQueryLongTermGiBMonth float64 `json:"bigquery_long_term_gib_month"`

	// PubSubTiB is Pub/Sub throughput (publish and delivery each count) per TiB.
	PubSubTiB float64 `json:"pubsub_tib"`

	// Assumed names the prices that could not be confirmed from a published list and
	// are estimates; a report prints them as such.
	Assumed []string `json:"assumed"`
}

// ListPrices are Google Cloud's list prices for us-central1 (Iowa), read on 2026-12-03.
// docs/capacity.md gives the source of each and how it was confirmed; the Memorystore
// price is an assumption.
func ListPrices() Prices {
	return Prices{
		Region:                   "us-central1",
		AsOf:                     "2026-12-03",
		VCPUHour:                 0.031611, // N2 predefined vCPU, on demand
		NodeGiBHour:              0.004237, // N2 predefined memory, on demand
		ClusterHour:              0.10,
		RedisGiBHour:             0.054, // Standard Tier, 5-10 GB: not confirmed
		StorageGiBMonth:          0.020, // Standard, regional
		BigQueryActiveGiBMonth:   0.02,  // logical bytes, US
		BigQueryLongTermGiBMonth: 0.01,
		PubSubTiB:                40,
		Assumed:                  []string{"RedisGiBHour"},
	}
}

func (pr Prices) validate() error {
	return positive("prices", []field{
		{"vCPU-hour", pr.VCPUHour},
		{"node GiB-hour", pr.NodeGiBHour},
		{"cluster-hour", pr.ClusterHour},
		{"Redis GiB-hour", pr.RedisGiBHour},
		{"storage GiB-month", pr.StorageGiBMonth},
		{"BigQuery active GiB-month", pr.BigQueryActiveGiBMonth},
		{"BigQuery long-term GiB-month", pr.BigQueryLongTermGiBMonth},
		{"Pub/Sub TiB", pr.PubSubTiB},
	})
}
