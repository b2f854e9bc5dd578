package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	inferencepb "github.com/hydrocast/hydrocast/api/inference"
	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/inference"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/registry/local"
)

func TestPrepareModels(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	steps := []struct {
		name     string
		standIns bool
		want     string
	}{
		{"empty registry", false, stateNone},
		{"publishes stand-ins", true, stateStandIn},
		{"keeps them", true, stateStandIn},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			got, err := prepareModels(ctx, dir, s.standIns)
			if err != nil {
				t.Fatal(err)
			}
			if got != s.want {
				t.Errorf("state %q, want %q", got, s.want)
			}
		})
	}

	reg, err := local.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	for _, fam := range models.Families {
		v, err := reg.Resolve(ctx, fam.Name, alias)
		if err != nil {
			t.Fatalf("%s: %v", fam.Name, err)
		}
		if v.Number != 1 || v.Tags[tagOrigin] != originStandIn {
			t.Errorf("%s production is v%d tagged %v: want v1, one stand-in, marked",
				fam.Name, v.Number, v.Tags)
		}
		if got := v.Signature.Inputs[0].Features; len(got) != len(fam.Features) {
			t.Errorf("%s signature takes %d features, want %d", fam.Name, len(got),
				len(fam.Features))
		}
	}
}

func TestInferRequestTakesFeaturesByName(t *testing.T) {
	readings := workout()
	req, err := inferRequest(readings)
	if err != nil {
		t.Fatal(err)
	}
	// What ghz reads is the JSON: check the decoded file, not the message.
	data, err := protojson.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var got inferencepb.ModelInferRequest
	if err := protojson.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}

	fam := models.Families[0]
	if got.ModelName != models.SweatRate || len(got.Inputs) != 1 {
		t.Fatalf("request for %q with %d inputs, want one input of %s", got.ModelName,
			len(got.Inputs), models.SweatRate)
	}
	in := got.Inputs[0]
	row := in.GetContents().GetFp32Contents()
	if in.Name != models.InputName || in.Datatype != "FP32" || len(in.Shape) != 2 ||
		in.Shape[0] != 1 || in.Shape[1] != int64(len(fam.Features)) ||
		len(row) != len(fam.Features) {
		t.Fatalf("input %s %s %v with %d values, want %s FP32 [1 %d]", in.Name,
			in.Datatype, in.Shape, len(row), models.InputName, len(fam.Features))
	}

	// The vector the server would hold after the same readings.
	store := features.NewStore(nil)
	for _, r := range readings {
		store.Ingest(context.Background(), r)
	}
	v := features.NewVector()
	if err := store.Vector(context.Background(), benchAthlete,
		readings[len(readings)-1].Time, v); err != nil {
		t.Fatal(err)
	}
	present := 0
	for i, name := range fam.Features {
		val, st, _ := v.Get(name)
		want := float32(0)
		if st != features.StatusMissing {
			want = float32(val)
			present++
		}
		if row[i] != want {
			t.Errorf("column %d (%s) = %v, want %v", i, name, row[i], want)
		}
	}
	if present < len(fam.Features)/2 {
		t.Errorf("only %d of %d features present: the workout should fill most", present,
			len(fam.Features))
	}
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8470", true},
		{"127.1.2.3:8470", true},
		{"[::1]:8470", true},
		{"localhost:8470", true},
		{"10.0.0.5:8470", false},
		{"192.168.1.2:8470", false},
		{"example.com:8470", false},
		{"127.0.0.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if err := checkLoopback(tt.addr); (err == nil) != tt.ok {
				t.Errorf("checkLoopback(%q) = %v, want ok=%v", tt.addr, err, tt.ok)
			}
		})
	}
}

func TestSeedStoresTheWorkout(t *testing.T) {
	store := features.NewStore(nil)
	srv := inference.NewServer(store, nil, nil)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	hydrocastv1.RegisterHydrocastServiceServer(gs, srv)
	go gs.Serve(lis)
	defer gs.Stop()

	dir := t.TempDir()
	ctx := context.Background()
	// A second seed of the same server finds every reading there already.
	for range 2 {
		if err := seed(ctx, lis.Addr().String(), dir); err != nil {
			t.Fatal(err)
		}
	}
	readings := workout()
	newest, err := store.Newest(ctx, benchAthlete)
	if err != nil || !newest.Equal(readings[len(readings)-1].Time) {
		t.Errorf("server's newest reading %v (%v), want %v", newest, err,
			readings[len(readings)-1].Time)
	}

	var assess hydrocastv1.AssessRequest
	data, err := os.ReadFile(filepath.Join(dir, "assess.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := protojson.Unmarshal(data, &assess); err != nil ||
		assess.AthleteId != benchAthlete {
		t.Errorf("assess.json %s (%v): want a request for %s", data, err, benchAthlete)
	}
	// ghz sends the binary form: it must hold the same request as the JSON.
	for _, name := range []string{"assess", "modelinfer", "modelinfer-raw"} {
		js, err := os.ReadFile(filepath.Join(dir, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		bin, err := os.ReadFile(filepath.Join(dir, name+".bin"))
		if err != nil {
			t.Fatal(err)
		}
		var fromJSON, fromBin inferencepb.ModelInferRequest
		var assessJSON, assessBin hydrocastv1.AssessRequest
		a, b := proto.Message(&fromJSON), proto.Message(&fromBin)
		if name == "assess" {
			a, b = &assessJSON, &assessBin
		}
		if err := protojson.Unmarshal(js, a); err != nil {
			t.Fatal(err)
		}
		if err := proto.Unmarshal(bin, b); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(a, b) {
			t.Errorf("%s: binary %v differs from JSON %v", name, b, a)
		}
	}
}

func TestRawRequestCarriesTheSameValues(t *testing.T) {
	typed := &inferencepb.ModelInferRequest{ModelName: "sweat-rate",
		Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{{Name: "input",
			Datatype: "FP32", Shape: []int64{1, 3},
			Contents: &inferencepb.InferTensorContents{Fp32Contents: []float32{1, -2.5, 140}}}}}
	raw := rawRequest(typed)
	if raw.Inputs[0].Contents != nil || len(raw.RawInputContents) != 1 {
		t.Fatalf("raw request %v: want raw contents only", raw)
	}
	// 1, −2.5 and 140 as little-endian IEEE 754 single precision.
	want := []byte{0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc0, 0, 0, 0x0c, 0x43}
	if !bytes.Equal(raw.RawInputContents[0], want) {
		t.Errorf("raw bytes % x, want % x", raw.RawInputContents[0], want)
	}
	if typed.Inputs[0].Contents == nil {
		t.Error("rawRequest changed the typed request")
	}
}
