package importer_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/importer"
)

func TestParseColumnMap(t *testing.T) {
	tests := []struct {
		in   string
		want importer.ColumnMap
	}{
		{`heart_rate_bpm=HR,ambient_temp_c="Amb. Temp."`, importer.ColumnMap{
			features.HeartRate: "HR", features.AmbientTemp: "Amb. Temp."}},
		{` heart_rate_bpm = Heart Rate , skin_temp_c=T `, importer.ColumnMap{
			features.HeartRate: "Heart Rate", features.SkinTemp: "T"}},
		{`power_w="a ""quoted"", comma=b"`, importer.ColumnMap{
			features.Power: `a "quoted", comma=b`}},
		{`speed_m_per_s=" padded " ,cadence_per_min=x=y`, importer.ColumnMap{
			features.Speed: " padded ", features.Cadence: "x=y"}},
		{`"body_mass_kg"=kg`, importer.ColumnMap{features.BodyMass: "kg"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := importer.ParseColumnMap(tt.in)
			if err != nil {
				t.Fatalf("ParseColumnMap: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for s, col := range tt.want {
				if got[s] != col {
					t.Fatalf("%s maps to %q, want %q", s.Name(), got[s], col)
				}
			}
		})
	}
}

func TestParseColumnMapErrors(t *testing.T) {
	tests := []struct {
		in, want string // want: a part of the error's text
	}{
		{``, "byte 0: expected a signal name"},
		{`heart_rate_bpm`, "byte 14: expected = after heart_rate_bpm"},
		{`hr=HR`, `byte 0: unknown signal "hr"`},
		{`heart_rate_bpm=HR,heart_rate_bpm=B`, "byte 18: signal heart_rate_bpm mapped twice"},
		{`heart_rate_bpm="HR`, "byte 15: unterminated quote"},
		{`heart_rate_bpm="HR"x`, `byte 19: unexpected 'x' after a quoted name`},
		{`heart_rate_bpm=`, "byte 15: empty column name"},
		{`heart_rate_bpm=H"R`, "byte 16: quote inside an unquoted name"},
		{`heart_rate_bpm=HR,`, "byte 18: expected a signal name"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := importer.ParseColumnMap(tt.in)
			if !errors.Is(err, importer.ErrColumnMap) {
				t.Fatalf("error %v, want ErrColumnMap", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q lacks %q", err, tt.want)
			}
		})
	}
}

func TestColumnMapStringRoundTrip(t *testing.T) {
	m := importer.ColumnMap{features.HeartRate: "HR", features.Humidity: `"RH", %`,
		features.Power: " W", features.FluidIntake: "a=b"}
	back, err := importer.ParseColumnMap(m.String())
	if err != nil {
		t.Fatalf("parse %q: %v", m.String(), err)
	}
	if len(back) != len(m) {
		t.Fatalf("%q parsed to %v", m.String(), back)
	}
	for s, col := range m {
		if back[s] != col {
			t.Fatalf("%s: %q came back as %q", s.Name(), col, back[s])
		}
	}
}

// csvOpt maps HR and Amb. Temp. with an RFC 3339 time column "t".
var csvOpt = importer.TableOptions{
	Options:    importer.Options{AthleteID: "athlete-1"},
	Columns:    importer.ColumnMap{features.HeartRate: "HR", features.AmbientTemp: "Amb. Temp."},
	TimeColumn: "t",
}

// withOpt returns csvOpt changed by f.
func withOpt(f func(o *importer.TableOptions)) importer.TableOptions {
	o := csvOpt
	f(&o)
	return o
}

// rd returns a reading of hr and ambient temperature (NaN for missing).
func rd(athlete, source string, at time.Time, hr, amb float64) features.Reading {
	r := features.NewReading(athlete, source, at)
	r.Set(features.HeartRate, hr)
	r.Set(features.AmbientTemp, amb)
	return r
}

func TestDecodeCSV(t *testing.T) {
	nan := math.NaN()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database")
	}
	tests := []struct {
		name    string
		opt     importer.TableOptions
		csv     string
		want    []features.Reading
		skipped int
	}{
		{"rfc3339, fixed athlete", csvOpt,
			"t,HR,Amb. Temp.,other\n" +
				"2025-07-14T11:30:05+02:00,141,28.5,x\n" +
				"2025-07-14T09:30:00Z,140,,y\n",
			[]features.Reading{
				rd("athlete-1", "csv", t0, 140, nan),
				rd("athlete-1", "csv", t0.Add(5*time.Second), 141, 28.5)}, 0},
		{"unix seconds, athlete and source columns", withOpt(func(o *importer.TableOptions) {
			o.TimeFormat, o.AthleteColumn, o.SourceColumn = importer.TimeUnix, "who", "dev"
		}),
			"who,dev,t,HR,Amb. Temp.\n" +
				"ann,strap,1752485400.5,150,NA\n" +
				"bob,,1752485400,NaN,30\n",
			[]features.Reading{
				rd("bob", "csv", t0, nan, 30),
				rd("ann", "strap", t0.Add(500*time.Millisecond), 150, nan)}, 0},
		{"unix milliseconds", withOpt(func(o *importer.TableOptions) {
			o.TimeFormat = importer.TimeUnixMillis
		}),
			"t,HR,Amb. Temp.\n1752485400250,99,null\n",
			[]features.Reading{rd("athlete-1", "csv", t0.Add(250*time.Millisecond), 99, nan)},
			0},
		{"layout in a zone, semicolons, quoted header", withOpt(func(o *importer.TableOptions) {
			o.TimeFormat, o.Location, o.Comma = "02.01.2006 15:04:05", berlin, ';'
		}),
			"\ufefft;HR;\"Amb. Temp.\"\n14.07.2025 11:30:00;120;21\n",
			[]features.Reading{rd("athlete-1", "csv", t0, 120, 21)}, 0},
		{"rows without time or signals are skipped", csvOpt,
			"t,HR,Amb. Temp.\n,120,20\n2025-07-14T09:30:00Z,,\n2025-07-14T09:30:00Z,1,\n",
			[]features.Reading{rd("athlete-1", "csv", t0, 1, nan)}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := importer.DecodeCSV(strings.NewReader(tt.csv), tt.opt)
			if err != nil {
				t.Fatalf("DecodeCSV: %v", err)
			}
			if res.Format != importer.FormatCSV || res.Skipped != tt.skipped {
				t.Errorf("format %s skipped %d, want csv and %d", res.Format, res.Skipped,
					tt.skipped)
			}
			sameReadings(t, res.Readings, tt.want, 0)
		})
	}
}

