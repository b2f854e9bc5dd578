package auth

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionalphapb "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	inferencepb "github.com/hydrocast/hydrocast/api/inference"
)

// Rule is what one gRPC method or HTTP route needs.
type Rule struct {
	// Perm is the permission the caller must hold.
	Perm Permission

	// Audited asks for an audit record of every call, allowed or not, with its
	// outcome: registry changes, exports, deletions.
	Audited bool
}

// Policy maps gRPC full method names ("/package.Service/Method") and HTTP route
// patterns (net/http ServeMux syntax, "POST /v2/models/{model}/infer") to rules. A
// method or route it does not name is denied. A Policy is immutable once built.
type Policy struct {
	methods map[string]Rule
	routes  map[string]Rule
	mux     *http.ServeMux // the route patterns, matched as the server's mux does
}

// NewPolicy returns a policy of the given rules. It fails on a route pattern that
// ServeMux rejects, or two that conflict.
func NewPolicy(methods, routes map[string]Rule) (p *Policy, err error) {
	p = &Policy{methods: maps.Clone(methods), routes: maps.Clone(routes),
		mux: http.NewServeMux()}
	defer func() {
		// ServeMux.Handle reports bad and conflicting patterns by panicking.
		if v := recover(); v != nil {
			p, err = nil, fmt.Errorf("build policy: %v", v)
		}
	}()
	for pattern := range p.routes {
		p.mux.Handle(pattern, routeMarker(pattern))
	}
	return p, nil
}

// DefaultPolicy returns the policy of DefaultMethods and DefaultRoutes.
func DefaultPolicy() *Policy {
	p, err := NewPolicy(DefaultMethods(), DefaultRoutes())
	if err != nil {
		panic(err) // the defaults are fixed; a test builds them
	}
	return p
}

// Method returns the rule for a gRPC full method name.
func (p *Policy) Method(fullMethod string) (Rule, bool) {
	r, ok := p.methods[fullMethod]
	return r, ok
}

// Methods returns the gRPC method names the policy covers, sorted.
func (p *Policy) Methods() []string {
	return slices.Sorted(maps.Keys(p.methods))
}

// Routes returns the HTTP route patterns the policy covers, sorted.
func (p *Policy) Routes() []string {
	return slices.Sorted(maps.Keys(p.routes))
}

// routeMatch is the result of matching a request against the policy's patterns.
type routeMatch struct {
	pattern string
	alias   string
}

type matchKey struct{}

// routeMarker records which pattern matched, and the {alias} wildcard's value.
type routeMarker string

func (m routeMarker) ServeHTTP(_ http.ResponseWriter, r *http.Request) {
	if rm, ok := r.Context().Value(matchKey{}).(*routeMatch); ok {
		rm.pattern, rm.alias = string(m), r.PathValue("alias")
	}
}

// Route returns the rule for r, the pattern it matched and the {alias} path
// wildcard's value. It matches with a ServeMux of the policy's patterns, so it picks
// the route the server's own ServeMux would; a request that mux would redirect or
// refuse matches nothing.
func (p *Policy) Route(r *http.Request) (rule Rule, pattern, alias string, ok bool) {
	var m routeMatch
	probe := r.WithContext(context.WithValue(r.Context(), matchKey{}, &m))
	p.mux.ServeHTTP(discardWriter{}, probe)
	if m.pattern == "" {
		return Rule{}, "", "", false
	}
	return p.routes[m.pattern], m.pattern, m.alias, true
}

// Allowed returns, for a request that matches no route, the methods that routes of
// the same path take ("GET, HEAD"), as the Allow header of a 405 answer names them;
// it is empty when no route has the path.
func (p *Policy) Allowed(r *http.Request) string {
	w := &probeWriter{header: http.Header{}}
	p.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), matchKey{},
		&routeMatch{})))
	if w.code != http.StatusMethodNotAllowed {
		return ""
	}
	return w.header.Get("Allow")
}

// discardWriter swallows what the probing mux writes for unmatched requests.
type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}

// probeWriter keeps the status and headers the probing mux answers with.
type probeWriter struct {
	header http.Header
	code   int
}

func (w *probeWriter) Header() http.Header         { return w.header }
func (w *probeWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *probeWriter) WriteHeader(code int)        { w.code = code }

// ServiceInfoProvider is implemented by *grpc.Server.
type ServiceInfoProvider interface {
	GetServiceInfo() map[string]grpc.ServiceInfo
}

// Uncovered returns the methods s serves that the policy does not name, sorted.
// Such methods are denied to everyone; call it at start and refuse to run when it
// returns any, so that a newly registered service is not shipped unreachable.
func (p *Policy) Uncovered(s ServiceInfoProvider) []string {
	var missing []string
	for service, info := range s.GetServiceInfo() {
		for _, m := range info.Methods {
			full := "/" + service + "/" + m.Name
			if _, ok := p.methods[full]; !ok {
				missing = append(missing, full)
			}
		}
	}
	slices.Sort(missing)
	return missing
}

