package simulate

import (
	"fmt"

	"github.com/hydrocast/hydrocast/models/physio"
)

// maxPHSAirSpeed is the highest relative air speed passed to PHS, m/s: the top of its
// validity range. Cyclists and runners into a head wind meet faster air, so their
// convective and evaporative cooling is underestimated.
const maxPHSAirSpeed = 3.0

// thermal drives ISO 7933 PHS for one athlete through a session and turns its output
// into the quantities the simulator needs. It is the only place PHS is called.
type thermal struct {
	state   *physio.PHSState
	area    float64 // body surface, m²
	clo     float64
	scale   float64 // the athlete's sweat propensity
	lastTot float64 // PHS's cumulative water loss after the previous minute, g
}

// heatMinute is the thermal outcome of one minute.
type heatMinute struct {
	coreC, skinC float64 // rectal and mean skin temperature at the end of the minute
	sweatG       float64 // sweat produced during the minute, g (propensity applied)
	respG        float64 // water breathed out during the minute, g
	outOfRange   bool    // a PHS input lay outside the standard's validity range
}

// newThermal returns the PHS state of athlete a wearing clothing of clo.
func newThermal(a *Athlete, clo float64) (*thermal, error) {
	st, err := physio.NewPHSState(physio.PHSInput{
		MassKg: a.MassKg, HeightM: a.HeightM, Acclimatised: a.Acclimatised,
		FreeDrinking: true,
	})
	if err != nil {
		return nil, fmt.Errorf("start phs for %s: %w", a.ID, err)
	}
	area := physio.BodySurfaceArea(a.MassKg, a.HeightM)
	return &thermal{state: st, area: area, clo: clo, scale: a.SweatPropensity}, nil
}

// step advances PHS by one minute of weather w and motion m.
func (t *thermal) step(w weather, m motion) (heatMinute, error) {
	c := physio.PHSConditions{
		Ta: w.ta, Tr: w.tr, Pa: w.pa(), Va: min(w.wind, maxPHSAirSpeed),
		Met: m.metW / t.area, Work: m.workW / t.area, Icl: t.clo,
		Posture: physio.Standing, WalkSpeed: min(m.speed, maxPHSAirSpeed),
	}
	out, err := t.state.Step(c)
	if err != nil {
		return heatMinute{}, fmt.Errorf("step phs: %w", err)
	}

	// PHS's cumulative loss holds sweat and respiration together; its minute's sweat
	// share is SWp converted from W/m² to grams with the standard's own factor.
	lossG := out.SWtotG - t.lastTot
	t.lastTot = out.SWtotG
	sweat := out.SWp * 2.67 * t.area / 1.8 / 60
	return heatMinute{
		coreC: out.Tre, skinC: out.Tsk,
		sweatG: sweat * t.scale, respG: max(0, lossG-sweat),
		outOfRange: len(c.OutOfRange()) > 0,
	}, nil
}
