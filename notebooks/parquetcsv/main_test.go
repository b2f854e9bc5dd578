package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hydrocast/hydrocast/evaluation"
)

func TestCopyTreeWritesCSV(t *testing.T) {
	src := t.TempDir()
	var buf bytes.Buffer
	rows := []evaluation.Row{
		{Analysis: "metrics", Version: "3", Metric: "mae", Value: 0.25, Lower: math.NaN(),
			Upper: math.NaN(), N: 10, Output: "sweat_rate_l_per_h"},
		{Analysis: "comparison", Version: "b-a", Metric: "mae", Value: -0.5, Lower: -0.75,
			Upper: -0.25, N: 10},
	}
	if err := evaluation.WriteParquet(&buf, rows); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(src, "part=1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "part=1", "eval.parquet"), buf.Bytes(),
		0o644); err != nil {
		t.Fatal(err)
	}

	dst := t.TempDir()
	if err := copyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dst, "part=1", "eval.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want := "analysis,version,segment,metric,value,lower,upper,n,output\n" +
		"metrics,3,,mae,0.25,,,10,sweat_rate_l_per_h\n" +
		"comparison,b-a,,mae,-0.5,-0.75,-0.25,10,\n"
	if string(got) != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", got, want)
	}

	if err := copyTree(t.TempDir(), dst); err == nil || !strings.Contains(err.Error(),
		"no .parquet") {
		t.Errorf("empty folder: %v, want an error saying it holds no Parquet file", err)
	}
	if err := copyTree(filepath.Join(src, "missing.parquet"), dst); err == nil {
		t.Error("missing source: no error")
	}
}
