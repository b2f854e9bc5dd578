package features

import (
	"errors"
	"fmt"
	"time"
)

// SchemaVersion is the version of the feature schema that this package computes. It
// changes whenever a feature is added, removed, renamed, reordered or computed
// differently, so that a model trained on one version is never fed another.
const SchemaVersion = 2

// ErrUnknownFeature is returned when a feature name is not in the schema.
var ErrUnknownFeature = errors.New("unknown feature")

// Feature describes one entry of a feature vector.
type Feature struct {
	Name string // unique, with its unit suffix where it has one, e.g. "heart_rate_bpm_mean_5m"
	Unit string // human-readable unit; "1" for counts and ratios

	// TTL is how old the freshest reading behind the feature may be at the time a
	// vector is taken before the feature is reported stale. Zero means the feature
	// never goes stale: it describes the window itself (counts, coverage).
	TTL time.Duration
}

// Schema is the ordered list of features of a vector. It is immutable.
type Schema struct {
	version  int
	features []Feature
	index    map[string]int
}

// The windowed signals, stats and windows, in schema order. Each windowed signal owns
// a block of len(windowStats)*len(windowSpans)+1 features: the stats of each window,
// then <signal>_last.
var (
	windowSignals = [...]Signal{HeartRate, SkinTemp, AmbientTemp, Humidity, Speed, Power}
	windowSpans   = [...]time.Duration{5 * time.Minute, 15 * time.Minute, 60 * time.Minute}
	windowLabels  = [...]string{"5m", "15m", "60m"}
	windowStats   = [...]string{"mean", "min", "max", "std", "slope", "count", "coverage"}
)

// Positions of the windowed signals' blocks, in windowSignals order.
const (
	blockHeartRate = iota
	blockSkinTemp
	blockAmbient
	blockHumidity
	blockSpeed
	blockPower
)

// Positions of the stats inside a window's run of features.
const (
	statMean = iota
	statMin
	statMax
	statStd
	statSlope
	statCount
	statCoverage
	numStats
)

const (
	numWindowed = len(windowSignals)
	numSpans    = len(windowSpans)
	blockLen    = numStats*numSpans + 1
	lastOffset  = blockLen - 1
)

// Indices of the derived features, which follow the windowed blocks.
const (
	idxCoreTemp = numWindowed*blockLen + iota
	idxPSI
	idxWBGT
	idxHeatIndex
	idxFluidCum
	idxElapsed
	idxMetabolic
	idxBodyMass
	idxHeartRateUnchanged
	idxSkinTempUnchanged
	numFeatures
)

// expectedInterval is the nominal sampling interval behind coverage: a window of
// length W expects W/expectedInterval readings.
const expectedInterval = 30 * time.Second

// Freshness limits. A window statistic goes stale when its freshest reading is older
// than half its window: past that it mostly describes the past. Body-worn signals
// arrive every few seconds, weather every few minutes, weigh-ins once a day or so.
const (
	ttlBodyLast   = 2 * time.Minute
	ttlWeather    = 30 * time.Minute
	ttlPhysiology = 5 * time.Minute
	ttlSession    = SessionGap
	ttlBodyMass   = 7 * 24 * time.Hour
)

var currentSchema = buildSchema()

// CurrentSchema returns the schema of version SchemaVersion. The result is shared;
// callers must not modify it.
func CurrentSchema() *Schema { return currentSchema }

func buildSchema() *Schema {
	fs := make([]Feature, 0, numFeatures)
	for _, s := range windowSignals {
		unit := signalUnit(s)
		for w, span := range windowSpans {
			for st, stat := range windowStats {
				f := Feature{
					Name: fmt.Sprintf("%s_%s_%s", s.Name(), stat, windowLabels[w]),
					Unit: unit,
					TTL:  span / 2,
				}
				switch st {
				case statSlope:
					f.Unit = unit + "/min"
				case statCount, statCoverage:
					f.Unit, f.TTL = "1", 0
				}
				fs = append(fs, f)
			}
		}
		ttl := ttlBodyLast
		if s == AmbientTemp || s == Humidity {
			ttl = ttlWeather
		}
		fs = append(fs, Feature{Name: s.Name() + "_last", Unit: unit, TTL: ttl})
	}

	// core_temp_ectemp_c runs the ECTemp filter, a method covered by US patent
	// 10,702,165: documentation that ships this feature must say so.
	fs = append(fs,
		Feature{"core_temp_ectemp_c", "°C", ttlPhysiology},
		Feature{"psi", "1", ttlPhysiology},
		Feature{"wbgt_c", "°C", ttlWeather},
		Feature{"heat_index_c", "°C", ttlWeather},
		Feature{"fluid_cum_ml", "ml", ttlSession},
		Feature{"elapsed_min", "min", ttlSession},
		Feature{"metabolic_rate_w_per_m2", "W/m²", ttlPhysiology},
		Feature{"body_mass_kg", "kg", ttlBodyMass},
		// How long a body-worn sensor has repeated its newest value exactly: a stuck
		// sensor repeats it, a working one rarely does for long.
		Feature{HeartRate.Name() + "_unchanged_min", "min", ttlBodyLast},
		Feature{SkinTemp.Name() + "_unchanged_min", "min", ttlBodyLast},
	)

	sc := &Schema{version: SchemaVersion, features: fs, index: make(map[string]int, len(fs))}
	for i, f := range fs {
		sc.index[f.Name] = i
	}
	return sc
}

// signalUnit returns the unit of a windowed signal, as its name's suffix spells it.
func signalUnit(s Signal) string {
	switch s {
	case HeartRate:
		return "bpm"
	case SkinTemp, CoreTemp, AmbientTemp:
		return "°C"
	case Humidity:
		return "%"
	case Speed:
		return "m/s"
	case Power:
		return "W"
	}
	return ""
}

// Version returns the schema's version.
func (sc *Schema) Version() int { return sc.version }

// Len returns the number of features.
func (sc *Schema) Len() int { return len(sc.features) }

// Feature returns the i-th feature.
func (sc *Schema) Feature(i int) Feature { return sc.features[i] }

// Names returns the feature names in order, in a new slice.
func (sc *Schema) Names() []string {
	names := make([]string, len(sc.features))
	for i, f := range sc.features {
		names[i] = f.Name
	}
	return names
}

// Index returns the position of the named feature and whether it exists.
func (sc *Schema) Index(name string) (int, bool) {
	i, ok := sc.index[name]
	return i, ok
}

// Indices returns the positions of the named features, in the order given: the index
// list that Gather takes. It fails with ErrUnknownFeature on the first unknown name.
func (sc *Schema) Indices(names []string) ([]int, error) {
	idx := make([]int, len(names))
	for k, n := range names {
		i, ok := sc.index[n]
		if !ok {
			return nil, fmt.Errorf("look up feature %q: %w", n, ErrUnknownFeature)
		}
		idx[k] = i
	}
	return idx, nil
}

// windowIndex returns the schema position of a stat of the w-th window of the b-th
// windowed signal.
func windowIndex(b, w, stat int) int { return b*blockLen + w*numStats + stat }
