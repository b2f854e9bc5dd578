package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/auth"
	"github.com/hydrocast/hydrocast/evaluation"
	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/inference"
	"github.com/hydrocast/hydrocast/registry/local"
)

// TestRegisteredServicesHaveRules registers everything registerServices serves and
// checks that the default policy names every method, as newAPIServer requires.
func TestRegisteredServicesHaveRules(t *testing.T) {
	reg, err := local.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	gs := grpc.NewServer()
	srv := inference.NewServer(features.NewStore(nil), nil, nil)
	defer srv.Close()
	registerServices(gs, srv, apiExtras{registry: reg}, slog.New(slog.DiscardHandler))

	if missing := auth.DefaultPolicy().Uncovered(gs); len(missing) > 0 {
		t.Fatalf("methods without a rule: %v", missing)
	}
	if _, ok := gs.GetServiceInfo()[hydrocastv1.RegistryService_ServiceDesc.ServiceName]; !ok {
		t.Fatal("RegistryService is not registered")
	}
}

// asLocal gives every call the principal authentication "none" gives, since these
// tests run the services without the security layer.
func asLocal(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo,
	h grpc.StreamHandler) error {
	p := auth.Principal{Subject: auth.LocalSubject, Roles: []auth.Role{auth.RoleAdmin}}
	return h(srv, &localStream{ServerStream: ss, ctx: auth.NewContext(ss.Context(), p)})
}

type localStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *localStream) Context() context.Context { return s.ctx }

// TestModelsUploadServer uploads with `models upload --server` into a served
// registry, then records an outcome into the labels file drift report reads.
func TestModelsUploadServer(t *testing.T) {
	c := newCLI(t)
	reg, err := local.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	labels, err := openLabels(c.home)
	if err != nil {
		t.Fatal(err)
	}
	defer labels.Close()
	srv := inference.NewServer(features.NewStore(nil), nil, nil)
	defer srv.Close()
	gs := grpc.NewServer(grpc.StreamInterceptor(asLocal))
	registerServices(gs, srv, apiExtras{registry: reg, labels: labels},
		slog.New(slog.DiscardHandler))
	lis := listenLoopback(t)
	go gs.Serve(lis)
	defer gs.Stop()

	out := c.must("models", "upload", modelFile(t, ""), "--name", "sweat-rate",
		"--inputs-from-features", featureList,
		"--alias", "staging", "--server", lis.Addr().String())
	if !strings.HasPrefix(out, "sweat-rate version 1 is ready") {
		t.Fatalf("upload printed %q", out)
	}
	v, err := reg.Resolve(t.Context(), "sweat-rate", "staging")
	if err != nil || v.Number != 1 {
		t.Fatalf("staging is %+v, %v; want version 1 in the served registry", v, err)
	}
	_, err = c.run("models", "upload", modelFile(t, "NoSuchOperator"), "--name",
		"sweat-rate", "--inputs-from-features", featureList, "--server", lis.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "InvalidArgument") {
		t.Fatalf("a model that cannot run: %v, want InvalidArgument", err)
	}
	// The served registry refuses what no server could load, as the local one does,
	// before it records any version.
	before, _ := reg.Versions(t.Context(), "sweat-rate")
	_, err = c.run("models", "upload", modelFile(t, ""), "--name", "sweat-rate",
		"--inputs-from-features", "a,b,c", "--server", lis.Addr().String())
	if err == nil || !strings.Contains(err.Error(), `unknown feature "a"`) {
		t.Fatalf("unknown features over the API: %v, want them named", err)
	}
	if vs, _ := reg.Versions(t.Context(), "sweat-rate"); len(vs) != len(before) {
		t.Errorf("%d versions after the refusal, want %d", len(vs), len(before))
	}

	conn := dialPlain(t, lis.Addr().String())
	end := time.Now().Add(-time.Hour)
	_, err = hydrocastv1.NewHydrocastServiceClient(conn).RecordOutcome(t.Context(),
		&hydrocastv1.RecordOutcomeRequest{AthleteId: "a1",
			SessionStart: timestamppb.New(end.Add(-90 * time.Minute)),
			SessionEnd:   timestamppb.New(end),
			PreMassKg:    proto.Float64(70), PostMassKg: proto.Float64(68.8),
			FluidMl: proto.Float64(750), UrineMl: proto.Float64(100)})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(labelsPath(c.home))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := evaluation.ReadLabels(f)
	if err != nil || len(got) != 1 || got[0].AthleteID != "a1" {
		t.Fatalf("labels file: %+v, %v", got, err)
	}
}

// TestDriftReportReadsRecordedOutcomes records the sessions of writeLabelFiles the
// way RecordOutcome does and checks that drift report finds them without --labels.
func TestDriftReportReadsRecordedOutcomes(t *testing.T) {
	home := driftHome(t)
	dir := t.TempDir()
	_, preds := writeLabelFiles(t, dir)
	labels, err := openLabels(home)
	if err != nil {
		t.Fatal(err)
	}
	for s := range 6 {
		req := &hydrocastv1.RecordOutcomeRequest{AthleteId: fmt.Sprintf("a%d", s),
			SessionStart:   timestamppb.New(time.Date(2025, 7, 1+s, 9, 0, 0, 0, time.UTC)),
			SweatRateLPerH: proto.Float64(1)}
		l, _, err := inference.OutcomeLabel(req, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := labels.Append(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := labels.Close(); err != nil {
		t.Fatal(err)
	}

	out, err := runDrift(t, home, "report", "--model", "sweat-rate", "--version", "1",
		"--format", "json", "--predictions", preds)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Realised struct {
			Matched int `json:"matched_rows"`
		} `json:"realised_accuracy"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Realised.Matched != 18 {
		t.Fatalf("%d predictions matched to the recorded outcomes, want 18",
			doc.Realised.Matched)
	}
}
