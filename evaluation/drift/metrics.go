package drift

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// The metrics a Live's collector exports, per model version and, where named, per
// feature (the model's inputs and outputs). Values are those of the last Flush.
var (
	descFeatureDrift = prometheus.NewDesc("hydrocast_feature_drift_detected",
		"1 when the feature's live distribution drifted from the training reference, "+
			"0 when it did not; absent without a verdict.",
		[]string{"model", "version", "feature", "test"}, nil)
	descFeatureScore = prometheus.NewDesc("hydrocast_feature_drift_score",
		"The feature's drift test score: a p-value for ks and chi_square (drift when "+
			"below the threshold), a distance otherwise (drift when at or above it).",
		[]string{"model", "version", "feature", "test"}, nil)
	descFeatureThreshold = prometheus.NewDesc("hydrocast_feature_drift_threshold",
		"The threshold the feature's drift test score is compared with.",
		[]string{"model", "version", "feature", "test"}, nil)
	descFeaturePSI = prometheus.NewDesc("hydrocast_feature_drift_psi",
		"Population stability index of the feature, live against reference "+
			"(0.1 moderate, 0.25 major shift).",
		[]string{"model", "version", "feature"}, nil)
	descDriftedShare = prometheus.NewDesc("hydrocast_dataset_drift_share",
		"Share of the version's evaluated features that drifted.",
		[]string{"model", "version"}, nil)
	descDatasetDrift = prometheus.NewDesc("hydrocast_dataset_drift_detected",
		"1 when the share of drifted features reaches the dataset drift share.",
		[]string{"model", "version"}, nil)
	descLiveRows = prometheus.NewDesc("hydrocast_drift_live_rows",
		"Live rows observed for the version since its sketches started (restarts "+
			"included).",
		[]string{"model", "version"}, nil)
)

// Collector returns the Prometheus collector of the drift metrics, for the caller
// to register on its registry. The values change on each Flush (every
// FlushInterval under Run), not on scrape, so a scrape costs no statistics.
func (l *Live) Collector() prometheus.Collector { return liveCollector{l} }

type liveCollector struct{ l *Live }

// Describe sends the descriptors of every drift metric.
func (c liveCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descFeatureDrift, descFeatureScore,
		descFeatureThreshold, descFeaturePSI, descDriftedShare, descDatasetDrift,
		descLiveRows} {
		ch <- d
	}
}

// Collect sends the values of the last flush.
func (c liveCollector) Collect(ch chan<- prometheus.Metric) {
	c.l.metricsMu.Lock()
	defer c.l.metricsMu.Unlock()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for k, r := range c.l.reports {
		ver := strconv.Itoa(k.Version)
		gauge(descLiveRows, float64(r.LiveRows), k.Model, ver)
		if r.Evaluated > 0 {
			gauge(descDriftedShare, r.DriftedShare, k.Model, ver)
			gauge(descDatasetDrift, boolValue(r.DatasetDrift), k.Model, ver)
		}
		for _, f := range r.Features {
			if f.Status != StatusOK {
				continue
			}
			test := string(f.Test)
			gauge(descFeatureDrift, boolValue(f.Drift), k.Model, ver, f.Name, test)
			gauge(descFeatureScore, f.Score, k.Model, ver, f.Name, test)
			gauge(descFeatureThreshold, f.Threshold, k.Model, ver, f.Name, test)
			gauge(descFeaturePSI, f.PSI, k.Model, ver, f.Name)
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
