package importer_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/importer"
)

// e4CSV returns an E4 CSV file: start time and rate lines, then one sample a line.
func e4CSV(start int64, rate string, samples ...string) string {
	return fmt.Sprintf("%d.000000\n%s\n%s\n", start, rate, strings.Join(samples, "\n"))
}

func TestDecodeE4(t *testing.T) {
	hr, temp := features.HeartRate, features.SkinTemp
	start := t0.Unix()
	cases := []struct {
		name     string
		hr, temp string // "" for an absent file
		want     []features.Reading
	}{{
		name: "temperature averaged per second, heart rate starting later",
		temp: e4CSV(start, "4.000000", "32.0", "32.2", "32.4", "32.6", "33.0", "33.0", "33.2",
			"33.2", "33.5"),
		hr: e4CSV(start+2, "1.000000", "93.00", "101.00"),
		want: []features.Reading{
			at(0, sig{temp, 32.3}),
			at(1, sig{temp, 33.1}),
			at(2, sig{temp, 33.5}, sig{hr, 93}),
			at(3, sig{hr, 101}),
		},
	}, {
		name: "a fractional start time and extra columns",
		temp: fmt.Sprintf("%d.5, %[1]d.5\n2, 2\n30,1\n31,2\n32,3\n", start),
		want: []features.Reading{at(0, sig{temp, 30}), at(1, sig{temp, 31.5})},
	}, {
		name: "heart rate alone",
		hr:   e4CSV(start, "1", "80", "81") + "\n\n",
		want: []features.Reading{at(0, sig{hr, 80}), at(1, sig{hr, 81})},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := importer.DecodeE4(e4Files(tc.hr, tc.temp), testOpt)
			if err != nil {
				t.Fatalf("DecodeE4: %v", err)
			}
			if res.Format != importer.FormatE4 {
				t.Errorf("format %q, want %q", res.Format, importer.FormatE4)
			}
			sameReadings(t, res.Readings, tc.want, 1e-9)
		})
	}
}

func e4Files(hr, temp string) importer.E4Files {
	var files importer.E4Files
	if hr != "" {
		files.HR = strings.NewReader(hr)
	}
	if temp != "" {
		files.Temp = strings.NewReader(temp)
	}
	return files
}

func TestDecodeE4Errors(t *testing.T) {
	cases := []struct {
		name     string
		hr, temp string
		sentinel error
		mention  string
	}{
		{"sample not a number", e4CSV(1e9, "1", "80", "eighty"), "",
			importer.ErrMalformed, "HR.csv line 4"},
		{"sample not finite", "", e4CSV(1e9, "4", "NaN"),
			importer.ErrMalformed, "TEMP.csv line 3"},
		{"rate zero", e4CSV(1e9, "0", "80"), "", importer.ErrMalformed, "HR.csv line 2"},
		{"start negative", "", "-5\n4\n33\n", importer.ErrMalformed, "TEMP.csv line 1"},
		{"header cut", "1560279835.000000\n", "", importer.ErrMalformed, "HR.csv"},
		{"empty file", "", " ", importer.ErrMalformed, "TEMP.csv line 1"},
		{"header only", e4CSV(1e9, "1"), "", importer.ErrNoReadings, "e4"},
		{"no files", "", "", importer.ErrNoReadings, "e4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := importer.DecodeE4(e4Files(tc.hr, tc.temp), testOpt)
			if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tc.sentinel, tc.mention)
			}
		})
	}
}

func TestReadE4(t *testing.T) {
	start := t0.Unix()
	cases := []struct {
		name     string
		files    map[string]string
		readings int
		warning  string // "" for none
	}{
		{"both files", map[string]string{
			"HR.csv":   e4CSV(start+1, "1", "90"),
			"TEMP.csv": e4CSV(start, "4", "33", "33", "33", "33"),
			"EDA.csv":  e4CSV(start, "4", "0.1"),
		}, 2, ""},
		{"temperature only", map[string]string{
			"TEMP.csv": e4CSV(start, "4", "33", "33", "33", "33", "34"),
		}, 2, "no HR.csv"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				path := filepath.Join(dir, name)
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			res, err := importer.ReadE4(dir, testOpt)
			if err != nil {
				t.Fatalf("ReadE4: %v", err)
			}
			if len(res.Readings) != tc.readings {
				t.Errorf("got %d readings, want %d", len(res.Readings), tc.readings)
			}
			got := strings.Join(res.Warnings, "; ")
			if tc.warning == "" && got != "" || !strings.Contains(got, tc.warning) {
				t.Errorf("warnings %q, want %q", got, tc.warning)
			}
		})
	}
}

func TestReadE4ErrorNamesFolder(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "HR.csv"), []byte("x\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := importer.ReadE4(dir, testOpt)
	if !errors.Is(err, importer.ErrMalformed) || !strings.Contains(err.Error(), dir) ||
		!strings.Contains(err.Error(), "HR.csv line 1") {
		t.Fatalf("err = %v, want ErrMalformed naming %s and HR.csv line 1", err, dir)
	}

	_, err = importer.ReadE4(t.TempDir(), testOpt)
	if !errors.Is(err, importer.ErrNoReadings) {
		t.Fatalf("empty folder: err = %v, want ErrNoReadings", err)
	}
}