// Planned methods of services not written yet, named here so that their rules are
// settled with the roles. TODO: when these registry, evaluation and athlete-data
// methods get their .proto definitions, replace these names with the generated
// FullMethodName constants; until then the guard denies the real names.
const (
	MethodGetModel       = "/hydrocast.v1.RegistryService/GetModel"
	MethodGetHistory     = "/hydrocast.v1.RegistryService/GetHistory"
	MethodSetAlias       = "/hydrocast.v1.RegistryService/SetAlias"
	MethodRollback       = "/hydrocast.v1.RegistryService/Rollback"
	MethodSetTraffic     = "/hydrocast.v1.RegistryService/SetTraffic"
	MethodEvaluate       = "/hydrocast.v1.EvaluationService/Evaluate"
	MethodGetDriftReport = "/hydrocast.v1.EvaluationService/GetDriftReport"
	MethodExportAthlete  = "/hydrocast.v1.AthleteService/ExportAthlete"
	MethodDeleteAthlete  = "/hydrocast.v1.AthleteService/DeleteAthlete"
)

// DefaultMethods returns the rules of every gRPC method hydrocast serves or plans
// to. Health and reflection are public: orchestrators probe health without
// credentials, and reflection describes only the API, which is no secret.
func DefaultMethods() map[string]Rule {
	public, read := Rule{Perm: PermPublic}, Rule{Perm: PermRead}
	return map[string]Rule{
		healthpb.Health_Check_FullMethodName:                                   public,
		healthpb.Health_Watch_FullMethodName:                                   public,
		healthpb.Health_List_FullMethodName:                                    public,
		reflectionpb.ServerReflection_ServerReflectionInfo_FullMethodName:      public,
		reflectionalphapb.ServerReflection_ServerReflectionInfo_FullMethodName: public,

		hydrocastv1.HydrocastService_Ingest_FullMethodName:      {Perm: PermIngest},
		hydrocastv1.HydrocastService_Assess_FullMethodName:      {Perm: PermAssess},
		hydrocastv1.HydrocastService_AssessBatch_FullMethodName: {Perm: PermAssess},
		// Post-session weigh-ins come from the same gateways and apps as readings.
		hydrocastv1.HydrocastService_RecordOutcome_FullMethodName: {Perm: PermIngest,
			Audited: true},

		hydrocastv1.RegistryService_ListModels_FullMethodName:    read,
		hydrocastv1.RegistryService_GetVersion_FullMethodName:    read,
		hydrocastv1.RegistryService_WatchRegistry_FullMethodName: read,
		hydrocastv1.RegistryService_UploadModel_FullMethodName: {Perm: PermUpload,
			Audited: true},

		// The protocol's liveness and readiness are health checks under other names.
		inferencepb.GRPCInferenceService_ServerLive_FullMethodName:     public,
		inferencepb.GRPCInferenceService_ServerReady_FullMethodName:    public,
		inferencepb.GRPCInferenceService_ModelReady_FullMethodName:     read,
		inferencepb.GRPCInferenceService_ServerMetadata_FullMethodName: read,
		inferencepb.GRPCInferenceService_ModelMetadata_FullMethodName:  read,
		inferencepb.GRPCInferenceService_ModelInfer_FullMethodName:     {Perm: PermInfer},

		MethodGetModel:       read,
		MethodGetHistory:     read,
		MethodSetAlias:       {Perm: PermMoveAlias, Audited: true},
		MethodRollback:       {Perm: PermRollback, Audited: true},
		MethodSetTraffic:     {Perm: PermTraffic, Audited: true},
		MethodEvaluate:       {Perm: PermEvaluate},
		MethodGetDriftReport: {Perm: PermReadDrift},
		MethodExportAthlete:  {Perm: PermAdmin, Audited: true},
		MethodDeleteAthlete:  {Perm: PermAdmin, Audited: true},
	}
}

// DefaultRoutes returns the rules of every HTTP route: the Open Inference Protocol's
// REST twin, and the planned REST routes of the registry, evaluation and athlete
// data (TODO: align these with the handlers once they are written; until then they
// match nothing the server serves).
func DefaultRoutes() map[string]Rule {
	public, read := Rule{Perm: PermPublic}, Rule{Perm: PermRead}
	infer := Rule{Perm: PermInfer}
	return map[string]Rule{
		"GET /v2/health/live":                              public,
		"GET /v2/health/ready":                             public,
		"GET /v2":                                          read,
		"GET /v2/models/{model}":                           read,
		"GET /v2/models/{model}/versions/{version}":        read,
		"GET /v2/models/{model}/ready":                     read,
		"GET /v2/models/{model}/versions/{version}/ready":  read,
		"POST /v2/models/{model}/infer":                    infer,
		"POST /v2/models/{model}/versions/{version}/infer": infer,

		// Prometheus metrics: counts and latencies by model and method, no athlete
		// data, but the load and the models served are nobody else's business; a
		// scraper sends a token of any role (Prometheus' authorization setting).
		"GET /metrics": read,

		"GET /v1/models":                                   read,
		"GET /v1/models/{model}":                           read,
		"GET /v1/models/{model}/history":                   read,
		"POST /v1/models/{model}/versions":                 {Perm: PermUpload, Audited: true},
		"PUT /v1/models/{model}/aliases/{alias}":           {Perm: PermMoveAlias, Audited: true},
		"POST /v1/models/{model}/aliases/{alias}/rollback": {Perm: PermRollback, Audited: true},
		"PUT /v1/models/{model}/traffic":                   {Perm: PermTraffic, Audited: true},
		"POST /v1/evaluations":                             {Perm: PermEvaluate},
		"GET /v1/models/{model}/drift":                     {Perm: PermReadDrift},
		"GET /v1/athletes/{athlete}/export":                {Perm: PermAdmin, Audited: true},
		"DELETE /v1/athletes/{athlete}":                    {Perm: PermAdmin, Audited: true},
	}
}
