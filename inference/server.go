package inference

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/features/wire"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// maxRejectionsReported bounds the rejections an Ingest response lists.
const maxRejectionsReported = 100

// Server implements the hydrocast.v1 service over a feature store and the served
// model set, which can be swapped while requests run.
type Server struct {
	hydrocastv1.UnimplementedHydrocastServiceServer

	store features.OnlineStore
	log   *slog.Logger
	// assignments receives the traffic assignments; nil sends them to log.
	assignments *slog.Logger

	current atomic.Pointer[servedSet]
	vectors sync.Pool // *features.Vector
	drift   atomic.Pointer[DriftRecorder]

	shadows shadowRunner
}

// servedSet is a model set with a count of the requests using it, so that a swap can
// wait for them before it frees the old sessions.
type servedSet struct {
	set  *ModelSet
	refs sync.WaitGroup
	// served holds the Open Inference Protocol's view of each model the set
	// answers with (see Server.Model), made once for the set's lifetime.
	served []*servedModel
}

// newServedSet returns set ready to serve through s.
func newServedSet(s *Server, set *ModelSet) *servedSet {
	c := &servedSet{set: set}
	if set == nil {
		return c
	}
	for _, m := range []*LoadedModel{set.Sweat, set.Thermal, set.Anomaly} {
		if m != nil {
			c.served = append(c.served, newServedModel(s, m))
		}
	}
	return c
}

// NewServer returns a server reading features from store and serving set, which may
// be nil until SetModels is called; log receives the server's own events.
// A nil log discards. Shadow versions run on a queue of DefaultShadowQueue requests.
func NewServer(store features.OnlineStore, set *ModelSet, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{store: store, log: log}
	s.vectors.New = func() any { return features.NewVector() }
	if set != nil {
		s.current.Store(newServedSet(s, set))
	}
	s.shadows.start(log, DefaultShadowQueue)
	return s
}

// Ready reports whether the server has models to serve.
func (s *Server) Ready() bool { return s.current.Load() != nil }

// Models returns the set being served, or nil.
func (s *Server) Models() *ModelSet {
	if c := s.current.Load(); c != nil {
		return c.set
	}
	return nil
}

// SetModels starts serving set. The previous set keeps serving the requests that
// already hold it and is closed once they finish.
func (s *Server) SetModels(set *ModelSet) {
	if set != nil && set.Drift == nil {
		set.Drift = s.drift.Load()
	}
	old := s.current.Swap(newServedSet(s, set))
	if old == nil {
		return
	}
	go func() {
		old.refs.Wait()
		if err := old.set.Close(); err != nil {
			s.log.Warn("close replaced models", "err", err)
		}
	}()
}

// SetDrift makes the server record every model run into r's live drift sketches,
// for the set it serves now and every set it swaps to later. Call it before serving:
// the set served now is changed in place.
func (s *Server) SetDrift(r *DriftRecorder) {
	s.drift.Store(r)
	if c := s.current.Load(); c != nil {
		c.set.Drift = r
	}
}

// Close stops serving and frees the model set once requests in flight, and the
// shadow runs they queued, finish.
func (s *Server) Close() error {
	old := s.current.Swap(nil)
	if old == nil {
		s.shadows.stop()
		return nil
	}
	old.refs.Wait()
	s.shadows.stop()
	return old.set.Close()
}

// acquire returns the served set with a reference held; release it when done.
func (s *Server) acquire() (*servedSet, error) {
	for {
		c := s.current.Load()
		if c == nil {
			return nil, status.Error(codes.Unavailable, "no models loaded yet")
		}
		c.refs.Add(1)
		if s.current.Load() == c {
			return c, nil
		}
		c.refs.Done() // swapped meanwhile: take the new one
	}
}

// Ingest applies a stream of reading batches to the feature store.
func (s *Server) Ingest(stream hydrocastv1.HydrocastService_IngestServer) error {
	resp := &hydrocastv1.IngestResponse{}
	var index int64
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(resp)
		}
		if err != nil {
			return err
		}
		if err := s.ingest(stream.Context(), req.GetReadings(), &index, resp); err != nil {
			return err
		}
	}
}

// IngestReadings applies readings to the feature store as one Ingest stream would,
// for callers in the same process.
func (s *Server) IngestReadings(ctx context.Context,
	rs []*hydrocastv1.Reading) (*hydrocastv1.IngestResponse, error) {
	resp := &hydrocastv1.IngestResponse{}
	var index int64
	err := s.ingest(ctx, rs, &index, resp)
	return resp, err
}

