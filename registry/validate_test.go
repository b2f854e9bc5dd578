package registry

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	tests := []struct {
		name        string
		model, alia bool // valid as a model name, as an alias
	}{
		{"sweat-rate", true, true},
		{"core_temp.v2", true, false},
		{"production", true, true},
		{"2024-model", true, false}, // an alias must not look like a number
		{"42", true, false},
		{"", false, false},
		{"Production", false, false},
		{"-lead", false, false},
		{"../etc", false, false},
		{"sweat rate", false, false},
		{strings.Repeat("a", 64), true, true},
		{strings.Repeat("a", 65), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckModelName(tt.name); (err == nil) != tt.model {
				t.Errorf("CheckModelName: %v, want valid %v", err, tt.model)
			}
			if err := CheckAlias(tt.name); (err == nil) != tt.alia {
				t.Errorf("CheckAlias: %v, want valid %v", err, tt.alia)
			}
		})
	}
}

func validSignature() Signature {
	return Signature{
		Inputs: []Tensor{{Name: "x", Datatype: "FP32", Shape: []int64{-1, 2},
			Features: []string{"heart_rate_bpm", "skin_temp_c"}}},
		Outputs: []Tensor{{Name: "y", Datatype: "FP32", Shape: []int64{-1}}},
	}
}

func TestSignatureCheck(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *Signature)
		valid  bool
	}{
		{"valid", func(*Signature) {}, true},
		{"features on a variable dimension", func(s *Signature) {
			s.Inputs[0].Shape = []int64{-1, -1}
		}, true},
		{"no inputs", func(s *Signature) { s.Inputs = nil }, false},
		{"no outputs", func(s *Signature) { s.Outputs = nil }, false},
		{"unknown datatype", func(s *Signature) { s.Inputs[0].Datatype = "FLOAT" }, false},
		{"scalar shape", func(s *Signature) { s.Outputs[0].Shape = nil }, false},
		{"zero dimension", func(s *Signature) { s.Outputs[0].Shape = []int64{-1, 0} }, false},
		{"dimension below -1", func(s *Signature) { s.Outputs[0].Shape = []int64{-2} }, false},
		{"features against last dimension", func(s *Signature) {
			s.Inputs[0].Shape = []int64{-1, 3}
		}, false},
		{"feature twice", func(s *Signature) {
			s.Inputs[0].Features = []string{"heart_rate_bpm", "heart_rate_bpm"}
		}, false},
		{"empty feature", func(s *Signature) {
			s.Inputs[0].Features = []string{"heart_rate_bpm", ""}
		}, false},
		{"features on an output", func(s *Signature) {
			s.Outputs[0].Features = []string{"rate"}
		}, false},
		{"input named twice", func(s *Signature) {
			s.Inputs = append(s.Inputs, Tensor{Name: "x", Datatype: "FP32",
				Shape: []int64{1}})
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSignature()
			tt.change(&s)
			err := s.Check()
			if (err == nil) != tt.valid {
				t.Fatalf("Check() = %v, want valid %v", err, tt.valid)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func validNewVersion() NewVersion {
	return NewVersion{Version: Version{
		Model:     "sweat-rate",
		Signature: validSignature(),
		Digest:    strings.Repeat("ab", 32),
		Size:      10,
	}}
}

func TestNewVersionCheck(t *testing.T) {
	tests := []struct {
		name   string
		change func(nv *NewVersion)
		valid  bool
	}{
		{"valid", func(*NewVersion) {}, true},
		{"pending", func(nv *NewVersion) { nv.Version.Status = StatusPending }, true},
		{"promoted", func(nv *NewVersion) { nv.Promote = &Promotion{Alias: "staging"} }, true},
		{"born failed", func(nv *NewVersion) { nv.Version.Status = StatusFailed }, false},
		{"pending and promoted", func(nv *NewVersion) {
			nv.Version.Status = StatusPending
			nv.Promote = &Promotion{Alias: "staging"}
		}, false},
		{"uppercase digest", func(nv *NewVersion) {
			nv.Version.Digest = strings.Repeat("AB", 32)
		}, false},
		{"negative size", func(nv *NewVersion) { nv.Version.Size = -1 }, false},
		{"NaN metric", func(nv *NewVersion) {
			nv.Version.Metrics = map[string]float64{"mae": math.NaN()}
		}, false},
		{"padded metric name", func(nv *NewVersion) {
			nv.Version.Metrics = map[string]float64{" mae": 1}
		}, false},
		{"control character in tag", func(nv *NewVersion) {
			nv.Version.Tags = map[string]string{"note": "bell\a"}
		}, false},
		{"invalid UTF-8 description", func(nv *NewVersion) {
			nv.Version.Description = "\xff"
		}, false},
		{"card document not JSON", func(nv *NewVersion) {
			nv.Version.Card.Document = json.RawMessage("{")
		}, false},
		{"reference not JSON", func(nv *NewVersion) {
			nv.Version.Reference = json.RawMessage("histogram")
		}, false},
		{"negative expect", func(nv *NewVersion) {
			nv.Promote = &Promotion{Alias: "staging", Expect: -1}
		}, false},
		{"long lineage", func(nv *NewVersion) {
			nv.Version.Lineage.RunID = strings.Repeat("r", maxNameText+1)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nv := validNewVersion()
			tt.change(&nv)
			err := nv.Check()
			if (err == nil) != tt.valid {
				t.Fatalf("Check() = %v, want valid %v", err, tt.valid)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestCanChange(t *testing.T) {
	statuses := []Status{StatusPending, StatusReady, StatusFailed}
	allowed := map[[2]Status]bool{
		{StatusPending, StatusReady}:  true,
		{StatusPending, StatusFailed}: true,
		{StatusReady, StatusFailed}:   true,
	}
	for _, from := range statuses {
		for _, to := range statuses {
			t.Run(string(from)+" to "+string(to), func(t *testing.T) {
				if got := CanChange(from, to); got != allowed[[2]Status{from, to}] {
					t.Errorf("CanChange = %v", got)
				}
			})
		}
	}
}

// FuzzSignature feeds publishers' signature JSON to Check, which must never panic
// and must accept only signatures whose features fit their inputs.
func FuzzSignature(f *testing.F) {
	seed, err := json.Marshal(validSignature())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"inputs":[{"name":"x","datatype":"FP32","shape":[],"features":["a"]}]}`))
	f.Add([]byte(`{"inputs":[{"name":"x","datatype":"FP32","shape":[3],"features":["a"]}],` +
		`"outputs":[{"name":"y","datatype":"INT64","shape":[-1]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Signature
		if json.Unmarshal(data, &s) != nil {
			return
		}
		if err := s.Check(); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for _, in := range s.Inputs {
			last := in.Shape[len(in.Shape)-1]
			if len(in.Features) > 0 && last != -1 && last != int64(len(in.Features)) {
				t.Fatalf("accepted %d features for last dimension %d", len(in.Features), last)
			}
		}
		if _, err := json.Marshal(s); err != nil {
			t.Fatalf("accepted signature does not encode: %v", err)
		}
	})
}
