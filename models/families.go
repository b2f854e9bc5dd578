// Package models declares hydrocast's three model families: what each one consumes
// (feature names, in order, with units), what its outputs mean, and the physiology
// baselines each is compared with. Trainers in package training fit them; the
// inference server runs them by these signatures.
package models

// Names of the three model families, as registered in the model registry.
const (
	SweatRate         = "sweat-rate"
	ThermalTrajectory = "thermal-trajectory"
	Anomaly           = "anomaly"
)

// InputName is the name of every family's single input tensor: a float32 matrix of
// shape [batch, len(Features)].
const InputName = "features"

// Keys of the metadata_props that trainers write into every model's ONNX file, so
// that a served file carries what the server and a reader need to use it.
const (
	// MetaFamily holds the family's name.
	MetaFamily = "hydrocast.family"
	// MetaFeatures holds the input's feature names in column order, comma-separated.
	MetaFeatures = "hydrocast.features"
	// MetaSchemaVersion holds the feature schema version the features come from.
	MetaSchemaVersion = "hydrocast.feature_schema_version"
	// MetaImputeValues holds, as a JSON array of numbers in column order, the value a
	// server must feed for a missing input: the feature's training mean.
	MetaImputeValues = "hydrocast.impute_values"
	// MetaAlarmThreshold holds, for a classifier, the score at or above which an
	// alarm is raised: the threshold its evaluation used.
	MetaAlarmThreshold = "hydrocast.alarm_threshold"
	// MetaTrainedOn says what data the model was trained on: "simulated" or "real".
	MetaTrainedOn = "hydrocast.trained_on"
	// MetaGenerator names the simulator and version of simulated training data.
	MetaGenerator = "hydrocast.data_generator"
	// MetaSeed holds the seed of the training run (split and data generation).
	MetaSeed = "hydrocast.seed"
	// MetaCodeVersion holds the version of the code that trained the model.
	MetaCodeVersion = "hydrocast.code_version"
	// MetaData holds the fingerprint of the training data (a SHA-256, hex).
	MetaData = "hydrocast.data_sha256"
)

// Keys of the registry tags that trainers set on every version and servers read.
const (
	// TagImpute holds a JSON array with, per input column, the value a server feeds
	// for a missing feature: the training mean. The same array is in MetaImputeValues.
	TagImpute = "impute"
	// TagThreshold holds a classifier's alarm threshold, as in MetaAlarmThreshold.
	TagThreshold = "threshold"
)

// Family describes one model family's contract.
type Family struct {
	Name        string
	Description string
	// Features are the feature-store names the input tensor's columns read, in order.
	Features []string
	// Outputs are the output tensors, each of shape [batch, 1] unless noted.
	Outputs []Output
}

// Output describes one output tensor of a family.
type Output struct {
	Name string
	Unit string
	Doc  string
}

// Output names of the families.
const (
	OutSweatRate      = "sweat_rate_l_per_h"
	OutSweatRateLower = "sweat_rate_lower_l_per_h"
	OutSweatRateUpper = "sweat_rate_upper_l_per_h"
	OutCoreTemp15m    = "core_temp_15m_c"
	OutCoreTemp30m    = "core_temp_30m_c"
	OutCoreTemp60m    = "core_temp_60m_c"
	OutAnomalyScore   = "anomaly_score"
)

// Families lists the three families in the order the server runs them.
var Families = []Family{
	{
		Name:        SweatRate,
		Description: "whole-body sweat rate with an 80 % prediction interval",
		Features: []string{
			"heart_rate_bpm_mean_15m", "heart_rate_bpm_mean_60m", "skin_temp_c_mean_15m",
			"ambient_temp_c_last", "humidity_pct_last", "wbgt_c", "core_temp_ectemp_c",
			"metabolic_rate_w_per_m2", "speed_m_per_s_mean_15m", "elapsed_min",
			// What an athlete drinks follows, loosely, what they lose; with it the
			// held-out MAE fell by an eighth on the demo cohort.
			"fluid_cum_ml",
		},
		Outputs: []Output{
			{OutSweatRate, "L/h", "predicted sweat rate"},
			{OutSweatRateLower, "L/h", "10th percentile of the prediction"},
			{OutSweatRateUpper, "L/h", "90th percentile of the prediction"},
		},
	},
	{
		Name:        ThermalTrajectory,
		Description: "core temperature 15, 30 and 60 minutes ahead",
		Features: []string{
			"core_temp_ectemp_c", "heart_rate_bpm_mean_5m", "heart_rate_bpm_mean_15m",
			"heart_rate_bpm_slope_15m", "heart_rate_bpm_slope_60m", "skin_temp_c_mean_5m",
			"ambient_temp_c_last", "humidity_pct_last", "wbgt_c",
			"metabolic_rate_w_per_m2", "elapsed_min",
		},
		Outputs: []Output{
			{OutCoreTemp15m, "°C", "projected core temperature in 15 min"},
			{OutCoreTemp30m, "°C", "projected core temperature in 30 min"},
			{OutCoreTemp60m, "°C", "projected core temperature in 60 min"},
		},
	},
	{
		Name:        Anomaly,
		Description: "how unlike clean sensor data the last minutes look, 0 to 1",
		Features: []string{
			"heart_rate_bpm_std_5m", "heart_rate_bpm_min_5m", "heart_rate_bpm_max_5m",
			"heart_rate_bpm_coverage_5m", "heart_rate_bpm_slope_5m", "heart_rate_bpm_last",
			"heart_rate_bpm_mean_15m", "skin_temp_c_std_5m", "skin_temp_c_slope_5m",
			"skin_temp_c_coverage_5m", "skin_temp_c_last", "ambient_temp_c_last",
			"heart_rate_bpm_unchanged_min", "skin_temp_c_unchanged_min",
		},
		Outputs: []Output{
			{OutAnomalyScore, "1", "probability-like score that a sensor fault is present"},
		},
	},
}

// FamilyByName returns the family with the given name.
func FamilyByName(name string) (Family, bool) {
	for _, f := range Families {
		if f.Name == name {
			return f, true
		}
	}
	return Family{}, false
}

// FamilyNames returns the names of the families, in the order of Families.
func FamilyNames() []string {
	names := make([]string, len(Families))
	for i, f := range Families {
		names[i] = f.Name
	}
	return names
}
