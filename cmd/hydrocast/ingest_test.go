package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ps "cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/features/offline"
	"github.com/hydrocast/hydrocast/features/wal"
)

// TestIngestWorker runs the ingest command against Pub/Sub's fake server: every
// published reading reaches the online store (here the write-ahead-logged one) and
// the offline store, every message is acknowledged, and SIGTERM's context ends it.
func TestIngestWorker(t *testing.T) {
	const project, topic = "p", "projects/p/topics/readings"
	const sub = "projects/p/subscriptions/readings-worker"
	srv := pstest.NewServer()
	defer srv.Close()
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client, err := ps.NewClient(t.Context(), project, option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.TopicAdminClient.CreateTopic(t.Context(),
		&pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.SubscriptionAdminClient.CreateSubscription(t.Context(),
		&pubsubpb.Subscription{Name: sub, Topic: topic, EnableMessageOrdering: true,
			AckDeadlineSeconds: 10}); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	for i := range 6 {
		hr := 120 + float64(i)
		msg, err := protojson.Marshal(&hydrocastv1.Reading{AthleteId: "w-1", Source: "watch",
			Time:         timestamppb.New(start.Add(time.Duration(i) * 30 * time.Second)),
			HeartRateBpm: &hr})
		if err != nil {
			t.Fatal(err)
		}
		srv.PublishOrdered(topic, msg, nil, "w-1")
	}

	t.Setenv("PUBSUB_EMULATOR_HOST", srv.Addr)
	home := t.TempDir()
	addrFile := filepath.Join(t.TempDir(), "addr")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- runIngest(ctx, &globals{home: home}, &ingestFlags{subscription: sub,
			store: "wal", offline: true, healthListen: "127.0.0.1:0", addrFile: addrFile})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		acked := 0
		for _, m := range srv.Messages() {
			if m.Acks > 0 {
				acked++
			}
		}
		if acked == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 6 messages acknowledged", acked)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(addrFile); err != nil {
		t.Errorf("no health address written: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("ingest: %v", err)
	}

	d, err := wal.Open(filepath.Join(home, "wal"), nil)
	if err != nil {
		t.Fatal(err)
	}
	newest, err := d.Newest(t.Context(), "w-1")
	d.Close()
	if err != nil || !newest.Equal(start.Add(150*time.Second)) {
		t.Errorf("online newest reading %v, %v; want %v", newest, err,
			start.Add(150*time.Second))
	}
	off, err := offline.Open(filepath.Join(home, "offline"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	n := 0
	for _, err := range off.Rows(t.Context(), offline.Query{Athletes: []string{"w-1"}}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 6 {
		t.Errorf("%d readings in the offline store, want 6", n)
	}
}

func TestIngestRefusesBadSubscription(t *testing.T) {
	for _, sub := range []string{"", "readings"} {
		err := runIngest(t.Context(), &globals{home: t.TempDir()},
			&ingestFlags{subscription: sub, store: "memory"})
		if err == nil || !strings.Contains(err.Error(), "--pubsub-subscription") {
			t.Errorf("subscription %q: %v, want an error naming the flag", sub, err)
		}
	}
}
