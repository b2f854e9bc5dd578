package inference_test

import (
	"context"
	"fmt"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/timestamppb"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/inference"
)

// feedAthletes is how many athletes the ingest benchmarks spread their readings over.
const feedAthletes = 1000

// readingFeed hands out batches of watch readings for feedAthletes athletes, each
// athlete's clock moving 30 s from one of its readings to the next, so that every
// reading is new to the store and none is a duplicate or late.
type readingFeed struct {
	ids   []string
	batch []*hydrocastv1.Reading
	next  int // index of the next reading over the whole feed
}

func newReadingFeed(size int) *readingFeed {
	f := &readingFeed{ids: make([]string, feedAthletes)}
	for a := range f.ids {
		f.ids[a] = fmt.Sprintf("athlete-%04d", a)
	}
	for range size {
		skin, air, humidity := 34.5, 31.0, 55.0
		f.batch = append(f.batch, &hydrocastv1.Reading{Source: "watch",
			Time: &timestamppb.Timestamp{}, HeartRateBpm: new(float64),
			SkinTempC: &skin, AmbientTempC: &air, HumidityPct: &humidity})
	}
	return f
}

// fill stamps the batch with the next readings and returns it. The batch is reused:
// gRPC encodes a message before Send returns, so it may change after each Send.
func (f *readingFeed) fill() []*hydrocastv1.Reading {
	for _, r := range f.batch {
		r.AthleteId = f.ids[f.next%feedAthletes]
		r.Time.Seconds = start.Unix() + int64(f.next/feedAthletes)*30
		*r.HeartRateBpm = float64(120 + f.next%40)
		f.next++
	}
	return f.batch
}

// dialLoopback serves srv on a loopback port for the benchmark's duration and
// returns a client connected to it.
func dialLoopback(b *testing.B, srv *inference.Server) hydrocastv1.HydrocastServiceClient {
	b.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	gs := grpc.NewServer()
	hydrocastv1.RegisterHydrocastServiceServer(gs, srv)
	go gs.Serve(lis)
	b.Cleanup(gs.Stop)

	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return hydrocastv1.NewHydrocastServiceClient(conn)
}

// BenchmarkGRPCIngest streams readings over loopback TCP to a server in the same
// process, in IngestRequests of batch readings each; the goal is at least 200,000
// readings/s. The time includes the server applying the last batch, since it answers
// only once every reading is in the store.
func BenchmarkGRPCIngest(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			srv := inference.NewServer(features.NewStore(nil), nil, nil)
			client := dialLoopback(b, srv)
			feed := newReadingFeed(batch)
			req := &hydrocastv1.IngestRequest{}

			b.ResetTimer()
			stream, err := client.Ingest(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			for range b.N {
				req.Readings = feed.fill()
				if err := stream.Send(req); err != nil {
					b.Fatal(err)
				}
			}
			resp, err := stream.CloseAndRecv()
			b.StopTimer()

			if err != nil {
				b.Fatal(err)
			}
			if want := int64(b.N * batch); resp.Accepted != want {
				b.Fatalf("accepted %d of %d readings: %v", resp.Accepted, want, resp)
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "readings/s")
		})
	}
}

// BenchmarkIngestReadings is the same-run reference of BenchmarkGRPCIngest: the same
// batches applied in process, without encoding or network, so that the table shows
// what gRPC costs on top of the store.
func BenchmarkIngestReadings(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			srv := inference.NewServer(features.NewStore(nil), nil, nil)
			feed := newReadingFeed(batch)
			ctx := context.Background()
			var accepted int64
			for b.Loop() {
				resp, err := srv.IngestReadings(ctx, feed.fill())
				if err != nil {
					b.Fatal(err)
				}
				accepted += resp.Accepted
			}
			if accepted != int64(b.N*batch) {
				b.Fatalf("accepted %d of %d readings", accepted, b.N*batch)
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "readings/s")
		})
	}
}
