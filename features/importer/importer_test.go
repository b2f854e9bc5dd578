package importer_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hydrocast/hydrocast/features/importer"
)

// writeFiles creates the files (name → content; a name ending in / is a folder) in a
// temporary folder and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		folder := filepath.Dir(path)
		if strings.HasSuffix(name, "/") {
			folder = path
		}
		if err := os.MkdirAll(folder, 0o755); err != nil {
			t.Fatal(err)
		}
		if folder == path {
			continue
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestDetect(t *testing.T) {
	fit := string(encodeFIT(t, session(3), importer.WriteOptions{}))
	tcx := tcxDoc(`<Trackpoint><Time>2025-07-14T09:30:00Z</Time>
		<HeartRateBpm><Value>62</Value></HeartRateBpm></Trackpoint>`)
	dir := writeFiles(t, map[string]string{
		"activity.bin":      fit,
		"export.xml":        tcx,
		"damaged.FIT":       "not a header",
		"damaged.tcx":       "",
		"notes.txt":         "hello",
		"e4/HR.csv":         e4CSV(1e9, "1", "80"),
		"e4-temp/TEMP.csv":  e4CSV(1e9, "4", "33"),
		"other/":            "",
		"short.bin":         "\x0e",
		"header-only.other": fit[:14],
	})
	cases := []struct {
		path string
		want importer.Format // "" for ErrUnknownFormat
	}{
		{"activity.bin", importer.FormatFIT},
		{"header-only.other", importer.FormatFIT},
		{"export.xml", importer.FormatTCX},
		{"damaged.FIT", importer.FormatFIT},
		{"damaged.tcx", importer.FormatTCX},
		{"e4", importer.FormatE4},
		{"e4-temp", importer.FormatE4},
		{"notes.txt", ""},
		{"short.bin", ""},
		{"other", ""},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			got, err := importer.Detect(filepath.Join(dir, tc.path))
			if tc.want == "" {
				if !errors.Is(err, importer.ErrUnknownFormat) {
					t.Fatalf("Detect = %q, %v; want ErrUnknownFormat", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Detect = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestImportFile(t *testing.T) {
	fit := string(encodeFIT(t, session(3), importer.WriteOptions{}))
	dir := writeFiles(t, map[string]string{
		"run.fit": fit,
		"run.tcx": tcxDoc(`<Trackpoint><Time>2025-07-14T09:30:00Z</Time>
			<HeartRateBpm><Value>62</Value></HeartRateBpm></Trackpoint>`),
		"e4/HR.csv":   e4CSV(1e9, "1", "80", "81"),
		"cut.fit":     fit[:20],
		"nothing.tcx": "<TrainingCenterDatabase></TrainingCenterDatabase>",
	})
	cases := []struct {
		path     string
		format   importer.Format
		readings int
		sentinel error
	}{
		{"run.fit", importer.FormatFIT, 3, nil},
		{"run.tcx", importer.FormatTCX, 1, nil},
		{"e4", importer.FormatE4, 2, nil},
		{"cut.fit", "", 0, importer.ErrMalformed},
		{"nothing.tcx", "", 0, importer.ErrNoReadings},
		{"absent.fit", "", 0, os.ErrNotExist},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			path := filepath.Join(dir, tc.path)
			res, err := importer.ImportFile(path, importer.Options{AthleteID: "a"})
			if tc.sentinel != nil {
				if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), path) {
					t.Fatalf("err = %v, want %v naming %s", err, tc.sentinel, path)
				}
				return
			}
			if err != nil {
				t.Fatalf("ImportFile: %v", err)
			}
			if res.Format != tc.format || len(res.Readings) != tc.readings {
				t.Fatalf("format %q with %d readings, want %q with %d",
					res.Format, len(res.Readings), tc.format, tc.readings)
			}
			// With no Source given, the format names the source.
			if r := res.Readings[0]; r.AthleteID != "a" || r.Source != string(tc.format) {
				t.Errorf("reading of %q from %q, want %q from %q",
					r.AthleteID, r.Source, "a", tc.format)
			}
		})
	}
}
