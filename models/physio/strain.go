package physio

import "math"

// PSI returns the physiological strain index of Moran et al. 1998 (Am J Physiol
// 275:R129) on a 0–10 scale, from the rectal temperature (°C) and heart rate (bpm) at
// rest, tre0 and hr0, and now, tre and hr:
// 5·(Tre − Tre0)/(39.5 − Tre0) + 5·(HR − HR0)/(180 − HR0), clipped to 0–10.
func PSI(tre0, hr0, tre, hr float64) float64 {
	psi := 5*(tre-tre0)/(39.5-tre0) + 5*(hr-hr0)/(180-hr0)
	return math.Min(math.Max(psi, 0), 10)
}

// HeatIndexC returns the US National Weather Service heat index (°C) for air
// temperature taC (°C) and relative humidity rh (%).
//
// The computation runs in °F. First Steadman's simple formula,
// 0.5·(T + 61 + 1.2·(T − 68) + 0.094·RH), is averaged with the temperature; below
// 80 °F that average is the result. From 80 °F the Rothfusz regression applies,
// lowered when RH < 13 % at 80–112 °F and raised when RH > 85 % at 80–87 °F.
func HeatIndexC(taC, rh float64) float64 {
	t := taC*9/5 + 32
	simple := 0.5 * (t + 61 + (t-68)*1.2 + rh*0.094)
	if avg := (simple + t) / 2; avg < 80 {
		return fahrenheitToC(avg)
	}
	return fahrenheitToC(rothfuszF(t, rh) + humidityAdjustmentF(t, rh))
}

// rothfuszF returns the Rothfusz (1990) regression of the heat index (°F) on
// temperature t (°F) and relative humidity rh (%).
func rothfuszF(t, rh float64) float64 {
	return -42.379 + 2.04901523*t + 10.14333127*rh - 0.22475541*t*rh -
		0.00683783*t*t - 0.05481717*rh*rh + 0.00122874*t*t*rh +
		0.00085282*t*rh*rh - 0.00000199*t*t*rh*rh
}

// humidityAdjustmentF returns the NWS correction (°F) to the Rothfusz regression in
// very dry and very humid air.
func humidityAdjustmentF(t, rh float64) float64 {
	switch {
	case rh < 13 && t >= 80 && t <= 112:
		return -(13 - rh) / 4 * math.Sqrt((17-math.Abs(t-95))/17)
	case rh > 85 && t >= 80 && t <= 87:
		return (rh - 85) / 10 * (87 - t) / 5
	}
	return 0
}

// fahrenheitToC converts a temperature from °F to °C.
func fahrenheitToC(f float64) float64 { return (f - 32) * 5 / 9 }
