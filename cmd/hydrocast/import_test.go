package main

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/offline"
)

// offlineReadings returns the readings the offline store under home holds.
func offlineReadings(t *testing.T, home string) []offline.Row {
	t.Helper()
	s, err := offline.Open(filepath.Join(home, "offline"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var rows []offline.Row
	for r, err := range s.Rows(context.Background(), offline.Query{}) {
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	return rows
}

func TestImportCSVWithColumnMap(t *testing.T) {
	home := t.TempDir()
	path := filepath.Join(t.TempDir(), "log.csv")
	writeFile(t, path, "Time,HR,\"Amb. Temp.\",Note\n"+
		"14.07.2025 11:30:00,120,31.5,start\n"+
		"14.07.2025 11:30:30,121,,\n"+
		"14.07.2025 11:31:00,999,31.0,strap slipped\n")
	out, _, err := runSub(t, home, newImportCommand, path, "--athlete", "a-17",
		"--map", `heart_rate_bpm=HR,ambient_temp_c="Amb. Temp."`, "--time-column", "Time",
		"--time-format", "02.01.2006 15:04:05", "--time-zone", "Europe/Paris")
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	for _, want := range []string{"imported 3 readings from 1 file",
		"1 reading failed validation", "heart_rate_bpm: 1, e.g. 999 outside"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	rows := offlineReadings(t, home)
	if len(rows) != 3 {
		t.Fatalf("offline store holds %d readings, want 3", len(rows))
	}
	first := rows[0]
	// 11:30 in Paris in July is 09:30 UTC.
	if !first.Time.Equal(t0Import) || first.AthleteID != "a-17" || first.Source != "csv" ||
		first.Values[features.HeartRate] != 120 || first.Values[features.AmbientTemp] != 31.5 {
		t.Errorf("first reading %+v", first)
	}
	if !math.IsNaN(rows[1].Values[features.AmbientTemp]) {
		t.Errorf("an empty cell read as %v, want missing", rows[1].Values[features.AmbientTemp])
	}
	if first.IngestTime.IsZero() || time.Since(first.IngestTime) > time.Hour {
		t.Errorf("ingest time %v, want the import's", first.IngestTime)
	}
}

func TestImportFITAndTCX(t *testing.T) {
	home := t.TempDir()
	dir := t.TempDir()
	fit := writeFITFile(t, dir, 10)
	tcx := filepath.Join(dir, "ride.tcx")
	writeFile(t, tcx, `<?xml version="1.0" encoding="UTF-8"?>
<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">
 <Activities><Activity Sport="Biking"><Id>2025-07-14T12:00:00Z</Id>
  <Lap StartTime="2025-07-14T12:00:00Z"><Track>
   <Trackpoint><Time>2025-07-14T12:00:00Z</Time>
    <HeartRateBpm><Value>140</Value></HeartRateBpm></Trackpoint>
  </Track></Lap></Activity></Activities>
</TrainingCenterDatabase>`)
	out, _, err := runSub(t, home, newImportCommand, fit, tcx, "--athlete", "a-17",
		"--source", "garmin-1")
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if !strings.Contains(out, "imported 11 readings from 2 files") {
		t.Errorf("import printed %q", out)
	}
	rows := offlineReadings(t, home)
	if len(rows) != 11 || rows[10].Values[features.HeartRate] != 140 ||
		rows[10].Source != "garmin-1" {
		t.Fatalf("offline store holds %d readings, the last %+v", len(rows), rows[len(rows)-1])
	}
}

func TestImportFlagErrors(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "log.csv")
	writeFile(t, csv, "Time,HR\n2025-07-14T09:30:00Z,120\n")
	fit := writeFITFile(t, dir, 2)
	cases := []struct {
		name string
		args []string
		want string // in the error
	}{
		{"no athlete", []string{fit}, "--athlete"},
		{"table without a map", []string{csv, "--athlete", "a"}, "--map"},
		{"table without a time column", []string{csv, "--athlete", "a", "--map",
			"heart_rate_bpm=HR"}, "--time-column"},
		{"unknown signal", []string{csv, "--athlete", "a", "--map", "pulse=HR",
			"--time-column", "Time"}, `--map: column map at byte 0: unknown signal "pulse"`},
		{"missing column", []string{csv, "--athlete", "a", "--map", "heart_rate_bpm=Pulse",
			"--time-column", "Time"}, "Pulse"},
		{"bad time format", []string{csv, "--athlete", "a", "--map", "heart_rate_bpm=HR",
			"--time-column", "Time", "--time-format", "daily"}, "time format"},
		{"bad zone", []string{csv, "--athlete", "a", "--map", "heart_rate_bpm=HR",
			"--time-column", "Time", "--time-zone", "Mars/Olympus"}, "--time-zone"},
		{"bad destination", []string{fit, "--athlete", "a", "--to", "s3"}, "--to"},
		{"bad format", []string{fit, "--athlete", "a", "--format", "gpx"}, "--format"},
		{"table flag on a fit file", []string{fit, "--athlete", "a", "--format", "fit",
			"--time-column", "t"}, "--time-column"},
		{"missing file", []string{filepath.Join(dir, "nope.fit"), "--athlete", "a"},
			"nope.fit"},
		// Nothing of the readable first file is written when the second fails.
		{"second file missing", []string{fit, filepath.Join(dir, "nope.fit"), "--athlete",
			"a"}, "nope.fit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			home := t.TempDir()
			_, _, err := runSub(t, home, newImportCommand, c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("import %q: %v, want an error containing %q", c.args, err, c.want)
			}
			if rows := offlineReadings(t, home); len(rows) != 0 {
				t.Errorf("a failed import wrote %d readings", len(rows))
			}
		})
	}
}

// ingestRecorder is a hydrocast server that only counts the readings streamed to
// its Ingest.
type ingestRecorder struct {
	hydrocastv1.UnimplementedHydrocastServiceServer
	mu       sync.Mutex
	athletes map[string]int
}

func (s *ingestRecorder) Ingest(stream hydrocastv1.HydrocastService_IngestServer) error {
	var n int64
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&hydrocastv1.IngestResponse{Accepted: n})
		}
		if err != nil {
			return err
		}
		s.mu.Lock()
		for _, r := range req.Readings {
			s.athletes[r.AthleteId]++
			n++
		}
		s.mu.Unlock()
	}
}

