package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Role is a set of permissions a token grants its bearer, named in its roles claim.
type Role string

// The roles. Each grants the permissions listed in RolePermissions; admin grants all.
const (
	RoleService       Role = "service"        // coaching apps, alerting, gateways
	RoleDataScientist Role = "data-scientist" // uploads models, moves staging
	RoleMLOps         Role = "mlops"          // moves production, traffic, rollback
	RoleResearcher    Role = "researcher"     // evaluates versions, reads drift
	RoleAdmin         Role = "admin"          // everything
)

// Roles returns every role, in a stable order.
func Roles() []Role {
	return []Role{RoleService, RoleDataScientist, RoleMLOps, RoleResearcher, RoleAdmin}
}

// ErrUnknownRole is returned by ParseRole for a name that is no role.
var ErrUnknownRole = errors.New("unknown role")

// ParseRole returns the role named s, for `hydrocast token issue --role`.
func ParseRole(s string) (Role, error) {
	if r := Role(s); slices.Contains(Roles(), r) {
		return r, nil
	}
	return "", fmt.Errorf("%w %q (want one of %v)", ErrUnknownRole, s, Roles())
}

// Permission names one kind of call. The policy maps every gRPC method and HTTP
// route to the permission it needs.
type Permission string

// The permissions.
const (
	// PermPublic needs no credentials at all: health checks, liveness, reflection.
	PermPublic Permission = "public"
	// PermRead is held by every role: metadata and read-only registry listings.
	PermRead Permission = "read"

	PermAssess Permission = "assess"
	PermInfer  Permission = "infer"
	PermIngest Permission = "ingest"

	PermUpload         Permission = "model.upload"
	PermMoveStaging    Permission = "alias.staging"
	PermMoveProduction Permission = "alias.production" // also any alias but staging
	PermTraffic        Permission = "traffic"
	PermRollback       Permission = "rollback"

	PermEvaluate  Permission = "evaluate"
	PermReadDrift Permission = "drift.read"

	// PermAdmin covers per-athlete exports and deletions and audit reads.
	PermAdmin Permission = "admin"

	// PermMoveAlias is a rule's placeholder for "move the alias the request names":
	// the guard replaces it with AliasPermission of that alias before checking.
	PermMoveAlias Permission = "alias.move"
)

// RolePermissions lists what each role may do, besides PermRead, which all hold.
// mlops may also move staging, since it may move production; it reads drift
// because watching drift is part of running models. admin holds everything.
var RolePermissions = map[Role][]Permission{
	RoleService:       {PermAssess, PermInfer, PermIngest},
	RoleDataScientist: {PermUpload, PermMoveStaging},
	RoleMLOps: {PermMoveStaging, PermMoveProduction, PermTraffic, PermRollback,
		PermReadDrift},
	RoleResearcher: {PermEvaluate, PermReadDrift},
}

// Can reports whether r grants p.
func (r Role) Can(p Permission) bool {
	switch {
	case p == PermPublic:
		return true
	case r == RoleAdmin:
		return true
	case p == PermRead:
		return slices.Contains(Roles(), r)
	}
	return slices.Contains(RolePermissions[r], p)
}

// AliasPermission returns the permission needed to move alias: staging is the data
// scientists'; production and any other alias, which servers may be pointed at,
// need mlops.
func AliasPermission(alias string) Permission {
	if alias == "staging" {
		return PermMoveStaging
	}
	return PermMoveProduction
}

// Principal is the authenticated caller of one request.
type Principal struct {
	// Subject names the caller: the token's sub claim, LocalSubject when
	// authentication is off, empty on a public method.
	Subject string
	// Issuer is the token's iss claim.
	Issuer string
	// Roles are the roles of the token's roles claim that hydrocast knows; others
	// are dropped.
	Roles []Role
}

// LocalSubject is the Subject of calls served while authentication is off, which
// only loopback listeners allow (see CheckBind).
const LocalSubject = "local"

// localPrincipal holds every role: with authentication off, whoever can reach a
// loopback port is the machine's user.
var localPrincipal = Principal{Subject: LocalSubject, Roles: []Role{RoleAdmin}}

// Can reports whether one of p's roles grants perm.
func (p Principal) Can(perm Permission) bool {
	if perm == PermPublic {
		return true
	}
	return slices.ContainsFunc(p.Roles, func(r Role) bool { return r.Can(perm) })
}

// knownRoles keeps the names that are roles, once each.
func knownRoles(names []string) []Role {
	var roles []Role
	for _, n := range names {
		if r, err := ParseRole(n); err == nil && !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	return roles
}

type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal the guard put in ctx, and whether there is one.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
