// Package evaluation scores model versions on labelled rows and compares them:
// regression metrics (MAE, RMSE, R², bias, prediction-interval coverage), per-segment
// tables, the paired difference between two versions on the same rows with a
// bootstrap confidence interval, and the analysis of an A/B split once its labels
// have arrived, with the number of further labelled sessions a conclusive answer
// needs. Results encode as JSON and, as one long table, as Parquet.
//
// Drift statistics and reports live in the subpackage drift.
package evaluation