func TestDecodeCSVErrors(t *testing.T) {
	tests := []struct {
		name string
		opt  importer.TableOptions
		csv  string
		want error
		text string // a part of the error's text
	}{
		{"bad number", csvOpt, "t,HR,Amb. Temp.\n2025-07-14T09:30:00Z,1,2\n" +
			"2025-07-14T09:30:01Z,abc,2\n", importer.ErrMalformed,
			`line 3, column 2 ("HR"): "abc" is not a finite number`},
		{"infinite number", csvOpt, "t,HR,Amb. Temp.\n2025-07-14T09:30:00Z,1,+Inf\n",
			importer.ErrMalformed, `line 2, column 3 ("Amb. Temp.")`},
		{"bad time", csvOpt, "HR,t,Amb. Temp.\n1,14/07/2025,2\n", importer.ErrMalformed,
			`line 2, column 2 ("t"): "14/07/2025" is not an RFC 3339 time`},
		{"bad unix time", withOpt(func(o *importer.TableOptions) { o.TimeFormat = "unix" }),
			"t,HR,Amb. Temp.\n1e300,1,2\n", importer.ErrMalformed, "not a Unix time"},
		{"missing column", csvOpt, "t,HeartRate,Amb. Temp.\n", importer.ErrMalformed,
			`no column "HR" (for heart_rate_bpm)`},
		{"ragged row", csvOpt, "t,HR,Amb. Temp.\n2025-07-14T09:30:00Z,1\n",
			importer.ErrMalformed, "line 2"},
		{"empty athlete", withOpt(func(o *importer.TableOptions) { o.AthleteColumn = "who" }),
			"who,t,HR,Amb. Temp.\n ,2025-07-14T09:30:00Z,1,2\n", importer.ErrMalformed,
			`line 2, column 1 ("who"): empty athlete id`},
		{"no readings", csvOpt, "t,HR,Amb. Temp.\n", importer.ErrNoReadings, ""},
		{"empty input", csvOpt, "", importer.ErrNoReadings, ""},
		{"no time column", withOpt(func(o *importer.TableOptions) { o.TimeColumn = "" }),
			"", importer.ErrColumnMap, "no time column"},
		{"no signals", withOpt(func(o *importer.TableOptions) { o.Columns = nil }),
			"", importer.ErrColumnMap, "no signal columns"},
		{"no athlete", withOpt(func(o *importer.TableOptions) { o.AthleteID = "" }),
			"", importer.ErrColumnMap, "athlete"},
		{"not a layout", withOpt(func(o *importer.TableOptions) { o.TimeFormat = "yyyy-mm-dd" }),
			"", importer.ErrColumnMap, `time format "yyyy-mm-dd"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := importer.DecodeCSV(strings.NewReader(tt.csv), tt.opt)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("error %q lacks %q", err, tt.text)
			}
		})
	}
}

// parquetTable writes a Parquet file of the given columns.
func parquetTable(t testing.TB, fields []arrow.Field, cols []arrow.Array) []byte {
	t.Helper()
	sc := arrow.NewSchema(fields, nil)
	rec := array.NewRecord(sc, cols, int64(cols[0].Len()))
	defer rec.Release()
	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(sc, &buf, nil, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sampleParquet holds two rows and a row without time: ts (timestamp ms UTC), HR
// (int32, one null), Amb. Temp. (float32), who (string).
func sampleParquet(t testing.TB) []byte {
	mem := memory.DefaultAllocator
	ts := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Millisecond,
		TimeZone: "UTC"})
	ts.AppendValues([]arrow.Timestamp{arrow.Timestamp(t0.Add(time.Second).UnixMilli()),
		arrow.Timestamp(t0.UnixMilli()), 0}, []bool{true, true, false})
	hr := array.NewInt32Builder(mem)
	hr.AppendValues([]int32{131, 0, 7}, []bool{true, false, true})
	amb := array.NewFloat32Builder(mem)
	amb.AppendValues([]float32{25.5, 26, 1}, nil)
	who := array.NewStringBuilder(mem)
	who.AppendValues([]string{"ann", "bob", "cid"}, nil)

	return parquetTable(t, []arrow.Field{
		{Name: "ts", Type: ts.Type(), Nullable: true},
		{Name: "HR", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "Amb. Temp.", Type: arrow.PrimitiveTypes.Float32},
		{Name: "who", Type: arrow.BinaryTypes.String},
	}, []arrow.Array{ts.NewArray(), hr.NewArray(), amb.NewArray(), who.NewArray()})
}

func TestDecodeParquet(t *testing.T) {
	opt := withOpt(func(o *importer.TableOptions) { o.TimeColumn, o.AthleteColumn = "ts", "who" })
	res, err := importer.DecodeParquet(bytes.NewReader(sampleParquet(t)), opt)
	if err != nil {
		t.Fatalf("DecodeParquet: %v", err)
	}
	if res.Format != importer.FormatParquet || res.Skipped != 1 {
		t.Errorf("format %s skipped %d, want parquet and 1", res.Format, res.Skipped)
	}
	sameReadings(t, res.Readings, []features.Reading{
		rd("bob", "parquet", t0, math.NaN(), 26),
		rd("ann", "parquet", t0.Add(time.Second), 131, 25.5),
	}, 0)
}

func TestDecodeParquetTimes(t *testing.T) {
	mem := memory.DefaultAllocator
	ms := array.NewInt64Builder(mem)
	ms.Append(t0.UnixMilli())
	str := array.NewStringBuilder(mem)
	str.Append("2025-07-14 09:30:00")
	naive := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Microsecond})
	naive.Append(arrow.Timestamp(t0.Add(2 * time.Hour).UnixMicro()))
	hr := array.NewFloat64Builder(mem)
	hr.Append(100)
	data := parquetTable(t, []arrow.Field{
		{Name: "ms", Type: arrow.PrimitiveTypes.Int64},
		{Name: "str", Type: arrow.BinaryTypes.String},
		{Name: "naive", Type: naive.Type()},
		{Name: "HR", Type: arrow.PrimitiveTypes.Float64},
	}, []arrow.Array{ms.NewArray(), str.NewArray(), naive.NewArray(), hr.NewArray()})

	plus2 := time.FixedZone("UTC+2", 2*60*60)
	tests := []struct {
		name, column, format string
		loc                  *time.Location
	}{
		{"unix milliseconds", "ms", importer.TimeUnixMillis, nil},
		{"layout", "str", "2006-01-02 15:04:05", nil},
		{"timestamp without zone", "naive", "", plus2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := importer.TableOptions{Options: importer.Options{AthleteID: "a"},
				Columns: importer.ColumnMap{features.HeartRate: "HR"}, TimeColumn: tt.column,
				TimeFormat: tt.format, Location: tt.loc}
			res, err := importer.DecodeParquet(bytes.NewReader(data), opt)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Readings[0].Time; !got.Equal(t0) {
				t.Fatalf("time %s, want %s", got, t0)
			}
		})
	}
}

func TestDecodeParquetErrors(t *testing.T) {
	data := sampleParquet(t)
	tests := []struct {
		name string
		opt  importer.TableOptions
		data []byte
		text string
	}{
		{"missing column", withOpt(func(o *importer.TableOptions) { o.TimeColumn = "time" }),
			data, `no column "time" (for the time)`},
		{"strings as numbers", withOpt(func(o *importer.TableOptions) {
			o.TimeColumn = "ts"
			o.Columns = importer.ColumnMap{features.HeartRate: "who"}
		}), data, `column "who": type utf8, want numbers`},
		{"numeric time without format", withOpt(func(o *importer.TableOptions) {
			o.TimeColumn = "HR"
		}), data, "numeric times need the time format"},
		{"not parquet", withOpt(func(o *importer.TableOptions) { o.TimeColumn = "ts" }),
			[]byte("PAR1 this is not PAR1"), "parquet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := importer.DecodeParquet(bytes.NewReader(tt.data), tt.opt)
			if !errors.Is(err, importer.ErrMalformed) {
				t.Fatalf("error %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("error %q lacks %q", err, tt.text)
			}
		})
	}
}

func TestImportTable(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "session.txt")
	if err := os.WriteFile(csvPath, []byte("t,HR,Amb. Temp.\n2025-07-14T09:30:00Z,1,2\n"),
		0o644); err != nil {
		t.Fatal(err)
	}
	pqPath := filepath.Join(dir, "session.bin") // recognised by content, not name
	if err := os.WriteFile(pqPath, sampleParquet(t), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		path   string
		opt    importer.TableOptions
		format importer.Format
		n      int
	}{
		{csvPath, csvOpt, importer.FormatCSV, 1},
		{pqPath, withOpt(func(o *importer.TableOptions) { o.TimeColumn = "ts" }),
			importer.FormatParquet, 2},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			res, err := importer.ImportTable(tt.path, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if res.Format != tt.format || len(res.Readings) != tt.n {
				t.Fatalf("format %s with %d readings, want %s with %d", res.Format,
					len(res.Readings), tt.format, tt.n)
			}
		})
	}

	_, err := importer.ImportTable(filepath.Join(dir, "absent.csv"), csvOpt)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("absent file: %v", err)
	}
}

// TestDecodeParquetDamagedFooter decodes the sample file with each byte of its
// footer damaged in turn. Damaged column-chunk sizes once made Arrow's record reader
// panic in goroutines of its own, beyond any recover, ending the import; each must
// give readings or an error saying the input is malformed or holds no readings.
func TestDecodeParquetDamagedFooter(t *testing.T) {
	opt := withOpt(func(o *importer.TableOptions) { o.TimeColumn, o.AthleteColumn = "ts", "who" })
	valid := sampleParquet(t)
	n := len(valid)
	footer := int(binary.LittleEndian.Uint32(valid[n-8 : n-4]))
	errs := 0
	for i := n - 8 - footer; i < n-8; i++ {
		damaged := bytes.Clone(valid)
		damaged[i] ^= 0xff
		if _, err := importer.DecodeParquet(bytes.NewReader(damaged), opt); err != nil {
			if !errors.Is(err, importer.ErrMalformed) &&
				!errors.Is(err, importer.ErrNoReadings) {
				t.Fatalf("byte %d: error %v, want ErrMalformed or ErrNoReadings", i, err)
			}
			errs++
		}
	}
	if errs == 0 {
		t.Fatal("no damaged footer byte was reported")
	}
}
