package offline_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/features"
)

// duckDB returns a function that runs SQL in DuckDB (the npm package of its Node.js
// API, installed once into .cache/duckdb) and returns the rows as JSON objects
// (BIGINTs come as strings, other numbers as numbers). It skips the test when
// Node.js or npm is missing, except under CI, where it fails.
func duckDB(t *testing.T) func(sql string) []map[string]any {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node not found: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, ".cache", "duckdb")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@duckdb", "node-api")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			missing("npm not found: %v", err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		pkg, err := os.ReadFile(filepath.Join(root, "scripts", "duckdb", "package.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "package.json"), pkg, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(npm, "install", "--no-audit", "--no-fund", "--prefix", dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			missing("npm install of DuckDB: %v\n%s", err, out)
		}
	}
	// ES modules resolve packages from the script's own folder: run a copy there.
	src, err := os.ReadFile(filepath.Join(root, "scripts", "duckdb", "query.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "query.mjs")
	if err := os.WriteFile(script, src, 0o644); err != nil {
		t.Fatal(err)
	}
	return func(sql string) []map[string]any {
		t.Helper()
		cmd := exec.Command(node, script, sql)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("duckdb %q: %v\n%s", sql, err, stderr)
		}
		var rows []map[string]any
		if err := json.Unmarshal(out, &rows); err != nil {
			t.Fatalf("duckdb output %q: %v", out, err)
		}
		return rows
	}
}

// TestDuckDBReadsTheOfflineStore has DuckDB, an engine that shares no code with
// hydrocast, read the store's files with hive partitioning, as an analyst would, and
// checks that it sees every reading with its values, times and date partitions.
func TestDuckDBReadsTheOfflineStore(t *testing.T) {
	query := duckDB(t)
	s := openStore(t, nil)
	rows := makeRows([]string{"b", "a"}, 90, time.Minute) // crosses midnight
	appendFlush(t, s, rows)

	var wantHR, wantSkin float64
	wantLate := 0
	for _, r := range rows {
		if v, ok := r.Get(features.HeartRate); ok {
			wantHR += v
		}
		if v, ok := r.Get(features.SkinTemp); ok {
			wantSkin += v
		}
		if r.Late {
			wantLate++
		}
	}
	glob := filepath.ToSlash(filepath.Join(s.Dir(), "readings", "*", "*.parquet"))
	got := query(fmt.Sprintf(`select count(*) as n, count(distinct athlete_id) as athletes,
		count(distinct date) as dates, sum(heart_rate_bpm) as hr, sum(skin_temp_c) as skin,
		sum(case when late then 1 else 0 end) as late,
		min(time) = '2025-07-14 23:00:00+00'::timestamptz as first_time
		from read_parquet('%s', hive_partitioning = true)`, glob))
	if len(got) != 1 {
		t.Fatalf("%d result rows, want 1", len(got))
	}
	r := got[0]
	num := func(k string) float64 {
		v, err := strconv.ParseFloat(fmt.Sprint(r[k]), 64)
		if err != nil {
			t.Fatalf("column %s = %q: %v", k, r[k], err)
		}
		return v
	}
	if num("n") != float64(len(rows)) || num("athletes") != 2 || num("dates") != 2 {
		t.Errorf("DuckDB sees %v rows of %v athletes over %v dates, want %d, 2, 2",
			r["n"], r["athletes"], r["dates"], len(rows))
	}
	if math.Abs(num("hr")-wantHR) > 1e-6 || math.Abs(num("skin")-wantSkin) > 1e-6 {
		t.Errorf("sums: heart rate %v, skin %v; want %v and %v", r["hr"], r["skin"],
			wantHR, wantSkin)
	}
	if int(num("late")) != wantLate || r["first_time"] != true {
		t.Errorf("late %v (want %d), first time matches: %v", r["late"], wantLate,
			r["first_time"])
	}
}