func TestImportToServer(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	rec := &ingestRecorder{athletes: map[string]int{}}
	hydrocastv1.RegisterHydrocastServiceServer(gs, rec)
	go gs.Serve(lis)
	defer gs.Stop()

	home := t.TempDir()
	fit := writeFITFile(t, t.TempDir(), 25)
	out, _, err := runSub(t, home, newImportCommand, fit, "--athlete", "a-17", "--to",
		"server,offline", "--server", lis.Addr().String(), "--batch", "10")
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if rec.athletes["a-17"] != 25 {
		t.Errorf("server received %v, want 25 readings of a-17", rec.athletes)
	}
	if !strings.Contains(out, "server: 25 accepted") {
		t.Errorf("import printed %q", out)
	}
	if rows := offlineReadings(t, home); len(rows) != 25 {
		t.Errorf("offline store holds %d readings, want 25", len(rows))
	}
}

// TestImportParquetTable imports the Parquet file an offline store wrote, by its
// column names, with the athlete taken from a column.
func TestImportParquetTable(t *testing.T) {
	first := t.TempDir()
	fit := writeFITFile(t, t.TempDir(), 12)
	if _, _, err := runSub(t, first, newImportCommand, fit, "--athlete", "a-17"); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(first, "offline", "readings", "*", "*.parquet"))
	if err != nil || len(files) != 1 {
		t.Fatalf("offline files %q, %v; want one", files, err)
	}

	home := t.TempDir()
	_, _, err = runSub(t, home, newImportCommand, files[0], "--format", "parquet",
		"--athlete-column", "athlete_id", "--source-column", "source",
		"--map", "heart_rate_bpm=heart_rate_bpm", "--time-column", "time")
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	got, want := offlineReadings(t, home), offlineReadings(t, first)
	if len(got) != 12 {
		t.Fatalf("imported %d readings, want 12", len(got))
	}
	for i := range got {
		if got[i].AthleteID != want[i].AthleteID || got[i].Source != want[i].Source ||
			!got[i].Time.Equal(want[i].Time) ||
			got[i].Values[features.HeartRate] != want[i].Values[features.HeartRate] {
			t.Fatalf("reading %d: %+v, want %+v", i, got[i].Reading, want[i].Reading)
		}
	}
}
