package main

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFormatValue(t *testing.T) {
	tests := []struct {
		v    float64
		unit string
		want string
	}{
		{850, "ns", "850 ns"},
		{20000, "ns", "20.0 µs"},
		{1234567, "ns", "1.23 ms"},
		{60e9, "ns", "60.0 s"},
		{6553.6, "B", "6.40 KiB"},
		{512, "B", "512 B"},
		{1e6, "readings/s", "1.00 M readings/s"},
		{957123, "readings/s", "957 k readings/s"},
		{999.5, "req/s", "1000 req/s"},
		{12.345, "req/s", "12.3 req/s"},
		{0.0214, "x", "0.0214 x"},
		{0, "ns", "0 ns"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := formatValue(tt.v, tt.unit); got != tt.want {
				t.Errorf("formatValue(%v, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	rep := &Report{Date: "2026-12-03T14:00:00Z", GoVersion: "go1.26", Cores: 2,
		LoadAverage: "1.00 0.50 0.25", Notes: []string{"models served: stand-in"},
		Figures: []Row{
			{Figure: "ingest", Unit: "readings/s", Measured: ptr(1.5e6), Goal: "≥ 1.00 M",
				Reference: "copy", ReferenceValue: ptr(3e7), Ratio: ptr(0.05),
				Verdict: Meets},
			{Figure: "batching", Unit: "req/s", Goal: "≥ 2.00 × ref",
				Reference: "no batching", Verdict: NotMeasured, Note: "not built"},
		}}
	var out bytes.Buffer
	if err := WriteTable(&out, rep); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"load average at the end: 1.00 0.50 0.25",
		"models served: stand-in",
		"1.50 M readings/s",
		"copy: 30.0 M readings/s",
		"0.0500×",
		"not measured: not built",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
	// tabwriter aligns by runes: the verdicts start under the header's "verdict".
	col := func(line, word string) int {
		return utf8.RuneCountInString(line[:strings.Index(line, word)])
	}
	var header, row string
	for _, l := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(l, "figure"):
			header = l
		case strings.HasPrefix(l, "ingest"):
			row = l
		}
	}
	if header == "" || row == "" || col(header, "verdict") != col(row, "meets") {
		t.Errorf("verdict column not aligned:\n%s", text)
	}
}
