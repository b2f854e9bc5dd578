// Package simulate generates synthetic cohorts of athletes, sessions and wearable
// readings, honestly labelled, for training hydrocast's models until real labelled
// sessions exist. Everything trained on a cohort must say so, naming the
// GeneratorVersion and the seed, which every output file carries.
//
// # What is simulated
//
// Athletes are drawn with sex, age, height, body mass, resting and maximal heart
// rate, maximal oxygen uptake, heat acclimatisation, a sport and a sweat propensity.
// Each trains several sessions of 30–120 minutes on different days of a calendar, in
// weather drawn per session (air temperature 15–40 °C, humidity, radiant load, wind)
// that drifts within it, with an effort profile (warm-up, then steady work,
// intervals or intermittent play, then cool-down) that sets the metabolic rate,
// speed, power and cadence. Athletes slow down as they get hot.
//
// ISO 7933 Predicted Heat Strain (models/physio) turns weather, effort and clothing
// into rectal and skin temperature and sweat rate minute by minute. The athlete's
// sweat propensity scales PHS's sweat, so that session sweat rates spread like the
// published normative values (Baker 2016: 1.21 ± 0.68 L/h; Barnes 2019 by sport).
// Heart rate follows the ECTemp observation curve of core temperature plus a term for
// effort that fades as the body warms, the effect of dehydration, an individual
// offset and noise, clipped to the athlete's maximum. Athletes drink at intervals,
// some less than they sweat and some more; they are weighed before and after, on a
// noisy scale, and sometimes pass urine in between. (A US patent, 10,702,165, covers
// the ECTemp estimation method; the simulator uses only its observation curve, to
// generate heart rate.)
//
// Readings are sampled every 30 seconds. Sensor faults are injected into the watch's
// readings and labelled: heart-rate dropouts, flat lines, spikes and skin-sensor
// detachment. Core temperature, as an ingestible pill would measure it, is present
// in the readings: it is the label of the thermal model.
//
// The same options give byte-identical outputs, on any number of workers: every
// athlete and every session draws from its own PCG stream derived from the seed.
//
// # Output layout
//
// Run writes, under Options.Out:
//
//	readings/date=YYYY-MM-DD/part-0.parquet  one row per reading, ordered by
//	                                         athlete_id, time, source
//	athletes.parquet                         one row per athlete: its traits
//	sessions.parquet                         one row per session: times, weigh-ins,
//	                                         fluid, measured and true sweat rate,
//	                                         mean weather, generator_version, seed
//	faults.parquet                           one row per injected fault
//	fit/ATHLETE-N.fit                        the watch readings of the first
//	                                         Options.FITSessions sessions, as FIT
//	manifest.json                            version, seed, options, counts and the
//	                                         size and SHA-256 of every other file
//
// Readings follow the offline store's schema: athlete_id and source (strings), time
// (timestamp, microseconds, UTC) and one nullable float64 column per features.Signal
// named by Signal.Name, null where the reading does not carry the signal. Each device
// is its own source: SourceWatch, SourcePill, SourceWeather, SourceBottle and
// SourceScale. Every Parquet file carries the key-value metadata
// hydrocast.generator_version, hydrocast.seed and hydrocast.simulated=true.
//
// LoadCohort reads a cohort back: its tables in memory and its readings as a stream
// ordered by athlete and time.
package simulate