func (s *Server) ingest(ctx context.Context, rs []*hydrocastv1.Reading, index *int64,
	resp *hydrocastv1.IngestResponse) error {
	for _, p := range rs {
		r := wire.FromProto(p)
		res, err := s.store.Ingest(ctx, r)
		var verr *features.ValidationError
		switch {
		case errors.As(err, &verr):
			resp.Rejected++
			if len(resp.Rejections) < maxRejectionsReported {
				resp.Rejections = append(resp.Rejections, &hydrocastv1.Rejection{
					Index: *index, AthleteId: r.AthleteID, Field: verr.Field,
					Reason: verr.Reason})
			}
		case err != nil:
			return status.Errorf(codes.Unavailable, "feature store: %v", err)
		default:
			countResult(resp, res)
		}
		*index++
	}
	return nil
}

func countResult(resp *hydrocastv1.IngestResponse, res features.AddResult) {
	switch res {
	case features.Duplicate:
		resp.Duplicates++
	case features.Late:
		resp.Late++
	case features.Rejected:
		resp.Rejected++
	default:
		resp.Accepted++
	}
}

// Assess returns one athlete's assessment.
func (s *Server) Assess(ctx context.Context,
	req *hydrocastv1.AssessRequest) (*hydrocastv1.Assessment, error) {
	a, err := s.assess(ctx, req)
	if err != nil {
		return nil, err
	}
	return AssessmentToProto(&a), nil
}

// AssessBatch assesses many athletes; one athlete's failure does not fail the others.
func (s *Server) AssessBatch(ctx context.Context,
	req *hydrocastv1.AssessBatchRequest) (*hydrocastv1.AssessBatchResponse, error) {
	resp := &hydrocastv1.AssessBatchResponse{}
	for _, r := range req.GetRequests() {
		a, err := s.assess(ctx, r)
		if err != nil {
			resp.Results = append(resp.Results, &hydrocastv1.AssessResult{
				Error: status.Convert(err).Message()})
			continue
		}
		resp.Results = append(resp.Results,
			&hydrocastv1.AssessResult{Assessment: AssessmentToProto(&a)})
	}
	return resp, nil
}

func (s *Server) assess(ctx context.Context, req *hydrocastv1.AssessRequest) (Assessment,
	error) {
	id := req.GetAthleteId()
	if id == "" {
		return Assessment{}, status.Error(codes.InvalidArgument, "athlete_id: empty")
	}
	c, err := s.acquire()
	if err != nil {
		return Assessment{}, err
	}
	defer c.refs.Done()

	asOf := req.GetAsOf().AsTime()
	if req.GetAsOf() == nil {
		if asOf, err = s.store.Newest(ctx, id); err != nil {
			return Assessment{}, storeError(err)
		}
	}
	v := s.vectors.Get().(*features.Vector)
	defer s.vectors.Put(v)
	if err := s.store.Vector(ctx, id, asOf, v); err != nil {
		return Assessment{}, storeError(err)
	}
	r := c.set.Route(id)
	s.logAssignments(ctx, &r, id)
	a, err := c.set.AssessRouted(ctx, v, &r)
	if err != nil {
		s.log.Error("assess", "err", err)
		return Assessment{}, status.Error(codes.Internal, "model run failed")
	}
	s.mirror(c, v, &r)
	return a, nil
}

// storeError translates a feature-store error into a gRPC status.
func storeError(err error) error {
	switch {
	case errors.Is(err, features.ErrUnknownAthlete):
		return status.Error(codes.NotFound, "no readings of this athlete")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Errorf(codes.Unavailable, "feature store: %v", err)
}

// WatchRegistry polls load every interval and serves what it returns whenever the
// versions differ from the served ones, until ctx ends. load returns nil, nil when
// nothing changed since its last call. Watch does the same for traffic policies and
// aliases with the registry's own plan; prefer it.
func (s *Server) WatchRegistry(ctx context.Context, interval time.Duration,
	load func(ctx context.Context, served map[string]string) (*ModelSet, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var served map[string]string
		if m := s.Models(); m != nil {
			served = m.Versions()
		}
		set, err := load(ctx, served)
		if err != nil {
			s.log.Warn("reload models", "err", err)
			continue
		}
		if set != nil {
			s.SetModels(set)
			s.log.Info("serving new model versions", "versions", set.Versions())
		}
	}
}
