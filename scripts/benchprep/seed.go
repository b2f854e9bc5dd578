package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	inferencepb "github.com/hydrocast/hydrocast/api/inference"
	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/wire"
	"github.com/hydrocast/hydrocast/models"
)

// benchAthlete is the athlete whose readings the load tests assess.
const benchAthlete = "bench-athlete"

// workoutStart is when the seeded workout begins.
var workoutStart = time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)

// seed ingests the workout into the server at addr and writes the request files into
// dir.
func seed(ctx context.Context, addr, dir string) error {
	if err := checkLoopback(addr); err != nil {
		return err
	}
	readings := workout()
	if err := ingest(ctx, addr, readings); err != nil {
		return err
	}
	infer, err := inferRequest(readings)
	if err != nil {
		return err
	}
	assess := &hydrocastv1.AssessRequest{AthleteId: benchAthlete}
	requests := map[string]proto.Message{"modelinfer": infer,
		"modelinfer-raw": rawRequest(infer), "assess": assess}
	for name, m := range requests {
		if err := writeRequest(filepath.Join(dir, name), m); err != nil {
			return err
		}
	}
	return nil
}

// checkLoopback refuses an address that is not on this machine's loopback: the load
// tests send traffic nowhere else.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("server address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("server address %q is not on loopback", addr)
	}
	return nil
}

// workout returns twenty minutes of a hot run at 30-second steps.
func workout() []features.Reading {
	rs := make([]features.Reading, 40)
	for i := range rs {
		r := features.NewReading(benchAthlete, "watch",
			workoutStart.Add(time.Duration(i)*30*time.Second))
		r.Set(features.HeartRate, 140+float64(i%5))
		r.Set(features.SkinTemp, 34.5)
		r.Set(features.AmbientTemp, 32)
		r.Set(features.Humidity, 55)
		r.Set(features.Speed, 3.2)
		rs[i] = r
	}
	return rs
}

// ingest streams readings to the server and checks that it stored every one; a
// reading it already holds, from an earlier seed, counts as stored.
func ingest(ctx context.Context, addr string, readings []features.Reading) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	stream, err := hydrocastv1.NewHydrocastServiceClient(conn).Ingest(ctx)
	if err != nil {
		return fmt.Errorf("open ingest stream: %w", err)
	}
	req := &hydrocastv1.IngestRequest{}
	for i := range readings {
		req.Readings = append(req.Readings, wire.ToProto(&readings[i]))
	}
	if err := stream.Send(req); err != nil {
		return fmt.Errorf("send readings: %w", err)
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("ingest readings: %w", err)
	}
	if stored := resp.Accepted + resp.Duplicates; stored != int64(len(readings)) {
		return fmt.Errorf("server stored %d of %d readings: %v", stored, len(readings), resp)
	}
	return nil
}

// inferRequest builds a one-row ModelInfer request for the sweat-rate model from the
// athlete's features after the readings, computed by the same feature store code the
// server runs. A missing feature is sent as 0, since the protocol takes no NaN.
func inferRequest(readings []features.Reading) (*inferencepb.ModelInferRequest, error) {
	ctx := context.Background()
	store := features.NewStore(nil)
	for _, r := range readings {
		if _, err := store.Ingest(ctx, r); err != nil {
			return nil, fmt.Errorf("compute features: %w", err)
		}
	}
	v := features.NewVector()
	if err := store.Vector(ctx, benchAthlete, readings[len(readings)-1].Time, v); err != nil {
		return nil, fmt.Errorf("compute features: %w", err)
	}

	fam, _ := models.FamilyByName(models.SweatRate)
	row := make([]float32, len(fam.Features))
	for i, name := range fam.Features {
		val, st, ok := v.Get(name)
		if !ok {
			return nil, fmt.Errorf("feature schema lacks %s", name)
		}
		if st != features.StatusMissing && !math.IsNaN(val) {
			row[i] = float32(val)
		}
	}
	return &inferencepb.ModelInferRequest{ModelName: fam.Name,
		Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{{
			Name: models.InputName, Datatype: "FP32", Shape: []int64{1, int64(len(row))},
			Contents: &inferencepb.InferTensorContents{Fp32Contents: row},
		}}}, nil
}

// rawRequest returns typed, a request of FP32 inputs in typed contents, with its
// inputs in raw_input_contents instead: little-endian bytes, one entry per input, as
// the protocol's binary clients (Triton's among them) send them. The server then
// answers in raw_output_contents too.
func rawRequest(typed *inferencepb.ModelInferRequest) *inferencepb.ModelInferRequest {
	raw := proto.Clone(typed).(*inferencepb.ModelInferRequest)
	for _, in := range raw.Inputs {
		values := in.GetContents().GetFp32Contents()
		b := make([]byte, 0, 4*len(values))
		for _, v := range values {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
		raw.RawInputContents = append(raw.RawInputContents, b)
		in.Contents = nil
	}
	return raw
}

// writeRequest writes m twice for ghz: as the protocol's JSON mapping into
// base.json, for people to read, and in the binary wire format into base.bin, which
// ghz decodes once rather than for every request, so that building a request costs
// the load generator little (it still decodes every answer).
func writeRequest(base string, m proto.Message) error {
	js, err := protojson.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(base), err)
	}
	bin, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(base), err)
	}
	if err := os.WriteFile(base+".json", js, 0o644); err != nil {
		return fmt.Errorf("write request file: %w", err)
	}
	if err := os.WriteFile(base+".bin", bin, 0o644); err != nil {
		return fmt.Errorf("write request file: %w", err)
	}
	return nil
}
