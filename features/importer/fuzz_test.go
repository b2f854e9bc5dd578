package importer_test

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"testing"

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
