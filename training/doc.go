// Package training fits hydrocast's three model families on a cohort, compares them
// with their physiology baselines on athletes held out of the fit, exports them to
// ONNX and publishes them to the model registry.
//
// Features are computed by package features, the same code the server runs: each
// session's readings are replayed in time order into an athlete window and a vector is
// taken at each sampling minute, so training and serving cannot skew.
//
// The fitting core works on gonum matrices: ridge regression with standardised inputs
// (several outputs at once), class-weighted logistic regression by iteratively
// reweighted least squares, residual quantiles for prediction intervals, mean
// imputation of missing inputs, splits by athlete and the metrics the reports carry.
package training
