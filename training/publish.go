package training

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/registry"
)

// publish stores every family of rep in reg and notes the version numbers in rep.
// A family that passed its gates becomes a ready version, with o.PublishAlias moved
// to it when set; a refused one is stored without an alias and marked failed with
// its reasons, so that the registry's history shows what was tried and why it was
// kept out. Every family was exported and checked before the first publish.
func publish(ctx context.Context, reg *registry.Registry, rep *Report, o Options) error {
	if _, perr := registry.PrincipalFrom(ctx); perr != nil {
		ctx = registry.WithPrincipal(ctx, o.Principal)
	}
	for i := range rep.Families {
		fr := &rep.Families[i]
		req, err := publishRequest(fr, rep, o)
		if err != nil {
			return err
		}
		if fr.Refused {
			req.Promote = nil
		}
		v, err := reg.Publish(ctx, req)
		if err != nil {
			return err
		}
		fr.Version = v.Number
		if !fr.Refused {
			continue
		}
		_, err = reg.SetStatus(ctx, registry.StatusChange{Model: v.Model, Version: v.Number,
			Status: registry.StatusFailed, Reason: clip("refused by the publication gates: "+
				strings.Join(fr.Reasons, "; "), maxReasonBytes)})
		if err != nil {
			return fmt.Errorf("mark %s v%d failed: %w", v.Model, v.Number, err)
		}
	}
	return nil
}

// publishRequest builds the registry request of one trained family.
func publishRequest(fr *FamilyReport, rep *Report, o Options) (registry.PublishRequest,
	error) {
	f, ok := models.FamilyByName(fr.Family)
	if !ok {
		return registry.PublishRequest{}, fmt.Errorf("unknown family %s", fr.Family)
	}
	doc, err := json.Marshal(fr.Card)
	if err != nil {
		return registry.PublishRequest{}, fmt.Errorf("encode card of %s: %w", f.Name, err)
	}
	impute := make([]float64, len(fr.Inputs))
	for j, in := range fr.Inputs {
		impute[j] = in.Impute
	}
	imputeJSON, err := json.Marshal(impute)
	if err != nil {
		return registry.PublishRequest{}, fmt.Errorf("encode impute of %s: %w", f.Name, err)
	}

	tags := map[string]string{
		models.TagImpute:         string(imputeJSON),
		"trained_on":             o.trainedOn(),
		"generator":              rep.Data.Generator,
		"cohort_seed":            strconv.FormatUint(rep.Data.CohortSeed, 10),
		"feature_schema_version": strconv.Itoa(features.SchemaVersion),
	}
	if f.Name == models.Anomaly {
		tags[models.TagThreshold] = strconv.FormatFloat(fr.Threshold, 'g', -1, 64)
	}

	req := registry.PublishRequest{
		Model:            f.Name,
		ModelDescription: f.Description,
		Description: fmt.Sprintf("%s, trained with seed %d on %s data %s seed %d",
			fr.Algorithm, o.Seed, o.trainedOn(), rep.Data.Generator, rep.Data.CohortSeed),
		Signature: signature(f),
		Tags:      tags,
		Card:      registry.ModelCard{Markdown: fr.Card.Markdown(), Document: doc},
		Metrics:   flatMetrics(fr),
		Lineage: registry.Lineage{
			RunID:           rep.RunID,
			DataFingerprint: "sha256:" + rep.Data.Fingerprint,
			CodeVersion:     o.CodeVersion,
			Seed:            int64(o.Seed),
			Generator: fmt.Sprintf("%s (cohort seed %d)", rep.Data.Generator,
				rep.Data.CohortSeed),
		},
		Artifact:  fr.ONNX,
		Reference: fr.Reference,
	}
	if o.PublishAlias != "" {
		req.Promote = &registry.Promotion{Alias: o.PublishAlias,
			Reason: "published by hydrocast train"}
	}
	return req, nil
}

// signature describes the family's tensors: input features [−1, k] FP32 with the
// feature names, and one [−1, 1] FP32 output per family output.
func signature(f models.Family) registry.Signature {
	s := registry.Signature{Inputs: []registry.Tensor{{
		Name: models.InputName, Datatype: "FP32",
		Shape: []int64{-1, int64(len(f.Features))}, Features: f.Features,
	}}}
	for _, o := range f.Outputs {
		s.Outputs = append(s.Outputs, registry.Tensor{Name: o.Name, Datatype: "FP32",
			Shape: []int64{-1, 1}})
	}
	return s
}

// flatMetrics lists a family's held-out metrics and its baseline's under flat names:
// "<output>.<metric>" and "baseline.<output>.<metric>" for regressions, the detection
// metrics for the anomaly family, and "gate.<metric>" for every metric a gate can
// read (see GateMetrics).
func flatMetrics(fr *FamilyReport) map[string]float64 {
	m := map[string]float64{
		"train_rows": float64(fr.TrainRows),
		"test_rows":  float64(fr.Evaluation.Rows),
	}
	for _, o := range fr.Evaluation.Outputs {
		for prefix, r := range map[string]RegressionMetrics{"": o.Model,
			"baseline.": o.Baseline} {
			key := prefix + o.Name + "."
			m[key+"mae"], m[key+"rmse"], m[key+"r2"], m[key+"bias"] = r.MAE, r.RMSE, r.R2,
				r.Bias
			if r.Coverage != nil {
				m[key+"coverage"] = *r.Coverage
			}
		}
	}
	for k, v := range gateMetrics(fr.Evaluation, fr.Production) {
		m["gate."+k] = v
	}
	if d := fr.Evaluation.Detection; d != nil {
		for prefix, r := range map[string]DetectionMetrics{"": d.Model,
			"baseline.": d.Baseline} {
			m[prefix+"event_recall"] = r.EventRecall
			m[prefix+"row_recall"] = r.RowRecall
			m[prefix+"row_precision"] = r.RowPrecision
			m[prefix+"false_alarms_per_athlete_hour"] = r.FalseAlarmsPerHour
			m[prefix+"threshold"] = r.Threshold
		}
	}
	return m
}

// maxReasonBytes keeps a refusal's reason within what the registry stores (1 KiB);
// the run record keeps every reason in full.
const maxReasonBytes = 1000

// clip returns s cut to at most n bytes on a character boundary, marked with "…".
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
