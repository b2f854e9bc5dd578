package physio

import "math"

// VapourPressureHPa returns the water-vapour partial pressure (hPa) of air at ta (°C)
// and relative humidity rh (%), from the Magnus form used by the Australian Bureau of
// Meteorology.
func VapourPressureHPa(ta, rh float64) float64 {
	return rh / 100 * 6.105 * math.Exp(17.27*ta/(237.7+ta))
}

// WBGTFromHumidity estimates the wet-bulb globe temperature (°C) from air temperature
// (°C) and relative humidity (%) with the Bureau of Meteorology approximation for
// moderate sun and light wind: 0.567·Ta + 0.393·e + 3.94.
func WBGTFromHumidity(ta, rh float64) float64 {
	return 0.567*ta + 0.393*VapourPressureHPa(ta, rh) + 3.94
}

// WBGTIndoor returns the wet-bulb globe temperature (°C) without solar load from
// instrument readings (ISO 7243): natural wet-bulb tnwb and globe tg (°C),
// 0.7·Tnwb + 0.3·Tg.
func WBGTIndoor(tnwb, tg float64) float64 {
	return 0.7*tnwb + 0.3*tg
}

// WBGTInSun returns the wet-bulb globe temperature (°C) under solar load from
// instrument readings (ISO 7243): natural wet-bulb tnwb, globe tg and air ta (°C),
// 0.7·Tnwb + 0.2·Tg + 0.1·Ta.
func WBGTInSun(tnwb, tg, ta float64) float64 {
	return 0.7*tnwb + 0.2*tg + 0.1*ta
}
