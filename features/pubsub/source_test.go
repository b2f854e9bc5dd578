package pubsub_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	ps "cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/pubsub"
)

var t0 = time.Date(2025, 7, 14, 9, 30, 0, 0, time.UTC)

const (
	project = "hydrocast-test"
	topic   = "projects/" + project + "/topics/readings"
	subName = "projects/" + project + "/subscriptions/hydrocast"
)

// harness is a fake Pub/Sub server with a topic and an ordered subscription, and a
// client subscribed to it.
type harness struct {
	srv *pstest.Server
	sub *ps.Subscriber
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx := context.Background()
	srv := pstest.NewServer()
	t.Cleanup(func() { srv.Close() })
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client, err := ps.NewClient(ctx, project, option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })

	_, err = client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: subName, Topic: topic, EnableMessageOrdering: true, AckDeadlineSeconds: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{srv: srv, sub: client.Subscriber(subName)}
}

// run starts the source and returns a function that stops it and reports Run's
// error.
func run(t *testing.T, src *pubsub.Source) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// waitAcked waits until every published message is acknowledged.
func (h *harness) waitAcked(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		pending := 0
		for _, m := range h.srv.Messages() {
			if m.Acks == 0 {
				pending++
			}
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still not acknowledged", pending)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wire returns a wire reading of heart rate hr at t0 plus sec seconds.
func wire(athlete string, sec int, hr float64) *hydrocastv1.Reading {
	return &hydrocastv1.Reading{AthleteId: athlete, Source: "watch",
		Time: timestamppb.New(t0.Add(time.Duration(sec) * time.Second)), HeartRateBpm: &hr}
}

func asJSON(t *testing.T, r *hydrocastv1.Reading) []byte {
	b, err := protojson.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func asProto(t *testing.T, r *hydrocastv1.Reading) []byte {
	b, err := proto.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// memQuarantine keeps bad messages in memory.
type memQuarantine struct {
	mu   sync.Mutex
	msgs []pubsub.BadMessage
}

func (q *memQuarantine) Put(ctx context.Context, m pubsub.BadMessage) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = append(q.msgs, m)
	return nil
}

func TestIngest(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	store := features.NewStore(nil)
	quar := &memQuarantine{}
	reg := prometheus.NewRegistry()
	src, err := pubsub.New(h.sub, store, &pubsub.Options{Quarantine: quar, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}

	full := wire("ann", 0, 120)
	skin := 33.5
	full.SkinTempC = &skin
	publish := []struct {
		data []byte
		ct   string
		key  string
	}{
		{asJSON(t, full), "", "ann"},
		{asJSON(t, wire("ann", 10, 125)), "application/json; charset=utf-8", "ann"},
		{asProto(t, wire("ann", 20, 130)), pubsub.ContentProto, "ann"},
		{asProto(t, wire("bob", 0, 900)), "application/protobuf", "bob"}, // invalid value
		{[]byte("{not json"), "", "bob"},
		{asJSON(t, wire("cid", 0, 100)), "text/csv", "cid"},
		{asJSON(t, wire("dan", 0, 101)), "", "not-dan"},
	}
	for _, p := range publish {
		attrs := map[string]string{}
		if p.ct != "" {
			attrs[pubsub.AttrContentType] = p.ct
		}
		h.srv.PublishOrdered(topic, p.data, attrs, p.key)
	}
	stop := run(t, src)
	h.waitAcked(t)
	stop()

	want := pubsub.Stats{Received: 7, Ingested: 4, Rejected: 1, DeadLettered: 2, KeyMismatch: 1}
	if got := src.Stats(); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	if got := gathered(t, reg, "dead_lettered"); got != 2 {
		t.Errorf("dead_lettered metric %v, want 2", got)
	}

	// The readings of every format reached the store with their values.
	v := features.NewVector()
	if err := store.Vector(ctx, "ann", t0.Add(20*time.Second), v); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{"heart_rate_bpm_last": 130,
		"heart_rate_bpm_count_5m": 3, "skin_temp_c_last": 33.5} {
		if got, _, _ := v.Get(name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if _, err := store.Newest(ctx, "dan"); err != nil {
		t.Errorf("reading under a mismatched key not ingested: %v", err)
	}

	// The invalid value sits in the store's quarantine, the undecodable messages in
	// the source's, with their reasons.
	q, _ := store.Quarantine(ctx)
	if len(q) != 1 || q[0].AthleteID != "bob" || q[0].Field != "heart_rate_bpm" {
		t.Errorf("store quarantine %+v", q)
	}
	if len(quar.msgs) != 2 {
		t.Fatalf("source quarantine holds %d messages, want 2", len(quar.msgs))
	}
	reasons := quar.msgs[0].Reason + " | " + quar.msgs[1].Reason
	for _, part := range []string{"decode JSON reading", `unknown content type "text/csv"`} {
		if !strings.Contains(reasons, part) {
			t.Errorf("reasons %q lack %q", reasons, part)
		}
	}
}

// gathered returns hydrocast_pubsub_messages_total of an outcome.
func gathered(t *testing.T, reg *prometheus.Registry, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "hydrocast_pubsub_messages_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no metric for outcome %s", outcome)
	return 0
}

// flakyStore fails the first fails ingests with a store error.
type flakyStore struct {
	*features.Store
	mu    sync.Mutex
	fails int
	order []time.Time // event times of the readings ingested, in order
}

func (s *flakyStore) Ingest(ctx context.Context, r features.Reading) (features.AddResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fails > 0 {
		s.fails--
		return features.Rejected, errors.New("store unavailable")
	}
	s.order = append(s.order, r.Time)
	return s.Store.Ingest(ctx, r)
}

// TestStoreErrorRedelivers checks that a message whose store call failed is not
// acknowledged, comes again, and is ingested then, the athlete's later readings
// waiting behind it in order.
func TestStoreErrorRedelivers(t *testing.T) {
	h := newHarness(t)
	store := &flakyStore{Store: features.NewStore(nil), fails: 2}
	src, err := pubsub.New(h.sub, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 12
	var first string
	for i := range n {
		id := h.srv.PublishOrdered(topic, asJSON(t, wire("ann", i, 100+float64(i))), nil, "ann")
		if i == 0 {
			first = id
		}
	}
	stop := run(t, src)
	h.waitAcked(t)
	stop()

	st := src.Stats()
	if st.Nacked != 2 || st.Ingested != n {
		t.Errorf("stats %+v, want 2 nacked and %d ingested", st, n)
	}
	if d := h.srv.Message(first).Deliveries; d < 3 {
		t.Errorf("first message delivered %d times, want at least 3", d)
	}
	for i, at := range store.order {
		if want := t0.Add(time.Duration(i) * time.Second); !at.Equal(want) {
			t.Fatalf("ingest %d was the reading of %s, want %s: out of order", i, at, want)
		}
	}
	if len(store.order) != n {
		t.Fatalf("ingested %d readings, want %d", len(store.order), n)
	}
}

// failingQuarantine refuses every message.
type failingQuarantine struct{}

func (failingQuarantine) Put(ctx context.Context, m pubsub.BadMessage) error {
	return errors.New("quarantine unavailable")
}

func TestQuarantineErrorNacks(t *testing.T) {
	h := newHarness(t)
	src, err := pubsub.New(h.sub, features.NewStore(nil),
		&pubsub.Options{Quarantine: failingQuarantine{}})
	if err != nil {
		t.Fatal(err)
	}
	id := h.srv.PublishOrdered(topic, []byte("garbage"), nil, "ann")
	stop := run(t, src)
	deadline := time.Now().Add(20 * time.Second)
	for src.Stats().Nacked < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v: the bad message was not redelivered", src.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if m := h.srv.Message(id); m.Acks != 0 {
		t.Errorf("message acknowledged %d times though the quarantine failed", m.Acks)
	}
	if st := src.Stats(); st.DeadLettered != 0 {
		t.Errorf("stats %+v, want nothing dead-lettered", st)
	}
}
