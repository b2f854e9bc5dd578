package auth

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	inferencepb "github.com/hydrocast/hydrocast/api/inference"
	"github.com/hydrocast/hydrocast/auth/ratelimit"
)

// newServer registers the services hydrocast serves today, with unimplemented
// handlers: a call that reaches one passed the guard and answers Unimplemented.
func newServer(g *Guard) *grpc.Server {
	gs := grpc.NewServer(grpc.ChainUnaryInterceptor(g.UnaryInterceptor()),
		grpc.ChainStreamInterceptor(g.StreamInterceptor()))
	hydrocastv1.RegisterHydrocastServiceServer(gs,
		hydrocastv1.UnimplementedHydrocastServiceServer{})
	inferencepb.RegisterGRPCInferenceServiceServer(gs,
		inferencepb.UnimplementedGRPCInferenceServiceServer{})
	healthpb.RegisterHealthServer(gs, health.NewServer())
	reflection.Register(gs)
	return gs
}

// dial serves gs on a loopback port and returns a client connection to it.
func dial(t *testing.T, gs *grpc.Server) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func withBearer(ctx context.Context, bearer string) context.Context {
	if bearer == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", bearer)
}

func TestPolicyCoversServedMethods(t *testing.T) {
	gs := newServer(New(Options{}))

	if missing := DefaultPolicy().Uncovered(gs); len(missing) != 0 {
		t.Errorf("served methods without a rule: %v", missing)
	}

	extra := grpc.ServiceDesc{ServiceName: "x.Extra", HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{MethodName: "Do"}}}
	gs.RegisterService(&extra, struct{}{})
	missing := DefaultPolicy().Uncovered(gs)
	if len(missing) != 1 || missing[0] != "/x.Extra/Do" {
		t.Errorf("Uncovered = %v, want [/x.Extra/Do]", missing)
	}
}

func TestGuardOnLoopbackServer(t *testing.T) {
	iss := newIssuer(t)
	conn := dial(t, newServer(New(Options{Verifier: iss.verifier})))
	service := iss.bearer(t, "coach-app", "service")
	researcher := iss.bearer(t, "lab", "researcher")
	hc := hydrocastv1.NewHydrocastServiceClient(conn)

	assess := func(bearer string) error {
		_, err := hc.Assess(withBearer(t.Context(), bearer), &hydrocastv1.AssessRequest{})
		return err
	}
	ingest := func(bearer string) error {
		stream, err := hc.Ingest(withBearer(t.Context(), bearer))
		if err != nil {
			return err
		}
		_, err = stream.CloseAndRecv()
		return err
	}
	invokeUnknown := func(bearer string) error {
		return conn.Invoke(withBearer(t.Context(), bearer), "/x.Backdoor/Open",
			&emptypb.Empty{}, &emptypb.Empty{})
	}
	health := func(string) error {
		_, err := healthpb.NewHealthClient(conn).Check(t.Context(),
			&healthpb.HealthCheckRequest{})
		return err
	}
	reflect := func(string) error {
		stream, err := reflectionpb.NewServerReflectionClient(conn).
			ServerReflectionInfo(t.Context())
		if err != nil {
			return err
		}
		err = stream.Send(&reflectionpb.ServerReflectionRequest{
			MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
		if err != nil {
			return err
		}
		_, err = stream.Recv()
		return err
	}

	cases := []struct {
		name   string
		call   func(bearer string) error
		bearer string
		want   codes.Code
	}{
		{"assess as service", assess, service, codes.Unimplemented},
		{"assess as researcher", assess, researcher, codes.PermissionDenied},
		{"assess without token", assess, "", codes.Unauthenticated},
		{"assess with a malformed header", assess, "Basic dXNlcjpwYXNz",
			codes.Unauthenticated},
		{"ingest stream as service", ingest, service, codes.Unimplemented},
		{"ingest stream as researcher", ingest, researcher, codes.PermissionDenied},
		{"ingest stream without token", ingest, "", codes.Unauthenticated},
		// grpc-go answers methods nobody serves before any interceptor runs.
		{"unserved method as service", invokeUnknown, service, codes.Unimplemented},
		{"health without token", health, "", codes.OK},
		{"reflection without token", reflect, "", codes.OK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := status.Code(tc.call(tc.bearer)); got != tc.want {
				t.Errorf("code %v, want %v", got, tc.want)
			}
		})
	}
}

func TestServedMethodMissingFromPolicyIsDenied(t *testing.T) {
	iss := newIssuer(t)
	methods := DefaultMethods()
	delete(methods, hydrocastv1.HydrocastService_Assess_FullMethodName)
	policy, err := NewPolicy(methods, DefaultRoutes())
	if err != nil {
		t.Fatal(err)
	}
	conn := dial(t, newServer(New(Options{Policy: policy, Verifier: iss.verifier})))

	_, err = hydrocastv1.NewHydrocastServiceClient(conn).Assess(
		withBearer(t.Context(), iss.bearer(t, "root", "admin")), &hydrocastv1.AssessRequest{})

	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("admin calling a method the policy lacks: %v, want PermissionDenied", err)
	}
}

