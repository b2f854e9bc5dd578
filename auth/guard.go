package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/hydrocast/hydrocast/auth/audit"
	"github.com/hydrocast/hydrocast/auth/ratelimit"
	"github.com/hydrocast/hydrocast/auth/token"
)

// Auditor receives audit records; *audit.Log is one.
type Auditor interface {
	Record(audit.Record) error
}

// Options configure a Guard. The zero value checks the default policy with
// authentication off, no rate limits and no audit log: the loopback-only embedded
// setup.
type Options struct {
	// Policy says what each method and route needs. Nil means DefaultPolicy().
	Policy *Policy

	// Verifier checks bearer tokens. Nil turns authentication off: every call runs
	// as LocalSubject with every role, which CheckBind allows on loopback only. The
	// policy's deny-by-default still holds.
	Verifier token.Verifier

	// PrincipalLimit and AddressLimit bound calls per principal subject and per
	// remote IP address. The address limit is checked first, before any token is
	// verified, so that floods of forged tokens cost little. Nil means no limit.
	PrincipalLimit *ratelimit.Limiter
	AddressLimit   *ratelimit.Limiter

	// Inflight bounds the calls being handled at once; a call finding no free slot
	// is refused at once (RESOURCE_EXHAUSTED, HTTP 503) with OverloadRetry as its
	// retry hint. Public calls (health, reflection) take no slot, so probes still
	// answer under overload. Nil means no bound.
	Inflight *ratelimit.Gate

	// OverloadRetry is the retry hint of calls refused for want of a slot. Zero
	// means 100 milliseconds.
	OverloadRetry time.Duration

	// Audit receives authentication failures, denials and audited calls. Nil means
	// none are recorded.
	Audit Auditor

	// AttachPrincipal, when set, is called with each allowed call's context and
	// principal subject, and its context replaces the call's: pass
	// registry.WithPrincipal so registry mutations are attributed to the caller.
	AttachPrincipal func(ctx context.Context, subject string) context.Context

	// Logger receives audit write failures, which must not fail the call but must
	// not go unseen. Nil means they are dropped.
	Logger *slog.Logger
}

// Guard authenticates, authorizes, rate-limits and audits calls, through its gRPC
// interceptors and its HTTP middleware. It is safe for concurrent use.
type Guard struct {
	opts Options
}

// New returns a Guard with opts.
func New(opts Options) *Guard {
	if opts.Policy == nil {
		opts.Policy = DefaultPolicy()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.OverloadRetry <= 0 {
		opts.OverloadRetry = 100 * time.Millisecond
	}
	return &Guard{opts: opts}
}

// call is one incoming call, as either transport describes it to check.
type call struct {
	method    string // gRPC full method, or HTTP route pattern once matched
	rule      Rule
	known     bool // the policy names method
	bearer    string
	remote    string // host, without port
	requestID string
	alias     string // the alias a PermMoveAlias call moves, if known
	allow     string // HTTP: the methods the policy has for an unmatched path, if any
}

// denial is why check refused a call; the transports turn it into their status.
type denial struct {
	kind       denialKind
	retryAfter time.Duration
	allow      string // deniedMethod: the methods the path takes, for Allow
}

type denialKind int

const (
	deniedUnauthenticated denialKind = iota
	deniedForbidden
	deniedLimited
	deniedUnavailable // token keys could not be fetched
	deniedOverloaded  // no free in-flight slot
	deniedMethod      // HTTP: the path is routed, but not for this method
	deniedUnknown     // no route or method of the policy: HTTP 404, gRPC as forbidden
)

// enter takes an in-flight slot for a call that needs one and reports whether it
// took one, which the caller gives back with leave once the handler returns. It
// runs before check, so that an overloaded server spends nothing on token checks.
func (g *Guard) enter(c call) (bool, *denial) {
	if !c.known || c.rule.Perm == PermPublic || g.opts.Inflight == nil {
		return false, nil
	}
	if !g.opts.Inflight.TryEnter() {
		return false, &denial{kind: deniedOverloaded, retryAfter: g.opts.OverloadRetry}
	}
	return true, nil
}

// leave gives back the slot enter took.
func (g *Guard) leave(entered bool) {
	if entered {
		g.opts.Inflight.Leave()
	}
}

// check decides a call: the address limit, the policy, the token, the principal
// limit, then the permission. Failures of the last three are audited; rate-limited
// calls are not, or a flood would flood the audit file too.
func (g *Guard) check(ctx context.Context, c call) (Principal, *denial) {
	if ok, wait := g.opts.AddressLimit.Allow(c.remote); !ok {
		return Principal{}, &denial{kind: deniedLimited, retryAfter: wait}
	}
	if !c.known {
		// Denied whoever calls; the token is checked only to name the caller in the
		// audit record, since probing for methods is worth knowing about.
		p, _ := g.authenticate(ctx, c.bearer)
		g.record(c, audit.EventAuthzDenied, p.Subject, audit.OutcomeDenied,
			"not in policy")
		if c.allow != "" {
			return Principal{}, &denial{kind: deniedMethod, allow: c.allow}
		}
		return Principal{}, &denial{kind: deniedUnknown}
	}
	if c.rule.Perm == PermPublic {
		return Principal{}, nil
	}

	p, err := g.authenticate(ctx, c.bearer)
	if err != nil {
		g.record(c, audit.EventAuthnFailure, "", audit.OutcomeDenied, err.Error())
		if errors.Is(err, token.ErrKeysUnavailable) {
			return Principal{}, &denial{kind: deniedUnavailable, retryAfter: time.Second}
		}
		return Principal{}, &denial{kind: deniedUnauthenticated}
	}
	if ok, wait := g.opts.PrincipalLimit.Allow(p.Subject); !ok {
		return Principal{}, &denial{kind: deniedLimited, retryAfter: wait}
	}

	perm := c.rule.Perm
	if perm == PermMoveAlias {
		perm = AliasPermission(c.alias)
	}
	if !p.Can(perm) {
		g.record(c, audit.EventAuthzDenied, p.Subject, audit.OutcomeDenied,
			fmt.Sprintf("needs %s", perm))
		return Principal{}, &denial{kind: deniedForbidden}
	}
	return p, nil
}

// errNoToken is the authentication failure of a call without a bearer token.
var errNoToken = errors.New("no bearer token")

// authenticate turns an Authorization value into a principal.
func (g *Guard) authenticate(ctx context.Context, header string) (Principal, error) {
	if g.opts.Verifier == nil {
		return localPrincipal, nil
	}
	scheme, raw, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return Principal{}, errNoToken
	}
	claims, err := g.opts.Verifier.Verify(ctx, strings.TrimSpace(raw))
	if err != nil {
		return Principal{}, err
	}
	return Principal{Subject: claims.Subject, Issuer: claims.Issuer,
		Roles: knownRoles(claims.Roles)}, nil
}

