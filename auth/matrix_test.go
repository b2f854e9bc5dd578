package auth

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The expected matrix, written out by hand rather than derived from RolePermissions,
// so that a change to the grants or the policy shows here as a failing cell.
var everyone = []Role{RoleService, RoleDataScientist, RoleMLOps, RoleResearcher, RoleAdmin}

type expectation struct {
	name    string // the row's label
	method  string // gRPC full method, or "VERB /path" for HTTP
	alias   string // for SetAlias rows
	allowed []Role
	open    bool // public: allowed to every column, without a token too
}

func roles(rs ...Role) []Role { return rs }

var grpcMatrix = []expectation{
	{method: "/grpc.health.v1.Health/Check", open: true},
	{method: "/grpc.health.v1.Health/Watch", open: true},
	{method: "/grpc.health.v1.Health/List", open: true},
	{method: "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", open: true},
	{method: "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", open: true},
	{method: "/hydrocast.v1.HydrocastService/Ingest", allowed: roles(RoleService, RoleAdmin)},
	{method: "/hydrocast.v1.HydrocastService/Assess", allowed: roles(RoleService, RoleAdmin)},
	{method: "/hydrocast.v1.HydrocastService/AssessBatch",
		allowed: roles(RoleService, RoleAdmin)},
	{method: "/hydrocast.v1.HydrocastService/RecordOutcome",
		allowed: roles(RoleService, RoleAdmin)},
	{method: "/inference.GRPCInferenceService/ServerLive", open: true},
	{method: "/inference.GRPCInferenceService/ServerReady", open: true},
	{method: "/inference.GRPCInferenceService/ModelReady", allowed: everyone},
	{method: "/inference.GRPCInferenceService/ServerMetadata", allowed: everyone},
	{method: "/inference.GRPCInferenceService/ModelMetadata", allowed: everyone},
	{method: "/inference.GRPCInferenceService/ModelInfer",
		allowed: roles(RoleService, RoleAdmin)},
	{method: "/hydrocast.v1.RegistryService/ListModels", allowed: everyone},
	{method: "/hydrocast.v1.RegistryService/GetVersion", allowed: everyone},
	{method: "/hydrocast.v1.RegistryService/WatchRegistry", allowed: everyone},
	{method: "/hydrocast.v1.RegistryService/GetModel", allowed: everyone},
	{method: "/hydrocast.v1.RegistryService/GetHistory", allowed: everyone},
	{method: "/hydrocast.v1.RegistryService/UploadModel",
		allowed: roles(RoleDataScientist, RoleAdmin)},
	{name: "SetAlias staging", method: "/hydrocast.v1.RegistryService/SetAlias",
		alias: "staging", allowed: roles(RoleDataScientist, RoleMLOps, RoleAdmin)},
	{name: "SetAlias production", method: "/hydrocast.v1.RegistryService/SetAlias",
		alias: "production", allowed: roles(RoleMLOps, RoleAdmin)},
	{name: "SetAlias canary", method: "/hydrocast.v1.RegistryService/SetAlias",
		alias: "canary", allowed: roles(RoleMLOps, RoleAdmin)},
	{method: "/hydrocast.v1.RegistryService/Rollback", allowed: roles(RoleMLOps, RoleAdmin)},
	{method: "/hydrocast.v1.RegistryService/SetTraffic", allowed: roles(RoleMLOps, RoleAdmin)},
	{method: "/hydrocast.v1.EvaluationService/Evaluate",
		allowed: roles(RoleResearcher, RoleAdmin)},
	{method: "/hydrocast.v1.EvaluationService/GetDriftReport",
		allowed: roles(RoleMLOps, RoleResearcher, RoleAdmin)},
	{method: "/hydrocast.v1.AthleteService/ExportAthlete", allowed: roles(RoleAdmin)},
	{method: "/hydrocast.v1.AthleteService/DeleteAthlete", allowed: roles(RoleAdmin)},
	{name: "unknown method", method: "/hydrocast.v1.HydrocastService/Shutdown"},
	{name: "unknown service", method: "/x.Backdoor/Open"},
}

