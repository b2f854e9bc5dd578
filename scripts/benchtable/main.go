// Command benchtable prints the benchmark table of `make bench`: for each figure of
// the spec (docs/bench.yaml), the value measured in this run, its goal, the reference
// measured in the same run, their ratio and whether the goal is met. It reads the
// output of `go test -bench` and the JSON reports of ghz load tests, and writes the
// same table as JSON for machines. It is a developer tool that scripts/bench.sh runs,
// not part of the hydrocast binary.
//
//	benchtable -spec docs/bench.yaml -load var/bench/load -json var/bench/bench.json \
//	    -note "models: stand-in" var/bench/go/*.txt
//
// Go benchmark samples (-count) and load-test rounds are summarised by their median.
// A figure whose result is missing is printed as not measured, never dropped.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("benchtable", flag.ContinueOnError)
	specPath := fs.String("spec", "docs/bench.yaml", "the spec of the figures")
	loadDir := fs.String("load", "", "folder of ghz JSON reports named <test>.<round>.json")
	jsonPath := fs.String("json", "", "also write the table as JSON to this file")
	var notes []string
	fs.Func("note", "a line printed above the table and kept in the JSON (repeatable)",
		func(s string) error { notes = append(notes, s); return nil })
	if err := fs.Parse(args); err != nil {
		return err
	}

	spec, err := LoadSpec(*specPath)
	if err != nil {
		return err
	}
	res, warnings := readResults(fs.Args(), *loadDir)
	for _, w := range warnings {
		fmt.Fprintln(os.Stderr, "benchtable: warning:", w)
	}

	rep := &Report{Date: time.Now().UTC().Format(time.RFC3339), GoVersion: runtime.Version(),
		CPU: res.CPU, Cores: runtime.NumCPU(), LoadAverage: loadAverage(), Notes: notes,
		Figures: Evaluate(spec, res)}
	if err := WriteTable(os.Stdout, rep); err != nil {
		return fmt.Errorf("print table: %w", err)
	}
	if *jsonPath != "" {
		return writeReport(*jsonPath, rep)
	}
	return nil
}

// readResults reads every Go benchmark output file and the load-test folder. What
// cannot be read is returned as warnings: the figures it would have given are then
// printed as not measured.
func readResults(goFiles []string, loadDir string) (*Results, []error) {
	res := NewResults()
	var warnings []error
	for _, path := range goFiles {
		f, err := os.Open(path)
		if err != nil {
			warnings = append(warnings, err)
			continue
		}
		if err := res.AddGoBench(f, path); err != nil {
			warnings = append(warnings, err)
		}
		f.Close()
	}
	if loadDir != "" {
		if err := res.AddLoadDir(loadDir); err != nil {
			warnings = append(warnings, err)
		}
	}
	return res, warnings
}

// loadAverage returns the load average from /proc/loadavg, or "" where there is none.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	fields := strings.Fields(string(data))
	if len(fields) < 3 {
		return ""
	}
	return strings.Join(fields[:3], " ")
}

func writeReport(path string, rep *Report) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