// frozen is a clock that never moves, so buckets never refill during a test.
func frozen() time.Time { return time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC) }

func TestRateLimitOnLoopbackServer(t *testing.T) {
	iss := newIssuer(t)
	g := New(Options{Verifier: iss.verifier,
		PrincipalLimit: ratelimit.New(ratelimit.Options{Rate: 0.5, Burst: 2, Now: frozen}),
		AddressLimit:   ratelimit.New(ratelimit.Options{Rate: 1, Burst: 4, Now: frozen})})
	conn := dial(t, newServer(g))
	hc := hydrocastv1.NewHydrocastServiceClient(conn)
	assess := func(bearer string) error {
		_, err := hc.Assess(withBearer(t.Context(), bearer), &hydrocastv1.AssessRequest{})
		return err
	}
	a, b := iss.bearer(t, "app-a", "service"), iss.bearer(t, "app-b", "service")

	// app-a's bucket holds 2 calls; the third is refused with a 2-second hint (0.5/s).
	assess(a)
	assess(a)
	err := assess(a)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("third call by one principal: %v, want ResourceExhausted", err)
	}
	if got := retryDelay(t, err); got != 2*time.Second {
		t.Errorf("retry delay %v, want 2s", got)
	}

	// app-b has its own bucket, but the address's holds 4 calls in all.
	if err := assess(b); status.Code(err) != codes.Unimplemented {
		t.Errorf("other principal: %v, want it through to the handler", err)
	}
	err = assess(b)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("fifth call from one address: %v, want ResourceExhausted", err)
	}
	if got := retryDelay(t, err); got != time.Second {
		t.Errorf("retry delay %v, want 1s", got)
	}
}

// retryDelay returns the RetryInfo delay carried by err's status.
func retryDelay(t *testing.T, err error) time.Duration {
	t.Helper()
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	t.Fatalf("status %v carries no RetryInfo", err)
	return 0
}

func TestRateLimitOverHTTP(t *testing.T) {
	g := New(Options{
		AddressLimit: ratelimit.New(ratelimit.Options{Rate: 0.25, Burst: 1, Now: frozen})})

	first := serveHTTP(g, "GET", "/v2/health/live", "")
	second := serveHTTP(g, "GET", "/v2/health/live", "")

	if first.Code != http.StatusOK {
		t.Fatalf("first call: %d", first.Code)
	}
	if second.Code != http.StatusTooManyRequests || second.Header().Get("Retry-After") != "4" {
		t.Errorf("second call: %d, Retry-After %q; want 429 and 4", second.Code,
			second.Header().Get("Retry-After"))
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	cases := map[time.Duration]string{
		time.Millisecond: "1", time.Second: "1", 1500 * time.Millisecond: "2",
		0: "1", time.Minute: "60",
	}
	for d, want := range cases {
		if got := retryAfterSeconds(d); got != want {
			t.Errorf("retryAfterSeconds(%v) = %s, want %s", d, got, want)
		}
	}
}

// FuzzAuthorizationHeader feeds arbitrary Authorization values to the guard: none
// may panic, and none may pass, since only the issuer's key makes a valid token.
func FuzzAuthorizationHeader(f *testing.F) {
	iss := newIssuer(f)
	g := New(Options{Verifier: iss.verifier})
	valid := iss.bearer(f, "svc", "admin")
	f.Add("Bearer ")
	f.Add("bearer a.b.c")
	f.Add("Bearer  " + strings.TrimPrefix(valid, "Bearer "))
	f.Add(valid[:len(valid)-2] + "AA")
	f.Add("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4Iiwicm9sZXMiOlsiYWRtaW4iXX0.")
	f.Add("Basic dXNlcjpwYXNz")
	f.Fuzz(func(t *testing.T, header string) {
		if strings.TrimSpace(strings.TrimPrefix(header, "Bearer")) ==
			strings.TrimPrefix(valid, "Bearer ") {
			return // the one valid token, in whatever spacing
		}
		c := call{method: MethodDeleteAthlete, known: true,
			rule: Rule{Perm: PermRead}, bearer: header, requestID: "fuzz"}

		p, d := g.check(context.Background(), c)

		if d == nil || d.kind != deniedUnauthenticated || p.Subject != "" {
			t.Fatalf("header %q: principal %+v, denial %+v; want unauthenticated", header,
				p, d)
		}
	})
}