var httpMatrix = []expectation{
	{method: "GET /v2/health/live", open: true},
	{method: "HEAD /v2/health/live", open: true},
	{method: "GET /v2/health/ready", open: true},
	{method: "GET /v2", allowed: everyone},
	{method: "GET /v2/models/sweat-rate", allowed: everyone},
	{method: "GET /v2/models/sweat-rate/versions/3", allowed: everyone},
	{method: "GET /v2/models/sweat-rate/ready", allowed: everyone},
	{method: "GET /v2/models/sweat-rate/versions/3/ready", allowed: everyone},
	{method: "POST /v2/models/sweat-rate/infer", allowed: roles(RoleService, RoleAdmin)},
	{method: "POST /v2/models/sweat-rate/versions/3/infer",
		allowed: roles(RoleService, RoleAdmin)},
	{method: "GET /metrics", allowed: everyone},
	{method: "GET /v1/models", allowed: everyone},
	{method: "GET /v1/models/sweat-rate", allowed: everyone},
	{method: "GET /v1/models/sweat-rate/history", allowed: everyone},
	{method: "POST /v1/models/sweat-rate/versions",
		allowed: roles(RoleDataScientist, RoleAdmin)},
	{method: "PUT /v1/models/sweat-rate/aliases/staging",
		allowed: roles(RoleDataScientist, RoleMLOps, RoleAdmin)},
	{method: "PUT /v1/models/sweat-rate/aliases/production",
		allowed: roles(RoleMLOps, RoleAdmin)},
	{method: "POST /v1/models/sweat-rate/aliases/production/rollback",
		allowed: roles(RoleMLOps, RoleAdmin)},
	{method: "PUT /v1/models/sweat-rate/traffic", allowed: roles(RoleMLOps, RoleAdmin)},
	{method: "POST /v1/evaluations", allowed: roles(RoleResearcher, RoleAdmin)},
	{method: "GET /v1/models/sweat-rate/drift",
		allowed: roles(RoleMLOps, RoleResearcher, RoleAdmin)},
	{method: "GET /v1/athletes/a-17/export", allowed: roles(RoleAdmin)},
	{method: "DELETE /v1/athletes/a-17", allowed: roles(RoleAdmin)},
	{name: "unknown path", method: "GET /v3/secrets"},
	{name: "wrong verb", method: "POST /v2/health/live"},
	{name: "unknown verb on a model", method: "DELETE /v2/models/sweat-rate"},
}

func (e expectation) label() string {
	if e.name != "" {
		return e.name
	}
	return e.method
}

// principals are the columns: one token per role, a token without a known role, and
// no token at all.
type column struct {
	name   string
	role   Role // empty for the last two columns
	bearer string
}

func columns(t *testing.T, iss issuer) []column {
	var cols []column
	for _, r := range Roles() {
		cols = append(cols, column{string(r), r, iss.bearer(t, "p-"+string(r), string(r))})
	}
	cols = append(cols, column{"unknown role", "", iss.bearer(t, "p-x", "superuser")})
	return append(cols, column{"no token", "", ""})
}

// wantAllowed is the matrix cell: an open row allows every column; other rows allow
// the listed roles only.
func wantAllowed(e expectation, c column) bool {
	return e.open || (c.role != "" && slices.Contains(e.allowed, c.role))
}

func TestGRPCMatrix(t *testing.T) {
	iss := newIssuer(t)
	g := New(Options{Verifier: iss.verifier})
	for _, e := range grpcMatrix {
		for _, c := range columns(t, iss) {
			t.Run(e.label()+"/"+c.name, func(t *testing.T) {
				var req any
				if e.alias != "" {
					req = aliasRequest{e.alias}
				}

				_, err := callUnary(g, e.method, c.bearer, "10.0.0.1", req)

				want := wantAllowed(e, c)
				if want != (err == nil) {
					t.Fatalf("error %v, want allowed=%v", err, want)
				}
				if err != nil {
					wantCode := codes.PermissionDenied
					_, known := g.opts.Policy.Method(e.method)
					if c.bearer == "" && known {
						wantCode = codes.Unauthenticated
					}
					if status.Code(err) != wantCode {
						t.Errorf("code %v, want %v", status.Code(err), wantCode)
					}
				}
			})
		}
	}
}

func TestHTTPMatrix(t *testing.T) {
	iss := newIssuer(t)
	g := New(Options{Verifier: iss.verifier})
	for _, e := range httpMatrix {
		for _, c := range columns(t, iss) {
			t.Run(e.label()+"/"+c.name, func(t *testing.T) {
				verb, path, _ := strings.Cut(e.method, " ")

				w := serveHTTP(g, verb, path, c.bearer)

				want := wantAllowed(e, c)
				if want != (w.Code == http.StatusOK) {
					t.Fatalf("status %d, want allowed=%v", w.Code, want)
				}
				if w.Code == http.StatusUnauthorized &&
					!strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
					t.Error("401 without a Bearer challenge")
				}
			})
		}
	}
}

// TestMatrixCoversPolicy keeps the matrix complete: every method and route the
// default policy names must have a row, so a new one cannot skip review.
func TestMatrixCoversPolicy(t *testing.T) {
	p := DefaultPolicy()
	for _, m := range p.Methods() {
		if !slices.ContainsFunc(grpcMatrix, func(e expectation) bool { return e.method == m }) {
			t.Errorf("method %s has no row in the matrix", m)
		}
	}
	seen := map[string]bool{}
	for _, e := range httpMatrix {
		verb, path, _ := strings.Cut(e.method, " ")
		if _, pattern, _, ok := p.Route(httpRequest(verb, path)); ok {
			seen[pattern] = true
		}
	}
	for _, r := range p.Routes() {
		if !seen[r] {
			t.Errorf("route %s has no row in the matrix", r)
		}
	}
}

func httpRequest(verb, path string) *http.Request {
	r, _ := http.NewRequest(verb, "http://hydrocast"+path, nil)
	return r
}
