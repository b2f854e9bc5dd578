package inference

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/evaluation"
	"github.com/hydrocast/hydrocast/features"
)

var outcomeNow = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

// weighIn is science.md §3's example: 70.0 → 68.8 kg, 750 ml drunk, 100 ml urine,
// 1.5 h, which is 1.233 L/h and a 1.71 % body-mass loss.
func weighIn() *hydrocastv1.RecordOutcomeRequest {
	start := outcomeNow.Add(-3 * time.Hour)
	return &hydrocastv1.RecordOutcomeRequest{AthleteId: "a1",
		SessionStart: timestamppb.New(start),
		SessionEnd:   timestamppb.New(start.Add(90 * time.Minute)),
		PreMassKg:    proto.Float64(70), PostMassKg: proto.Float64(68.8),
		FluidMl: proto.Float64(750), UrineMl: proto.Float64(100)}
}

func TestOutcomeLabelMassBalance(t *testing.T) {
	l, loss, err := OutcomeLabel(weighIn(), outcomeNow)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(l.SweatRateLPerH-1.2333) > 1e-3 {
		t.Errorf("sweat rate %v L/h, want 1.233", l.SweatRateLPerH)
	}
	if loss == nil || math.Abs(*loss-1.714) > 1e-3 {
		t.Errorf("body-mass loss %v %%, want 1.714", loss)
	}
	if l.AthleteID != "a1" || !l.SessionEnd.Equal(outcomeNow.Add(-90*time.Minute)) {
		t.Errorf("label %+v", l)
	}
}

func TestOutcomeLabelRejects(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(r *hydrocastv1.RecordOutcomeRequest)
		field string // the error must name it
	}{
		{"no athlete", func(r *hydrocastv1.RecordOutcomeRequest) { r.AthleteId = "" },
			"athlete_id"},
		{"no start", func(r *hydrocastv1.RecordOutcomeRequest) { r.SessionStart = nil },
			"session_start"},
		{"end before start", func(r *hydrocastv1.RecordOutcomeRequest) {
			r.SessionEnd = timestamppb.New(r.SessionStart.AsTime().Add(-time.Minute))
		}, "session_end"},
		{"no end for a mass balance", func(r *hydrocastv1.RecordOutcomeRequest) {
			r.SessionEnd = nil
		}, "session_end"},
		{"session in the future", func(r *hydrocastv1.RecordOutcomeRequest) {
			r.SessionStart = timestamppb.New(outcomeNow.Add(time.Hour))
			r.SessionEnd = timestamppb.New(outcomeNow.Add(2 * time.Hour))
		}, "session_end"},
		{"no post mass", func(r *hydrocastv1.RecordOutcomeRequest) { r.PostMassKg = nil },
			"post_mass_kg"},
		{"mass in grams", func(r *hydrocastv1.RecordOutcomeRequest) {
			r.PreMassKg = proto.Float64(70000)
		}, "pre_mass_kg"},
		{"NaN fluid", func(r *hydrocastv1.RecordOutcomeRequest) {
			r.FluidMl = proto.Float64(math.NaN())
		}, "fluid_ml"},
		{"negative urine", func(r *hydrocastv1.RecordOutcomeRequest) {
			r.UrineMl = proto.Float64(-1)
		}, "urine_ml"},
		{"negative balance", func(r *hydrocastv1.RecordOutcomeRequest) {
			r.PostMassKg = proto.Float64(72)
		}, "negative sweat rate"},
		{"both rate and weigh-ins", func(r *hydrocastv1.RecordOutcomeRequest) {
			r.SweatRateLPerH = proto.Float64(1)
		}, "not both"},
		{"nothing measured", func(r *hydrocastv1.RecordOutcomeRequest) {
			r.PreMassKg, r.PostMassKg, r.FluidMl, r.UrineMl = nil, nil, nil, nil
		}, "sweat_rate_l_per_h"},
		{"absurd rate", func(r *hydrocastv1.RecordOutcomeRequest) {
			r.PreMassKg, r.PostMassKg, r.FluidMl, r.UrineMl = nil, nil, nil, nil
			r.SweatRateLPerH = proto.Float64(12)
		}, "sweat_rate_l_per_h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := weighIn()
			tt.edit(req)
			_, _, err := OutcomeLabel(req, outcomeNow)
			if !errors.Is(err, ErrBadOutcome) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("error %v, want ErrBadOutcome naming %q", err, tt.field)
			}
		})
	}
}

// TestRecordOutcomeOverGRPC records two outcomes through a real gRPC server and
// reads the labels file back the way drift report and eval do.
func TestRecordOutcomeOverGRPC(t *testing.T) {
	path := filepath.Join(t.TempDir(), LabelsFile)
	labels, err := OpenOutcomeLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer labels.Close()
	srv := NewServer(features.NewStore(nil), nil, nil)
	defer srv.Close()
	client := outcomeClient(t, &OutcomeService{Server: srv, Labels: labels,
		Now: func() time.Time { return outcomeNow }})
	ctx := context.Background()

	resp, err := client.RecordOutcome(ctx, weighIn())
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(resp.GetSweatRateLPerH()-1.2333) > 1e-3 || resp.BodyMassLossPct == nil {
		t.Errorf("response %v", resp)
	}
	measured := &hydrocastv1.RecordOutcomeRequest{AthleteId: "a2",
		SessionStart:   timestamppb.New(outcomeNow.Add(-time.Hour)),
		SweatRateLPerH: proto.Float64(0.8)}
	if _, err := client.RecordOutcome(ctx, measured); err != nil {
		t.Fatal(err)
	}

	bad := weighIn()
	bad.PreMassKg = nil
	_, err = client.RecordOutcome(ctx, bad)
	if status.Code(err) != codes.InvalidArgument ||
		!strings.Contains(status.Convert(err).Message(), "pre_mass_kg") {
		t.Fatalf("missing pre mass: %v, want InvalidArgument naming pre_mass_kg", err)
	}

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := evaluation.ReadLabels(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].AthleteID != "a1" || got[1].AthleteID != "a2" ||
		got[1].SweatRateLPerH != 0.8 || !got[1].SessionEnd.IsZero() {
		t.Fatalf("labels file holds %+v", got)
	}
}

func outcomeClient(t *testing.T,
	svc hydrocastv1.HydrocastServiceServer) hydrocastv1.HydrocastServiceClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	hydrocastv1.RegisterHydrocastServiceServer(gs, svc)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return hydrocastv1.NewHydrocastServiceClient(conn)
}

// FuzzOutcomeLabel checks that any request decoded from the wire gives a label
// evaluation accepts, or an error, and never a panic.
func FuzzOutcomeLabel(f *testing.F) {
	seed, _ := proto.Marshal(weighIn())
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var req hydrocastv1.RecordOutcomeRequest
		if proto.Unmarshal(data, &req) != nil {
			return
		}
		l, _, err := OutcomeLabel(&req, outcomeNow)
		if err != nil {
			return
		}
		line, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := evaluation.ReadLabels(bytes.NewReader(line)); err != nil {
			t.Fatalf("accepted %v, but evaluation refuses its label: %v", &req, err)
		}
	})
}
