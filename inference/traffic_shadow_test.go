package inference

import (
	"log/slog"
	"testing"
)

// TestShadowQueueDropsWhenFull checks that a full queue refuses at once instead of
// holding up the request, and that stopping releases the references of what was
// queued.
func TestShadowQueueDropsWhenFull(t *testing.T) {
	var sr shadowRunner
	sr.log = slog.New(slog.DiscardHandler)
	sr.queue = make(chan shadowJob, 2) // no worker: nothing leaves the queue
	sr.done = make(chan struct{})
	set := &servedSet{}

	accepted := 0
	for range 5 {
		set.refs.Add(1)
		if sr.enqueue(shadowJob{set: set}) {
			accepted++
		} else {
			set.refs.Done()
		}
	}
	if accepted != 2 || sr.dropped.Load() != 3 {
		t.Fatalf("accepted %d and dropped %d of 5, want 2 and 3", accepted,
			sr.dropped.Load())
	}

	sr.wg.Go(sr.loop) // the worker drains on stop without running
	close(sr.done)
	sr.wg.Wait()
	set.refs.Wait() // hangs, and the test times out, if a reference leaked
	if sr.enqueue(shadowJob{set: set}) {
		t.Error("a stopped queue accepted a job")
	}
}
