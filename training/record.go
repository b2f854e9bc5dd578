package training

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Fingerprints identify the inputs of a training run: two runs with equal
// fingerprints produce byte-identical models and identical metrics.
type Fingerprints struct {
	// Data is "sha256:" and the digest of the data's manifest, which lists every
	// file's checksum.
	Data string `json:"data"`
	// Config is "sha256:" and the digest of the options that shape the models (see
	// Options.Fingerprint).
	Config string `json:"config"`
	// Code names the code that trained, such as a VCS revision.
	Code string `json:"code"`
	// Seed is the run's seed.
	Seed uint64 `json:"seed"`
}

// Fingerprint returns "sha256:" and the digest of the options that shape the models
// (seed, test share, fit options, families, labels, gates and the compared alias),
// in a canonical JSON form. Paths, the registry, the worker count and the code
// version are left out: they do not change what is trained, or are fingerprinted
// apart.
func (o Options) Fingerprint() string {
	o = o.withDefaults()
	canon := struct {
		Seed         uint64     `json:"seed"`
		TestShare    float64    `json:"test_share"`
		Fit          FitOptions `json:"fit"`
		Families     []string   `json:"families"`
		Labels       Labels     `json:"labels"`
		Gates        []string   `json:"gates"`
		CompareAlias string     `json:"compare_alias"`
		PublishAlias string     `json:"publish_alias"`
		// A training set larger than the bound is streamed and sampled, which
		// changes the models; a cohort ignores it.
		MemoryRows int `json:"memory_rows,omitempty"`
	}{Seed: o.Seed, TestShare: o.TestShare, Fit: o.Fit.withDefaults(), Families: o.Families,
		Labels: o.Labels, CompareAlias: o.CompareAlias, PublishAlias: o.PublishAlias}
	if o.Source != nil {
		canon.MemoryRows = o.MemoryRows
	}
	for _, g := range o.Gates {
		canon.Gates = append(canon.Gates, g.String())
	}
	// Marshalling plain numbers, strings and slices cannot fail.
	data, _ := json.Marshal(canon)
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// runID names a training run by its inputs (data, options, code), so that two runs
// with the same inputs, which produce the same models, share it.
func runID(dataFingerprint string, o Options) string {
	key := fmt.Sprintf("%s|%s|%s", dataFingerprint, o.Fingerprint(), o.CodeVersion)
	sum := sha256.Sum256([]byte(key))
	return "train-" + hex.EncodeToString(sum[:8])
}

// RunRecord is what a run leaves behind to be audited and compared: its
// fingerprints and, per family, the model's digest, held-out metrics, gates and the
// decision. It holds no time, so that reruns of the same inputs give equal records.
type RunRecord struct {
	RunID        string         `json:"run_id"`
	Fingerprints Fingerprints   `json:"fingerprints"`
	Families     []FamilyRecord `json:"families"`
}

// FamilyRecord is one family's part of a RunRecord.
type FamilyRecord struct {
	Family          string             `json:"family"`
	ONNXSHA256      string             `json:"onnx_sha256"`
	ReferenceSHA256 string             `json:"reference_sha256"`
	Metrics         map[string]float64 `json:"metrics"`
	Gates           []GateResult       `json:"gates,omitempty"`
	// Decision is "published", "refused" or "trained" (no registry).
	Decision string   `json:"decision"`
	Reasons  []string `json:"reasons,omitempty"`
	// Version is the registry version written, 0 when none was.
	Version int `json:"version,omitempty"`
}

// Record returns the run record of r.
func (r *Report) Record() RunRecord {
	rec := RunRecord{RunID: r.RunID, Fingerprints: r.Fingerprints}
	for i := range r.Families {
		fr := &r.Families[i]
		decision := "trained"
		switch {
		case fr.Refused:
			decision = "refused"
		case fr.Version > 0:
			decision = "published"
		}
		rec.Families = append(rec.Families, FamilyRecord{
			Family: fr.Family, ONNXSHA256: fr.ONNXSHA256,
			ReferenceSHA256: fr.ReferenceSHA256, Metrics: flatMetrics(fr), Gates: fr.Gates,
			Decision: decision, Reasons: fr.Reasons, Version: fr.Version,
		})
	}
	return rec
}

// Accepted reports whether no family was refused by its gates.
func (r *Report) Accepted() bool {
	for _, f := range r.Families {
		if f.Refused {
			return false
		}
	}
	return true
}
