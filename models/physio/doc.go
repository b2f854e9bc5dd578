// Package physio holds the physiology that hydrocast's models and features rest on, as
// pure functions: the ISO 7933 Predicted Heat Strain model, the ECTemp core-temperature
// filter, the physiological strain index, WBGT and heat-index estimates, body surface
// area and fluid balance. It imports nothing of the project.
//
// Every equation and reference value is documented in the project's science sheet;
// tests reproduce the published check values.
package physio
