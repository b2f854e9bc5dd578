package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hydrocast/hydrocast/features"
)

func newModelsFeaturesCommand(f *modelsFlags) *cobra.Command {
	var match string
	cmd := &cobra.Command{
		Use:   "features",
		Short: "List the features a model's inputs may read, with their units",
		Long: `Features lists the feature schema: every name --inputs-from-features accepts, in
schema order, with its unit and how old its freshest reading may be before the value
counts as stale. A served model's input is built from these by name.

Windowed signals have, per window of 5, 15 and 60 minutes, mean, min, max, std,
slope (per minute), count and coverage, then <signal>_last; derived features (core
temperature, WBGT, strain index, fluid, elapsed time, metabolic rate) follow.`,
		Example: `  hydrocast models features
  hydrocast models features --match heart_rate
  hydrocast models features --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printFeatures(cmd.OutOrStdout(), f.json, match)
		},
	}
	cmd.Flags().StringVar(&match, "match", "", "only the features whose name contains this")
	return cmd
}

// featureRow is one feature of the schema as the features command prints it.
type featureRow struct {
	Name       string `json:"name"`
	Unit       string `json:"unit"`
	StaleAfter string `json:"stale_after,omitempty"`
}

func printFeatures(w io.Writer, asJSON bool, match string) error {
	schema := features.CurrentSchema()
	var list []featureRow
	for i := range schema.Len() {
		ft := schema.Feature(i)
		if !strings.Contains(ft.Name, match) {
			continue
		}
		row := featureRow{Name: ft.Name, Unit: ft.Unit}
		if ft.TTL > 0 {
			row.StaleAfter = ft.TTL.String()
		}
		list = append(list, row)
	}
	if len(list) == 0 {
		return fmt.Errorf("no feature name contains %q", match)
	}
	if asJSON {
		return printJSON(w, struct {
			SchemaVersion int          `json:"schema_version"`
			Features      []featureRow `json:"features"`
		}{schema.Version(), list})
	}
	rows := make([][]string, len(list))
	for i, r := range list {
		rows[i] = []string{r.Name, r.Unit, orDash(r.StaleAfter)}
	}
	fmt.Fprintf(w, "feature schema version %d\n\n", schema.Version())
	return table(w, []string{"FEATURE", "UNIT", "STALE AFTER"}, rows)
}
