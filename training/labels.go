package training

import (
	"fmt"

	"github.com/hydrocast/hydrocast/models/physio"
	"github.com/hydrocast/hydrocast/training/simulate"
)

// Sweat-rate label definitions, the values of Labels.SweatRate.
const (
	// SweatLabelSession reads the session table's measured sweat rate, which the
	// data's producer computed by mass balance (the default).
	SweatLabelSession = "session"
	// SweatLabelMassBalance recomputes the rate from the raw weigh-ins, fluid drunk
	// and urine passed: (pre − post + fluid − urine) / hours, 1 kg taken as 1 L.
	SweatLabelMassBalance = "mass_balance"
)

// Core-temperature label definitions, the values of Labels.CoreTemp.
const (
	// CoreLabelMeasured reads the core temperature a sensor (an ingestible pill)
	// measured at the horizon (the default and, for now, the only one).
	CoreLabelMeasured = "measured"
)

// Labels choose how the training labels are derived from a session's measurements.
type Labels struct {
	// SweatRate is SweatLabelSession or SweatLabelMassBalance; empty means
	// SweatLabelSession.
	SweatRate string `json:"sweat_rate,omitempty"`
	// CoreTemp is CoreLabelMeasured; empty means it.
	CoreTemp string `json:"core_temp,omitempty"`
}

// Check reports whether l names known definitions.
func (l Labels) Check() error {
	switch l.SweatRate {
	case "", SweatLabelSession, SweatLabelMassBalance:
	default:
		return fmt.Errorf("sweat-rate label %q: want %s or %s", l.SweatRate,
			SweatLabelSession, SweatLabelMassBalance)
	}
	if l.CoreTemp != "" && l.CoreTemp != CoreLabelMeasured {
		return fmt.Errorf("core-temperature label %q: want %s", l.CoreTemp,
			CoreLabelMeasured)
	}
	return nil
}

// sweatLabel returns the session's sweat-rate label in L/h under definition def.
func sweatLabel(s *simulate.Session, def string) (float64, error) {
	if def != SweatLabelMassBalance {
		return s.MeasuredSweatRate, nil
	}
	hours := s.Hours()
	if !(hours > 0) || !(s.PreMassKg > 0) || !(s.PostMassKg > 0) || s.FluidML < 0 ||
		s.UrineML < 0 {
		return 0, fmt.Errorf("session %s: cannot compute a mass balance from pre %v kg, "+
			"post %v kg, fluid %v ml, urine %v ml over %v h", s.ID, s.PreMassKg,
			s.PostMassKg, s.FluidML, s.UrineML, hours)
	}
	return MassBalanceSweatRate(s.PreMassKg, s.PostMassKg, s.FluidML/1000,
		s.UrineML/1000, hours), nil
}

// MassBalanceSweatRate is the field measurement of sweat rate in L/h: body mass
// lost between the weigh-ins (kg), plus fluid drunk, minus urine passed (L), over
// the hours between them.
func MassBalanceSweatRate(preKg, postKg, fluidL, urineL, hours float64) float64 {
	return physio.SweatRateLPerH(preKg, postKg, fluidL, urineL, hours)
}
