package capacity

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// FuzzReadBench feeds arbitrary bytes to the bench decoder: it must either refuse them
// with ErrInvalid or return figures that validate and survive a round trip.
func FuzzReadBench(f *testing.F) {
	good, err := os.ReadFile("testdata/bench.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"assess_per_core_second": 1e309}`))
	f.Add([]byte(`[1, 2]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ReadBench(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if err := b.Validate(); err != nil {
			t.Fatalf("accepted figures do not validate: %v", err)
		}
		again, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		b2, err := ReadBench(bytes.NewReader(again))
		if err != nil || b2 != b {
			t.Fatalf("round trip: %+v, %v; want %+v", b2, err, b)
		}
	})
}
