package inference

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/evaluation"
	"github.com/hydrocast/hydrocast/models/physio"
)

// LabelsFile is where, under hydrocast's state folder, RecordOutcome appends labels
// and drift report and eval look for them.
const LabelsFile = "labels/labels.jsonl"

// Bounds of a plausible outcome; values outside them are typing errors, not athletes.
const (
	minMassKg      = 20
	maxMassKg      = 300
	maxFluidML     = 20_000
	maxSession     = 24 * time.Hour
	maxAthleteID   = 256
	futureTolerate = 5 * time.Minute // clock skew between a client and the server
)

// ErrBadOutcome reports an outcome that cannot be recorded; the error names the
// field that is wrong.
var ErrBadOutcome = errors.New("bad outcome")

// OutcomeService is the hydrocast.v1 service with RecordOutcome: the Server's
// ingest and assessments, and labels appended to Labels. Register it in place of
// the Server.
type OutcomeService struct {
	*Server
	Labels *OutcomeLog
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// RecordOutcome validates a session's outcome, computes its sweat rate and stores
// it as a label before answering.
func (s *OutcomeService) RecordOutcome(_ context.Context,
	req *hydrocastv1.RecordOutcomeRequest) (*hydrocastv1.RecordOutcomeResponse, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	label, lossPct, err := OutcomeLabel(req, now())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if s.Labels == nil {
		return nil, status.Error(codes.Unavailable, "this server keeps no labels")
	}
	if err := s.Labels.Append(label); err != nil {
		s.log.Error("record outcome", "err", err)
		return nil, status.Error(codes.Internal, "the label could not be stored")
	}
	return &hydrocastv1.RecordOutcomeResponse{SweatRateLPerH: label.SweatRateLPerH,
		BodyMassLossPct: lossPct}, nil
}

// OutcomeLabel checks req and returns its label, and the body-mass loss in % when
// it has weigh-ins. The sweat rate is the one given, or the mass balance of the
// weigh-ins, fluid and urine over the session (science.md §3). now bounds how late
// the session may end. Errors wrap ErrBadOutcome and name the field.
func OutcomeLabel(req *hydrocastv1.RecordOutcomeRequest, now time.Time) (evaluation.Label,
	*float64, error) {
	l, err := outcomeSession(req, now)
	if err != nil {
		return l, nil, fmt.Errorf("%w: %w", ErrBadOutcome, err)
	}

	var lossPct *float64
	if req.SweatRateLPerH != nil {
		if req.PreMassKg != nil || req.PostMassKg != nil || req.FluidMl != nil ||
			req.UrineMl != nil {
			return l, nil, fmt.Errorf("%w: sweat_rate_l_per_h: give either a measured "+
				"sweat rate or the weigh-ins (pre_mass_kg, post_mass_kg, fluid_ml, "+
				"urine_ml), not both", ErrBadOutcome)
		}
		l.SweatRateLPerH = req.GetSweatRateLPerH()
	} else {
		rate, loss, err := massBalance(req, l)
		if err != nil {
			return l, nil, fmt.Errorf("%w: %w", ErrBadOutcome, err)
		}
		l.SweatRateLPerH, lossPct = rate, &loss
	}

	if r := l.SweatRateLPerH; !(r >= 0 && r <= 10) {
		return l, nil, fmt.Errorf("%w: sweat_rate_l_per_h: %.3g L/h is outside [0, 10]",
			ErrBadOutcome, r)
	}
	return l, lossPct, nil
}

// outcomeSession checks the athlete and the session's bounds.
func outcomeSession(req *hydrocastv1.RecordOutcomeRequest, now time.Time) (
	evaluation.Label, error) {
	var l evaluation.Label
	switch id := req.GetAthleteId(); {
	case id == "":
		return l, errors.New("athlete_id is empty")
	case len(id) > maxAthleteID:
		return l, fmt.Errorf("athlete_id is longer than %d bytes", maxAthleteID)
	}
	l.AthleteID = req.GetAthleteId()

	if req.SessionStart == nil {
		return l, errors.New("session_start is missing")
	}
	if err := req.SessionStart.CheckValid(); err != nil {
		return l, fmt.Errorf("session_start: %w", err)
	}
	l.SessionStart = req.SessionStart.AsTime()
	if req.SessionEnd != nil {
		if err := req.SessionEnd.CheckValid(); err != nil {
			return l, fmt.Errorf("session_end: %w", err)
		}
		l.SessionEnd = req.SessionEnd.AsTime()
	}

	last := l.SessionStart
	if !l.SessionEnd.IsZero() {
		last = l.SessionEnd
		if !l.SessionEnd.After(l.SessionStart) {
			return l, errors.New("session_end is not after session_start")
		}
		if l.SessionEnd.Sub(l.SessionStart) > maxSession {
			return l, fmt.Errorf("session_end: the session lasts more than %v", maxSession)
		}
	}
	if last.After(now.Add(futureTolerate)) {
		return l, fmt.Errorf("session_end: the session ends in the future (%s)",
			last.Format(time.RFC3339))
	}
	return l, nil
}

// massBalance returns the sweat rate (L/h) and body-mass loss (%) of the request's
// weigh-ins; 1 kg is taken as 1 L.
func massBalance(req *hydrocastv1.RecordOutcomeRequest, l evaluation.Label) (float64,
	float64, error) {
	if req.PreMassKg == nil && req.PostMassKg == nil {
		return 0, 0, errors.New("sweat_rate_l_per_h: give a measured sweat rate, or " +
			"pre_mass_kg and post_mass_kg")
	}
	if l.SessionEnd.IsZero() {
		return 0, 0, errors.New("session_end is missing; a mass balance needs the " +
			"session's length")
	}
	fields := []struct {
		name     string
		v        *float64
		min, max float64
		required bool
	}{
		{"pre_mass_kg", req.PreMassKg, minMassKg, maxMassKg, true},
		{"post_mass_kg", req.PostMassKg, minMassKg, maxMassKg, true},
		{"fluid_ml", req.FluidMl, 0, maxFluidML, false},
		{"urine_ml", req.UrineMl, 0, maxFluidML, false},
	}
	for _, f := range fields {
		switch {
		case f.v == nil && f.required:
			return 0, 0, fmt.Errorf("%s is missing", f.name)
		case f.v != nil && !(*f.v >= f.min && *f.v <= f.max):
			return 0, 0, fmt.Errorf("%s: %v is outside [%v, %v]", f.name, *f.v, f.min,
				f.max)
		}
	}

	pre, post := req.GetPreMassKg(), req.GetPostMassKg()
	hours := l.SessionEnd.Sub(l.SessionStart).Hours()
	rate := physio.SweatRateLPerH(pre, post, req.GetFluidMl()/1000, req.GetUrineMl()/1000,
		hours)
	if rate < 0 || math.IsNaN(rate) {
		return 0, 0, fmt.Errorf("post_mass_kg: the mass balance gives a negative sweat "+
			"rate (%.3g L/h): check the weigh-ins, fluid_ml and urine_ml", rate)
	}
	return rate, physio.BodyMassLossPct(pre, post), nil
}
