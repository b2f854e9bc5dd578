// Package drift answers "is the live world still the one this model was trained on?".
//
// It has three layers. The statistics (PSI, Kolmogorov–Smirnov, Jensen–Shannon,
// Wasserstein-1, chi-square) compare two samples or two histograms and return either a
// finite value or ErrNotEnoughData; they never return NaN or ±Inf and never panic on
// any input. A Profile summarises a feature's training data (quantiles, a histogram on
// fixed bin edges, a bounded random sample) and is stored as JSON next to a model
// version. A Monitor keeps a bounded Sketch per feature of the live traffic, in total
// and per time bucket, and builds a Report against the Profile, rendered as JSON or as
// one self-contained HTML file. A Live keeps a Monitor per model version for a
// server: it creates them from each version's stored profile, saves them to a folder
// so that a restart resumes them (ReadState reads them back for reports) and exports
// the verdicts as Prometheus gauges.
//
// The test for each feature follows the defaults Evidently users know (see Options):
// with at most 1000 reference values a numeric feature is tested with KS (drift when
// p < 0.05) and a categorical one with chi-square (p < 0.05); with more, numeric
// features use the Wasserstein distance normalised by the reference's standard
// deviation (drift when ≥ 0.1) and categorical ones the Jensen–Shannon distance
// (≥ 0.1). A numeric feature with at most five distinct reference values counts as
// categorical. The dataset drifts when at least half of the evaluated features drift.
// PSI is reported for every feature as well, with 0.1 and 0.25 marking moderate and
// major shifts, and drives the drift-over-time series.
//
// Values that are NaN or ±Inf count as missing everywhere in this package.
package drift
