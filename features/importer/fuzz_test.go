package importer_test

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/importer"
)

// checkDecoded asserts what every decoder promises, whatever its input: an error is
// a malformed or empty input, and a result has readings in time order whose values
// are numbers or missing, never infinite.
func checkDecoded(t *testing.T, res importer.Result, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, importer.ErrMalformed) && !errors.Is(err, importer.ErrNoReadings) {
			t.Fatalf("error neither malformed nor empty input: %v", err)
		}
		return
	}
	if len(res.Readings) == 0 {
		t.Fatal("no readings and no error")
	}
	if !slices.IsSortedFunc(res.Readings, func(a, b features.Reading) int {
		return a.Time.Compare(b.Time)
	}) {
		t.Fatal("readings not in time order")
	}
	for i, r := range res.Readings {
		for _, v := range r.Values {
			if math.IsInf(v, 0) {
				t.Fatalf("reading %d holds an infinite value: %v", i, r.Values)
			}
		}
	}
}

func FuzzDecodeFIT(f *testing.F) {
	data := encodeFIT(f, session(5), importer.WriteOptions{Sport: "running"})
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add(append(bytes.Clone(data), data...))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := importer.DecodeFIT(bytes.NewReader(data), testOpt)
		checkDecoded(t, res, err)
	})
}

func FuzzDecodeTCX(f *testing.F) {
	f.Add([]byte(tcxDoc(`<Trackpoint><Time>2025-07-14T09:30:00Z</Time>
		<HeartRateBpm><Value>62</Value></HeartRateBpm>
		<Extensions><ns3:TPX><ns3:Speed>2.5</ns3:Speed></ns3:TPX></Extensions></Trackpoint>`)))
	f.Add([]byte(`<Trackpoint><Time>2025-07-14T09:30:00Z</Time><Cadence>9</Cadence></Trackpoint>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		res, err := importer.DecodeTCX(bytes.NewReader(doc), testOpt)
		checkDecoded(t, res, err)
	})
}

func FuzzE4CSV(f *testing.F) {
	f.Add([]byte(e4CSV(1560279835, "1.000000", "93.00", "101.00")),
		[]byte(e4CSV(1560279825, "4.000000", "32.13", "32.13", "32.15")))
	f.Add([]byte("1560279825.5, 1560279825.5\n32, 32\n1,2,3\n"), []byte(""))
	f.Fuzz(func(t *testing.T, hr, temp []byte) {
		files := importer.E4Files{HR: bytes.NewReader(hr), Temp: bytes.NewReader(temp)}
		res, err := importer.DecodeE4(files, testOpt)
		checkDecoded(t, res, err)
		for i := 1; err == nil && i < len(res.Readings); i++ {
			if !res.Readings[i].Time.After(res.Readings[i-1].Time) {
				t.Fatalf("readings %d and %d share a second", i-1, i)
			}
		}
	})
}

func FuzzParseColumnMap(f *testing.F) {
	f.Add(`heart_rate_bpm=HR,ambient_temp_c="Amb. Temp."`)
	f.Add(`power_w="a ""b"", c", speed_m_per_s = x=y`)
	f.Add(`heart_rate_bpm="HR`)
	f.Fuzz(func(t *testing.T, s string) {
		m, err := importer.ParseColumnMap(s)
		if err != nil {
			if !errors.Is(err, importer.ErrColumnMap) {
				t.Fatalf("error not ErrColumnMap: %v", err)
			}
			return
		}
		back, err := importer.ParseColumnMap(m.String())
		if err != nil {
			t.Fatalf("%q formatted as %q, which does not parse: %v", s, m.String(), err)
		}
		if len(back) != len(m) {
			t.Fatalf("%q: %v came back as %v", s, m, back)
		}
		for sig, col := range m {
			if back[sig] != col {
				t.Fatalf("%q: %s %q came back as %q", s, sig.Name(), col, back[sig])
			}
		}
	})
}

func FuzzDecodeCSV(f *testing.F) {
	f.Add([]byte("t,HR,Amb. Temp.\n2025-07-14T09:30:00Z,140,28.5\n,1,2\n"), "")
	f.Add([]byte("t;HR;Amb. Temp.\n1752485400.5;NA;\"3\"\n"), "unix")
	f.Add([]byte("t,HR,Amb. Temp.\n14.07.2025 09:30,1,2\n"), "02.01.2006 15:04")
	f.Fuzz(func(t *testing.T, data []byte, format string) {
		opt := importer.TableOptions{
			Options: importer.Options{AthleteID: "athlete-1"},
			Columns: importer.ColumnMap{features.HeartRate: "HR",
				features.AmbientTemp: "Amb. Temp."},
			TimeColumn: "t",
			TimeFormat: format,
		}
		if bytes.Contains(data, []byte(";")) {
			opt.Comma = ';'
		}
		res, err := importer.DecodeCSV(bytes.NewReader(data), opt)
		if errors.Is(err, importer.ErrColumnMap) {
			return // a time format the fuzzer made up
		}
		checkDecoded(t, res, err)
	})
}

// FuzzDecodeParquet fuzzes what a valid Parquet file holds: the signal column's
// name, its value, the athlete and the time. It does not damage the file's bytes:
// that would fuzz Arrow's decoder, which trusts the sizes a damaged file declares
// and can try to allocate gigabytes (see DecodeParquet).
func FuzzDecodeParquet(f *testing.F) {
	f.Add("HR", "ann", t0.UnixMilli(), 131.5, false)
	f.Add("Amb. Temp.", "", int64(-1), math.Inf(1), false)
	f.Add("x", "bob", int64(math.MaxInt64), math.NaN(), true)
	f.Fuzz(func(t *testing.T, name, who string, ms int64, v float64, null bool) {
		if name == "" || name == "ts" || name == "who" {
			return
		}
		mem := memory.DefaultAllocator
		tsType := &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
		ts := array.NewTimestampBuilder(mem, tsType)
		ts.Append(arrow.Timestamp(ms))
		val := array.NewFloat64Builder(mem)
		val.AppendValues([]float64{v}, []bool{!null})
		ids := array.NewStringBuilder(mem)
		ids.Append(who)
		data := parquetTable(t, []arrow.Field{
			{Name: "ts", Type: tsType},
			{Name: name, Type: arrow.PrimitiveTypes.Float64, Nullable: true},
			{Name: "who", Type: arrow.BinaryTypes.String},
		}, []arrow.Array{ts.NewArray(), val.NewArray(), ids.NewArray()})

		opt := importer.TableOptions{
			Columns:       importer.ColumnMap{features.HeartRate: name},
			TimeColumn:    "ts",
			AthleteColumn: "who",
		}
		res, err := importer.DecodeParquet(bytes.NewReader(data), opt)
		checkDecoded(t, res, err)
		if err != nil {
			return
		}
		r := res.Readings[0]
		if r.AthleteID != who || r.Time.UnixMilli() != ms || r.Values[features.HeartRate] != v {
			t.Fatalf("decoded %s %s %v, want %s %d %v", r.AthleteID, r.Time,
				r.Values[features.HeartRate], who, ms, v)
		}
	})
}
