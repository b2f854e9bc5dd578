// Package training fits hydrocast's three model families on a cohort, compares them
// with their physiology baselines on athletes held out of the fit, exports them to
// ONNX and publishes them to the model registry.
//
// Features are computed by package features, the same code the server runs: each
// session's readings are replayed in time order into an athlete window and a vector is
// taken at each sampling minute, so training and serving cannot skew.
//
// A run is gated: each candidate is compared on the held-out athletes with its
// baseline and with the registry's production version, and configured Gates decide
// whether it is published or recorded as a failed version with its reasons. Every
// published version carries a drift reference profile of its inputs and outputs.
// A Report's Fingerprints (data, config, code, seed) and its RunRecord make runs
// auditable and reproducible. Data comes from a simulated cohort folder or, through
// a RecordSource, from a training set such as training/bigquery streams;
// training/vertex runs jobs on Vertex AI.
//
// The fitting core works on gonum matrices: ridge regression with standardised inputs
// (several outputs at once), class-weighted logistic regression by iteratively
// reweighted least squares, residual quantiles for prediction intervals, mean
// imputation of missing inputs, splits by athlete and the metrics the reports carry.
package training
