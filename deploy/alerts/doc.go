// Package alerts holds example Prometheus alerting rules on hydrocast's drift gauges
// (drift.yaml); its test checks them against the metrics the code exports.
package alerts
