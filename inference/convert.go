package inference

import (
	"math"
	"time"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/features"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// ReadingFromProto converts a wire reading into the feature store's form; an absent
// optional field becomes a missing value.
func ReadingFromProto(p *hydrocastv1.Reading) features.Reading {
	r := features.NewReading(p.GetAthleteId(), p.GetSource(), p.GetTime().AsTime())
	if p.GetTime() == nil {
		r.Time = time.Time{} // Validate reports a missing time instead of 1970
	}
	set := func(s features.Signal, v *float64) {
		if v != nil {
			r.Values[s] = *v
		}
	}
	set(features.HeartRate, p.HeartRateBpm)
	set(features.SkinTemp, p.SkinTempC)
	set(features.CoreTemp, p.CoreTempC)
	set(features.AmbientTemp, p.AmbientTempC)
	set(features.Humidity, p.HumidityPct)
	set(features.Speed, p.SpeedMPerS)
	set(features.Power, p.PowerW)
	set(features.Cadence, p.CadencePerMin)
	set(features.FluidIntake, p.FluidIntakeMl)
	set(features.BodyMass, p.BodyMassKg)
	return r
}

// ReadingToProto converts a feature-store reading into its wire form.
func ReadingToProto(r *features.Reading) *hydrocastv1.Reading {
	p := &hydrocastv1.Reading{
		AthleteId: r.AthleteID,
		Source:    r.Source,
		Time:      timestamppb.New(r.Time),
	}
	get := func(s features.Signal) *float64 {
		v := r.Values[s]
		if math.IsNaN(v) {
			return nil
		}
		return &v
	}
	p.HeartRateBpm = get(features.HeartRate)
	p.SkinTempC = get(features.SkinTemp)
	p.CoreTempC = get(features.CoreTemp)
	p.AmbientTempC = get(features.AmbientTemp)
	p.HumidityPct = get(features.Humidity)
	p.SpeedMPerS = get(features.Speed)
	p.PowerW = get(features.Power)
	p.CadencePerMin = get(features.Cadence)
	p.FluidIntakeMl = get(features.FluidIntake)
	p.BodyMassKg = get(features.BodyMass)
	return p
}

// AssessmentToProto converts an assessment into its wire form.
func AssessmentToProto(a *Assessment) *hydrocastv1.Assessment {
	p := &hydrocastv1.Assessment{
		AthleteId:                a.AthleteID,
		Time:                     timestamppb.New(a.Time),
		SweatRateLPerH:           a.SweatRateLPerH,
		SweatRateLowerLPerH:      a.SweatRateLowerLPerH,
		SweatRateUpperLPerH:      a.SweatRateUpperLPerH,
		CoreTempC:                a.CoreTempC,
		CoreTemp_15MC:            a.CoreTemp15mC,
		CoreTemp_30MC:            a.CoreTemp30mC,
		CoreTemp_60MC:            a.CoreTemp60mC,
		AnomalyScore:             a.AnomalyScore,
		FluidMlPer_15Min:         a.FluidMLPer15Min,
		Alerts:                   a.Alerts,
		ModelVersions:            a.ModelVersions,
		FeatureSchemaVersion:     a.FeatureSchemaVersion,
		FreshestReadingAgeS:      a.FreshestReadingAge().Seconds(),
		ElapsedMin:               a.ElapsedMin,
		FeatureStatus:            a.FeatureStatus,
		HeartRateBpm:             optional(a.HeartRateBPM),
		WbgtC:                    optional(a.WBGTC),
		PhysiologicalStrainIndex: optional(a.StrainIndex),
	}
	if !a.FreshestReading.IsZero() {
		p.FreshestReadingTime = timestamppb.New(a.FreshestReading)
	}
	return p
}

// optional returns nil for NaN, else a pointer to v.
func optional(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	return &v
}
