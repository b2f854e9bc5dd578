// Package pubsub ingests readings from a Google Cloud Pub/Sub subscription into an
// online store. Each message carries one hydrocast.v1.Reading, as JSON (protojson)
// or as binary protocol buffers, chosen by the message's content-type attribute;
// publishers set the ordering key to the athlete id, and a subscription with
// message ordering then hands over each athlete's readings in publish order.
//
// A message is acknowledged only once its reading is settled: applied to the store
// (or found a duplicate, late or over the window's capacity, which the store
// counts), or refused by the store's validation, which quarantines it. A store that
// fails gets a negative acknowledgement, and Pub/Sub delivers the message again. A
// message that carries no reading at all goes to the source's quarantine, is
// counted as dead-lettered and acknowledged, so that it does not come back forever.
package pubsub

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"sync/atomic"
	"time"

	ps "cloud.google.com/go/pubsub/v2"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/wire"
)

// The content-type attribute and the types a source reads. A message without the
// attribute is JSON.
const (
	AttrContentType = "content-type"
	ContentJSON     = "application/json"
	ContentProto    = "application/x-protobuf"
)

// protoContentTypes are the names in use for binary protocol buffers.
var protoContentTypes = map[string]bool{
	ContentProto: true, "application/protobuf": true, "application/x-proto": true,
	"application/vnd.google.protobuf": true,
}

// BadMessage is a message that carried no reading the source could decode.
type BadMessage struct {
	ID          string
	OrderingKey string
	Attributes  map[string]string
	Data        []byte
	PublishTime time.Time
	Reason      string // why it could not be decoded
}

// Quarantine keeps bad messages for someone to look at. Implementations decide
// what to keep of a message's data, which may identify an athlete.
type Quarantine interface {
	Put(ctx context.Context, m BadMessage) error
}

// Options tunes a Source.
type Options struct {
	// Quarantine receives the messages that carry no reading; nil keeps only their
	// count.
	Quarantine Quarantine

	// Registerer, when set, registers the source's metrics.
	Registerer prometheus.Registerer
}

// Stats counts what became of the messages a source received.
type Stats struct {
	Received     uint64 // messages handed to the source
	Ingested     uint64 // readings the store settled: applied, duplicate, late or full
	Rejected     uint64 // readings the store's validation refused and quarantined
	DeadLettered uint64 // messages without a decodable reading, quarantined here
	Nacked       uint64 // messages left for redelivery after a store or quarantine error

	// KeyMismatch counts messages whose ordering key was not their reading's
	// athlete: their order relative to the athlete's other readings is not
	// guaranteed. They are ingested all the same.
	KeyMismatch uint64
}

// Source receives readings from one subscription into an online store.
type Source struct {
	client *ps.Client // owned when Subscribe made it; nil otherwise
	sub    *ps.Subscriber
	store  features.OnlineStore
	quar   Quarantine

	received, ingested, rejected, deadLettered, nacked, keyMismatch atomic.Uint64
}

// New returns a source of the subscription's readings for the store; nil options
// mean the defaults. It fails when the metrics cannot be registered.
func New(sub *ps.Subscriber, store features.OnlineStore, opts *Options) (*Source, error) {
	s := &Source{sub: sub, store: store}
	if opts != nil {
		s.quar = opts.Quarantine
		if opts.Registerer != nil {
			if err := s.register(opts.Registerer); err != nil {
				return nil, fmt.Errorf("register pubsub source metrics: %w", err)
			}
		}
	}
	return s, nil
}

// register exposes the counters as hydrocast_pubsub_messages_total by outcome.
func (s *Source) register(reg prometheus.Registerer) error {
	for outcome, c := range map[string]*atomic.Uint64{
		"received": &s.received, "ingested": &s.ingested, "rejected": &s.rejected,
		"dead_lettered": &s.deadLettered, "nacked": &s.nacked,
		"key_mismatch": &s.keyMismatch,
	} {
		err := reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "hydrocast_pubsub_messages_total",
			Help:        "Pub/Sub messages of readings, by what became of them.",
			ConstLabels: prometheus.Labels{"outcome": outcome},
		}, func() float64 { return float64(c.Load()) }))
		if err != nil {
			return err
		}
	}
	return nil
}

// Run receives messages until ctx is done or the subscription fails for good, and
// returns once every message in hand is settled; it returns nil when ctx ended it.
func (s *Source) Run(ctx context.Context) error {
	if err := s.sub.Receive(ctx, s.handle); err != nil {
		return fmt.Errorf("receive readings from %s: %w", s.sub.ID(), err)
	}
	return nil
}

// Stats returns the counts so far.
func (s *Source) Stats() Stats {
	return Stats{
		Received: s.received.Load(), Ingested: s.ingested.Load(), Rejected: s.rejected.Load(),
		DeadLettered: s.deadLettered.Load(), Nacked: s.nacked.Load(),
		KeyMismatch: s.keyMismatch.Load(),
	}
}

// handle settles one message.
func (s *Source) handle(ctx context.Context, m *ps.Message) {
	s.received.Add(1)
	r, err := decode(m)
	if err != nil {
		s.deadLetter(ctx, m, err)
		return
	}
	if m.OrderingKey != "" && m.OrderingKey != r.AthleteID {
		s.keyMismatch.Add(1)
	}

	_, err = s.store.Ingest(ctx, r)
	switch {
	case err == nil, errors.Is(err, features.ErrWindowFull):
		// A full window stays full while the athlete's later readings wait behind
		// this one in order: redelivering it would stall the athlete for good.
		s.ingested.Add(1)
		m.Ack()
	case errors.Is(err, features.ErrInvalidReading):
		s.rejected.Add(1)
		m.Ack()
	default:
		s.nacked.Add(1)
		m.Nack()
	}
}

// deadLetter quarantines a message without a reading and acknowledges it; when the
// quarantine fails the message is left for redelivery instead.
func (s *Source) deadLetter(ctx context.Context, m *ps.Message, reason error) {
	if s.quar != nil {
		bad := BadMessage{ID: m.ID, OrderingKey: m.OrderingKey, Attributes: m.Attributes,
			Data: m.Data, PublishTime: m.PublishTime, Reason: reason.Error()}
		if err := s.quar.Put(ctx, bad); err != nil {
			s.nacked.Add(1)
			m.Nack()
			return
		}
	}
	s.deadLettered.Add(1)
	m.Ack()
}

// decode reads the reading a message carries, in the format its content-type
// attribute names.
func decode(m *ps.Message) (features.Reading, error) {
	ct := m.Attributes[AttrContentType]
	media := ContentJSON
	if ct != "" {
		var err error
		if media, _, err = mime.ParseMediaType(ct); err != nil {
			return features.Reading{}, fmt.Errorf("content type %q: %w", ct, err)
		}
	}

	var p hydrocastv1.Reading
	switch {
	case media == ContentJSON:
		// Fields a newer publisher adds must not turn readings into dead letters.
		opts := protojson.UnmarshalOptions{DiscardUnknown: true}
		if err := opts.Unmarshal(m.Data, &p); err != nil {
			return features.Reading{}, fmt.Errorf("decode JSON reading: %w", err)
		}
	case protoContentTypes[media]:
		if err := proto.Unmarshal(m.Data, &p); err != nil {
			return features.Reading{}, fmt.Errorf("decode binary reading: %w", err)
		}
	default:
		return features.Reading{}, fmt.Errorf("unknown content type %q", ct)
	}
	return wire.FromProto(&p), nil
}
