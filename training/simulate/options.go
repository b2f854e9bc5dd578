package simulate

import (
	"errors"
	"fmt"
	"time"
)

// GeneratorVersion names the generator's physiology and output layout. It is written
// into every output so that a model trained on the cohort can say what it was trained
// on; change it whenever the same options would produce different data.
const GeneratorVersion = "hydrocast-sim/1"

var (
	// ErrInvalidOptions is wrapped by Run's errors about options it cannot use.
	ErrInvalidOptions = errors.New("invalid simulation options")

	// ErrOutNotEmpty reports that the output folder already holds files; Run never
	// mixes a new cohort with an old one.
	ErrOutNotEmpty = errors.New("output folder not empty")
)

// Options says what cohort Run generates and where it writes it. The same options
// always produce byte-identical outputs, whatever Workers is.
type Options struct {
	// Out is the folder the cohort is written to. It is created when missing and must
	// otherwise be empty. Required.
	Out string

	// Athletes is the number of simulated athletes; it must be positive.
	Athletes int

	// SessionsPerAthlete is the number of sessions each athlete trains, at most one a
	// day; zero means 4.
	SessionsPerAthlete int

	// Seed selects the cohort; every seed, zero included, is a valid one.
	Seed uint64

	// Start is the first day of the cohort's calendar (its UTC date counts; the time
	// of day is ignored); zero means 2025-06-02. It is fixed rather than today so that
	// outputs do not depend on when Run is called.
	Start time.Time

	// Days is the length of the calendar in days over which sessions are spread; zero
	// means 28. It must be at least SessionsPerAthlete.
	Days int

	// FaultsPerHour is the mean number of sensor faults injected per hour of session;
	// zero means none are injected.
	FaultsPerHour float64

	// FITSessions is the number of sessions also written as FIT activity files, taken
	// in athlete order; zero means none.
	FITSessions int

	// Workers is the number of sessions simulated at once; zero means GOMAXPROCS.
	Workers int
}

// DefaultOptions returns the options of a small cohort: 60 athletes with 4 sessions
// each over four weeks, about one fault per session hour and 3 FIT files. Out is left
// empty for the caller.
func DefaultOptions() Options {
	return Options{
		Athletes:           60,
		SessionsPerAthlete: 4,
		Seed:               1,
		Start:              defaultStart,
		Days:               28,
		FaultsPerHour:      1,
		FITSessions:        3,
	}
}

var defaultStart = time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)

// withDefaults returns the options with zero fields that have a default filled in
// and Start truncated to its UTC date, or an error for options Run cannot use.
func (o Options) withDefaults() (Options, error) {
	if o.SessionsPerAthlete == 0 {
		o.SessionsPerAthlete = 4
	}
	if o.Days == 0 {
		o.Days = 28
	}
	if o.Start.IsZero() {
		o.Start = defaultStart
	}
	y, m, d := o.Start.UTC().Date()
	o.Start = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)

	switch {
	case o.Out == "":
		return o, fmt.Errorf("%w: no output folder", ErrInvalidOptions)
	case o.Athletes <= 0:
		return o, fmt.Errorf("%w: %d athletes", ErrInvalidOptions, o.Athletes)
	case o.Athletes > maxAthletes:
		return o, fmt.Errorf("%w: %d athletes, at most %d", ErrInvalidOptions,
			o.Athletes, maxAthletes)
	case o.SessionsPerAthlete < 0 || o.Days < 0:
		return o, fmt.Errorf("%w: negative sessions or days", ErrInvalidOptions)
	case o.SessionsPerAthlete > o.Days:
		return o, fmt.Errorf("%w: %d sessions per athlete do not fit in %d days",
			ErrInvalidOptions, o.SessionsPerAthlete, o.Days)
	case o.FaultsPerHour < 0 || o.FaultsPerHour > maxFaultsPerHour:
		return o, fmt.Errorf("%w: %g faults per hour, want 0 to %d", ErrInvalidOptions,
			o.FaultsPerHour, maxFaultsPerHour)
	case o.FITSessions < 0 || o.Workers < 0:
		return o, fmt.Errorf("%w: negative FIT sessions or workers", ErrInvalidOptions)
	}
	return o, nil
}

// Athlete ids have five digits; more faults per hour than this would leave few
// clean samples to label against.
const (
	maxAthletes      = 99999
	maxFaultsPerHour = 20
)
