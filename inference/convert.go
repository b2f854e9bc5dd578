package inference

import (
	"math"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

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
