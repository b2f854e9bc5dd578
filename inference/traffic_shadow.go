package inference

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hydrocast/hydrocast/features"
)

// DefaultShadowQueue is how many mirrored requests wait for their shadow version
// before more are dropped.
const DefaultShadowQueue = 256

// shadowTimeout bounds one shadow run, so that a slow shadow cannot hold a model set,
// and so its sessions, long after a swap.
const shadowTimeout = 5 * time.Second

// ShadowStats counts the mirrored requests of shadow versions since the server
// started.
type ShadowStats struct {
	Ran     int64 // runs that finished and were logged
	Failed  int64 // runs that failed
	Dropped int64 // requests not mirrored because the queue was full
}

// ShadowStats returns the server's shadow counts.
func (s *Server) ShadowStats() ShadowStats {
	return ShadowStats{Ran: s.shadows.ran.Load(), Failed: s.shadows.failed.Load(),
		Dropped: s.shadows.dropped.Load()}
}

// SetAssignmentLog sends the traffic assignments, one record per athlete and
// experiment arm assigned, to log instead of the server's own log, which a busy
// experiment would flood. Call it before serving.
func (s *Server) SetAssignmentLog(log *slog.Logger) {
	s.assignments = log
}

// logAssignments logs, for A/B analysis, each arm a traffic policy assigned the
// athlete to. The log handler is expected to pseudonymize athlete_id.
func (s *Server) logAssignments(ctx context.Context, r *Routing, athleteID string) {
	log := s.assignments
	if log == nil {
		log = s.log
	}
	if len(r.Assignments) == 0 || !log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	for _, a := range r.Assignments {
		log.LogAttrs(ctx, slog.LevelInfo, "traffic assignment",
			slog.String("model", a.Model), slog.Int("version", a.Version),
			slog.String("athlete_id", athleteID), slog.Int("arm", a.Arm),
			slog.String("experiment", a.Experiment))
	}
}

// mirror queues a copy of the request for each shadow version the routing names.
// The inputs are built now, from the vector the request used; the run happens on
// the shadow worker, off the request's path, holding a reference to the set.
func (s *Server) mirror(c *servedSet, v *features.Vector, r *Routing) {
	for i, sh := range r.shadows {
		if sh == nil {
			continue
		}
		row := make([]float32, len(sh.featureIdx))
		sh.input(v, row)
		job := shadowJob{set: c, model: sh, row: row, athleteID: v.AthleteID,
			asOf: v.AsOf, served: r.Models[i].VersionString(), experiment: r.salts[i]}
		c.refs.Add(1)
		if !s.shadows.enqueue(job) {
			c.refs.Done()
		}
	}
}

// shadowJob is one mirrored request for a shadow version.
type shadowJob struct {
	set        *servedSet // held until the run ends
	model      *LoadedModel
	row        []float32
	athleteID  string
	asOf       time.Time
	served     string // the version that answered the request
	experiment string
}

// shadowRunner runs shadow versions one request at a time from a bounded queue.
type shadowRunner struct {
	log   *slog.Logger
	queue chan shadowJob
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup

	ran, failed, dropped atomic.Int64
}

func (sr *shadowRunner) start(log *slog.Logger, size int) {
	sr.log = log
	sr.queue = make(chan shadowJob, size)
	sr.done = make(chan struct{})
	sr.wg.Go(sr.loop)
}

// enqueue queues j, or reports false at once when the queue is full or stopped.
func (sr *shadowRunner) enqueue(j shadowJob) bool {
	select {
	case <-sr.done:
		return false
	default:
	}
	select {
	case sr.queue <- j:
		return true
	default:
		sr.dropped.Add(1)
		return false
	}
}

// stop ends the worker; jobs still queued are dropped with their references.
func (sr *shadowRunner) stop() {
	sr.once.Do(func() {
		close(sr.done)
		sr.wg.Wait()
	})
}

func (sr *shadowRunner) loop() {
	for {
		// Stopping wins over queued jobs, whose sets may be closing.
		select {
		case <-sr.done:
			sr.drain()
			return
		default:
		}
		select {
		case j := <-sr.queue:
			sr.run(j)
		case <-sr.done:
			sr.drain()
			return
		}
	}
}

// drain drops the queued jobs, releasing their references.
func (sr *shadowRunner) drain() {
	for {
		select {
		case j := <-sr.queue:
			j.set.refs.Done()
		default:
			return
		}
	}
}

func (sr *shadowRunner) run(j shadowJob) {
	defer j.set.refs.Done()
	ctx, cancel := context.WithTimeout(context.Background(), shadowTimeout)
	defer cancel()

	m := j.model
	out := make([][]float32, len(m.session.Outputs()))
	if err := m.session.RunFloat32(ctx, j.row, out); err != nil {
		sr.failed.Add(1)
		sr.log.Warn("shadow run failed", "model", m.Family.Name,
			"version", m.Version.Number, "err", err)
		return
	}
	sr.ran.Add(1)
	outputs := make([]any, 0, len(m.outputIdx))
	for name, i := range m.outputIdx {
		if len(out[i]) > 0 {
			outputs = append(outputs, slog.Float64(name, float64(out[i][0])))
		}
	}
	sr.log.Info("shadow result", "model", m.Family.Name, "version", m.Version.Number,
		"served_version", j.served, "athlete_id", j.athleteID,
		"experiment", j.experiment, "as_of", j.asOf, slog.Group("outputs", outputs...))
}
