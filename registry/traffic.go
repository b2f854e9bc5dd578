package registry

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxArms caps the versions one traffic policy splits between.
const maxArms = 16

// weightTolerance is how far from 1 or 100 the weights of a policy may sum, to allow
// for decimal fractions such as 33.3 + 33.3 + 33.4.
const weightTolerance = 1e-6

// TrafficPolicy splits a model's requests between versions: each athlete is assigned
// to one arm, sticky, by a hash of the experiment's salt and the athlete's id (see
// Assign), and an optional shadow version gets a copy of every request whose result
// is logged, never returned. A model without a policy serves its production alias.
type TrafficPolicy struct {
	Model string `json:"model"`

	// Arms are the versions that serve, each with its weight; stores return them
	// sorted by version. Weights are positive and sum to 1 or to 100.
	Arms []TrafficArm `json:"arms"`

	// Salt names the experiment and seeds the assignment; changing it reshuffles
	// every athlete. Setting a policy with an empty salt keeps the salt of the policy
	// it replaces, or draws a new one when there is none.
	Salt string `json:"salt"`

	// Shadow, when not zero, is the version that receives a mirrored copy of every
	// request. It must not be one of the arms.
	Shadow int `json:"shadow,omitempty"`

	// Updated, Principal and Reason describe the change that set the policy. Stores
	// fill them on reads; they are ignored on writes.
	Updated   time.Time `json:"updated"`
	Principal string    `json:"principal,omitempty"`
	Reason    string    `json:"reason,omitempty"`
}

// TrafficArm is one version of a traffic policy and its share of athletes.
type TrafficArm struct {
	Version int     `json:"version"`
	Weight  float64 `json:"weight"`
}

// TrafficChange asks for a model's traffic policy to be set, replacing any it has.
type TrafficChange struct {
	Policy TrafficPolicy `json:"policy"`
	Reason string        `json:"reason"`
}

// TrafficEvent is one row of a model's traffic history: a policy set, or cleared.
type TrafficEvent struct {
	ID    int64  `json:"id"`
	Model string `json:"model"`

	// Policy is the policy the change set, nil when it cleared the policy.
	Policy *TrafficPolicy `json:"policy"`

	Principal string    `json:"principal"`
	Reason    string    `json:"reason"`
	Time      time.Time `json:"time"`
}

// Check returns an ErrInvalid error naming the first malformed field of the change.
// The versions' being ready is for the store to check.
func (c TrafficChange) Check() error {
	if err := c.Policy.Check(); err != nil {
		return err
	}
	return CheckReason(c.Reason)
}

// Check returns an ErrInvalid error naming the first malformed field of the policy.
// An empty salt passes: the store fills it.
func (p TrafficPolicy) Check() error {
	if err := CheckModelName(p.Model); err != nil {
		return err
	}
	if len(p.Arms) == 0 || len(p.Arms) > maxArms {
		return invalid("traffic policy of %s: %d versions, want 1 to %d",
			p.Model, len(p.Arms), maxArms)
	}
	seen := make(map[int]bool, len(p.Arms))
	var sum float64
	for _, a := range p.Arms {
		if a.Version < 1 {
			return invalid("traffic policy of %s: version %d: versions are numbered from 1",
				p.Model, a.Version)
		}
		if seen[a.Version] {
			return invalid("traffic policy of %s: version %d named twice", p.Model, a.Version)
		}
		seen[a.Version] = true
		if !(a.Weight > 0) || math.IsInf(a.Weight, 0) {
			return invalid("traffic policy of %s: version %d: weight %v, want a positive "+
				"number", p.Model, a.Version, a.Weight)
		}
		sum += a.Weight
	}
	if math.Abs(sum-1) > weightTolerance && math.Abs(sum-100) > 100*weightTolerance {
		return invalid("traffic policy of %s: weights sum to %v, want 1 or 100",
			p.Model, sum)
	}
	if p.Shadow < 0 {
		return invalid("traffic policy of %s: shadow version %d: negative", p.Model, p.Shadow)
	}
	if seen[p.Shadow] {
		return invalid("traffic policy of %s: shadow version %d also serves as an arm",
			p.Model, p.Shadow)
	}
	if err := checkKey("salt", p.Salt); p.Salt != "" && err != nil {
		return err
	}
	return nil
}

