package features

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSchemaLayout(t *testing.T) {
	sc := CurrentSchema()
	if sc.Version() != SchemaVersion {
		t.Errorf("version %d, want %d", sc.Version(), SchemaVersion)
	}
	// Six signals × (7 stats × 3 windows + last) + 10 derived.
	if sc.Len() != 6*22+10 {
		t.Errorf("%d features, want %d", sc.Len(), 6*22+10)
	}

	cases := []struct {
		name string
		idx  int
		unit string
		ttl  time.Duration
	}{
		{"heart_rate_bpm_mean_5m", windowIndex(blockHeartRate, 0, statMean), "bpm",
			150 * time.Second},
		{"heart_rate_bpm_slope_15m", windowIndex(blockHeartRate, 1, statSlope), "bpm/min",
			450 * time.Second},
		{"skin_temp_c_coverage_60m", windowIndex(blockSkinTemp, 2, statCoverage), "1", 0},
		{"ambient_temp_c_last", blockAmbient*blockLen + lastOffset, "°C", 30 * time.Minute},
		{"humidity_pct_count_5m", windowIndex(blockHumidity, 0, statCount), "1", 0},
		{"speed_m_per_s_std_60m", windowIndex(blockSpeed, 2, statStd), "m/s", 30 * time.Minute},
		{"power_w_last", blockPower*blockLen + lastOffset, "W", 2 * time.Minute},
		{"core_temp_ectemp_c", idxCoreTemp, "°C", 5 * time.Minute},
		{"psi", idxPSI, "1", 5 * time.Minute},
		{"wbgt_c", idxWBGT, "°C", 30 * time.Minute},
		{"heat_index_c", idxHeatIndex, "°C", 30 * time.Minute},
		{"fluid_cum_ml", idxFluidCum, "ml", SessionGap},
		{"elapsed_min", idxElapsed, "min", SessionGap},
		{"metabolic_rate_w_per_m2", idxMetabolic, "W/m²", 5 * time.Minute},
		{"body_mass_kg", idxBodyMass, "kg", 7 * 24 * time.Hour},
		{"heart_rate_bpm_unchanged_min", idxHeartRateUnchanged, "min", 2 * time.Minute},
		{"skin_temp_c_unchanged_min", idxSkinTempUnchanged, "min", 2 * time.Minute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			i, ok := sc.Index(c.name)
			if !ok || i != c.idx {
				t.Fatalf("Index = %d, %v; want %d", i, ok, c.idx)
			}
			if f := sc.Feature(i); f.Unit != c.unit || f.TTL != c.ttl {
				t.Errorf("unit %q TTL %v, want %q %v", f.Unit, f.TTL, c.unit, c.ttl)
			}
		})
	}
}

func TestSchemaNamesUniqueWithUnits(t *testing.T) {
	names := CurrentSchema().Names()
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("duplicate feature %q", n)
		}
		seen[n] = true
	}
	for _, s := range windowSignals {
		if signalUnit(s) == "" {
			t.Errorf("signal %s has no unit", s.Name())
		}
		if windowSignals[blockOfSignal(t, s)] != s {
			t.Errorf("block constant of %s is wrong", s.Name())
		}
	}
}

// blockOfSignal finds the block of a windowed signal from its names.
func blockOfSignal(t *testing.T, s Signal) int {
	i, ok := CurrentSchema().Index(s.Name() + "_last")
	if !ok {
		t.Fatalf("no %s_last", s.Name())
	}
	return i / blockLen
}

func TestSchemaIndices(t *testing.T) {
	sc := CurrentSchema()
	idx, err := sc.Indices([]string{"psi", "heart_rate_bpm_mean_5m"})
	if err != nil || !slices.Equal(idx, []int{idxPSI, 0}) {
		t.Errorf("Indices = %v, %v", idx, err)
	}
	if _, err := sc.Indices([]string{"psi", "sweat_rate"}); !errors.Is(err, ErrUnknownFeature) ||
		!strings.Contains(err.Error(), "sweat_rate") {
		t.Errorf("unknown name: error %v, want ErrUnknownFeature naming it", err)
	}
}

func TestGather(t *testing.T) {
	v := NewVector()
	v.set(idxPSI, 4.5, 1000, 1000)
	v.set(idxWBGT, 29.5, 1000, 1000+time.Hour.Milliseconds()) // stale
	idx := []int{idxPSI, idxElapsed, idxWBGT}
	dst := make([]float32, len(idx))

	missing := Gather(v, idx, dst)
	if !slices.Equal(missing, []int{1, 2}) {
		t.Errorf("missing %v, want [1 2]", missing)
	}
	if dst[0] != 4.5 || !math.IsNaN(float64(dst[1])) || dst[2] != 29.5 {
		t.Errorf("dst %v, want [4.5 NaN 29.5]", dst)
	}
	if missing := Gather(v, idx[:1], dst); missing != nil {
		t.Errorf("all present: missing %v, want nil", missing)
	}
}

func TestVectorGetAndEventTime(t *testing.T) {
	v := NewVector()
	at := t0.UnixMilli()
	v.set(idxBodyMass, 70, at, at)
	if val, st, ok := v.Get("body_mass_kg"); !ok || val != 70 || st != StatusPresent {
		t.Errorf("Get body_mass_kg = %v %v %v", val, st, ok)
	}
	if _, _, ok := v.Get("no_such_feature"); ok {
		t.Error("Get of an unknown name reports ok")
	}
	if got := v.EventTime(idxBodyMass); !got.Equal(t0) {
		t.Errorf("EventTime = %v, want %v", got, t0)
	}
	if got := v.EventTime(idxPSI); !got.IsZero() {
		t.Errorf("EventTime of a missing feature = %v, want zero", got)
	}
}