// admit returns the context a handler runs with once check allowed the call.
func (g *Guard) admit(ctx context.Context, p Principal, requestID string) context.Context {
	c := &callContext{Context: ctx, requestID: requestID}
	if p.Subject == "" {
		return c // a public method: nobody to name
	}
	c.principal, c.named = p, true
	if g.opts.AttachPrincipal != nil {
		return g.opts.AttachPrincipal(c, p.Subject)
	}
	return c
}

// callContext is the context a guarded call's handler runs with: its request id and
// its principal (see RequestID and FromContext) in one allocation, where a context
// value each took two. Every other key, cancellation and the deadline are ctx's.
type callContext struct {
	context.Context
	requestID string
	principal Principal
	named     bool // principal is set: the method is not public
}

func (c *callContext) Value(key any) any {
	switch key.(type) {
	case requestIDKey:
		return c.requestID
	case principalKey:
		if c.named {
			return c.principal
		}
	}
	return c.Context.Value(key)
}

// finish records an audited call's outcome after its handler ran.
func (g *Guard) finish(c call, p Principal, failed bool) {
	if !c.rule.Audited {
		return
	}
	outcome := audit.OutcomeAllowed
	if failed {
		outcome = audit.OutcomeFailed
	}
	g.record(c, audit.EventCall, p.Subject, outcome, "")
}

func (g *Guard) record(c call, event, subject, outcome, reason string) {
	if g.opts.Audit == nil {
		return
	}
	err := g.opts.Audit.Record(audit.Record{Event: event, Principal: subject,
		Method: c.method, Outcome: outcome, Reason: reason, Remote: c.remote,
		RequestID: c.requestID})
	if err != nil {
		g.opts.Logger.Error("audit record lost", "error", err, "method", c.method,
			"request_id", c.requestID)
	}
}

// hostOf returns the host of a host:port address, or addr itself without a port.
func hostOf(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

type requestIDKey struct{}

// RequestID returns the id of the request ctx belongs to: the caller's x-request-id
// when it sent a usable one, a random one otherwise. Empty outside a guarded call.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// RequestIDHeader is the header (HTTP) and metadata key (gRPC) carrying request ids.
const RequestIDHeader = "x-request-id"

// requestID keeps the caller's id when it is short and printable, so that it can be
// followed across services, and makes one up otherwise.
func requestID(given string) string {
	if given != "" && len(given) <= 128 && strings.IndexFunc(given, func(r rune) bool {
		return r < 0x21 || r > 0x7e
	}) < 0 {
		return given
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