// Normalized returns a copy of the policy with its arms sorted by version, so that
// raising a newer version's weight moves athletes only toward it.
func (p TrafficPolicy) Normalized() TrafficPolicy {
	p.Arms = slices.Clone(p.Arms)
	slices.SortFunc(p.Arms, func(a, b TrafficArm) int { return a.Version - b.Version })
	return p
}

// Versions returns the versions the policy loads: its arms, then its shadow.
func (p TrafficPolicy) Versions() []int {
	var out []int
	for _, a := range p.Arms {
		out = append(out, a.Version)
	}
	if p.Shadow != 0 {
		out = append(out, p.Shadow)
	}
	return out
}

// Names reports whether the policy serves or shadows version.
func (p TrafficPolicy) Names(version int) bool {
	return slices.Contains(p.Versions(), version)
}

// Split formats the arms as "3=90,4=10", the form the command line takes.
func (p TrafficPolicy) Split() string {
	parts := make([]string, len(p.Arms))
	for i, a := range p.Arms {
		parts[i] = strconv.Itoa(a.Version) + "=" + strconv.FormatFloat(a.Weight, 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

// Assign returns the index in p.Arms of the arm that serves athleteID. The same
// salt, arms and athlete always give the same arm, in any process: the athlete's
// point in [0, 1) is the FNV-1a 64 hash of salt, a zero byte and the id, mixed by the
// SplitMix64 finaliser and scaled to 53 bits, and the arm is the first whose
// cumulative share of the weights exceeds it. Analysis code can recompute it.
func (p TrafficPolicy) Assign(athleteID string) int {
	point := AssignmentPoint(p.Salt, athleteID)
	var total float64
	for _, a := range p.Arms {
		total += a.Weight
	}
	var cum float64
	for i, a := range p.Arms {
		cum += a.Weight
		if point*total < cum {
			return i
		}
	}
	return len(p.Arms) - 1
}

// AssignmentPoint returns the athlete's point in [0, 1) under salt, as Assign uses.
func AssignmentPoint(salt, athleteID string) float64 {
	h := fnv.New64a()
	h.Write([]byte(salt))
	h.Write([]byte{0})
	h.Write([]byte(athleteID))
	x := h.Sum64()

	// FNV's high bits change little between ids that differ in their last byte;
	// the finaliser spreads every input bit over the whole word.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// NewSalt returns a random experiment salt, for a policy set without one.
func NewSalt() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return "exp-" + hex.EncodeToString(b)
}

// Describe summarises the policy in one line for audit entries and logs, such as
// "3=90,4=10 shadow 5 salt exp-1".
func (p TrafficPolicy) Describe() string {
	s := p.Split()
	if p.Shadow != 0 {
		s += fmt.Sprintf(" shadow %d", p.Shadow)
	}
	return s + " salt " + p.Salt
}

// CheckReason returns an ErrInvalid error unless reason is a non-empty reason for a
// change, short enough for the history.
func CheckReason(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return invalid("reason: required")
	}
	return checkText("reason", reason, maxReason)
}

// ParseSplit reads arms in the command line's form, "3=90,4=10": comma-separated
// VERSION=WEIGHT pairs. It checks the form only; TrafficPolicy.Check checks the rest.
func ParseSplit(s string) ([]TrafficArm, error) {
	if strings.TrimSpace(s) == "" {
		return nil, invalid("split: empty, want VERSION=WEIGHT pairs such as 3=90,4=10")
	}
	parts := strings.Split(s, ",")
	if len(parts) > maxArms {
		return nil, invalid("split: %d versions, at most %d allowed", len(parts), maxArms)
	}
	arms := make([]TrafficArm, 0, len(parts))
	for _, part := range parts {
		v, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, invalid("split %q: %q is not VERSION=WEIGHT", s, part)
		}
		version, err := strconv.Atoi(v)
		if err != nil || version < 1 {
			return nil, invalid("split %q: version %q is not a number from 1", s, v)
		}
		weight, err := strconv.ParseFloat(w, 64)
		if err != nil || !(weight > 0) || math.IsInf(weight, 0) {
			return nil, invalid("split %q: weight %q of version %d is not a positive "+
				"number", s, w, version)
		}
		arms = append(arms, TrafficArm{Version: version, Weight: weight})
	}
	return arms, nil
}
