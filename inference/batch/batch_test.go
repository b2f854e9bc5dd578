package batch

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/models/ort"
)

// fakeModel stands in for a model taking x [N, 2] float32 and giving y [N, 2] (each
// value doubled) and s [N] int64 (the row's sum). It records every run's rows.
type fakeModel struct {
	gate chan struct{} // when not nil, each run waits for a value first
	runs chan []float32

	mu   sync.Mutex
	seen [][]float32 // guarded by mu; every run's input
}

func newFakeModel(gated bool) *fakeModel {
	m := &fakeModel{runs: make(chan []float32, 1024)}
	if gated {
		m.gate = make(chan struct{})
	}
	return m
}

func (m *fakeModel) run(_ context.Context, in []ort.Tensor) ([]ort.Tensor, error) {
	x := in[0].Data.([]float32)
	m.mu.Lock()
	m.seen = append(m.seen, slices.Clone(x))
	m.mu.Unlock()
	m.runs <- x
	if m.gate != nil {
		<-m.gate
	}

	n := in[0].Shape[0]
	y := make([]float32, len(x))
	s := make([]int64, n)
	for i, v := range x {
		y[i] = 2 * v
		s[i/2] += int64(v)
	}
	return []ort.Tensor{{Shape: []int64{n, 2}, Data: y}, {Shape: []int64{n}, Data: s}}, nil
}

// rowsOf returns a request of n rows whose values name the caller: caller·1000 + j.
func rowsOf(caller, n int) []ort.Tensor {
	x := make([]float32, 2*n)
	for j := range x {
		x[j] = float32(caller*1000 + j)
	}
	return []ort.Tensor{{Shape: []int64{int64(n), 2}, Data: x}}
}

// waitQueued waits until n calls are queued.
func waitQueued(b *Batcher, n int) {
	for {
		b.mu.Lock()
		got := len(b.queue)
		b.mu.Unlock()
		if got >= n {
			return
		}
		runtime.Gosched()
	}
}

func TestRowsReachTheirCallers(t *testing.T) {
	const callers = 200
	m := newFakeModel(true)
	var mu sync.Mutex
	var runRows []int
	b := New(m.run, Options{MaxSize: 16, QueueSize: callers, OnRun: func(rows int) {
		mu.Lock()
		runRows = append(runRows, rows)
		mu.Unlock()
	}})

	// The first caller holds the only worker in its run while the others queue, so
	// that the rest must share runs.
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	call := func(caller int) {
		defer wg.Done()
		n := 1 + caller%3
		res, err := b.Do(context.Background(), rowsOf(caller, n))
		if err == nil {
			err = checkRows(caller, n, res)
		}
		errs <- err
	}
	wg.Add(1)
	go call(0)
	<-m.runs
	for c := 1; c < callers; c++ {
		wg.Add(1)
		go call(c)
	}
	waitQueued(b, callers-1)
	go func() {
		for range m.runs {
			m.gate <- struct{}{}
		}
	}()
	m.gate <- struct{}{}
	wg.Wait()
	close(m.runs)

	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	total := 0
	for _, r := range runRows {
		if r > 16 {
			t.Errorf("a run took %d rows, more than MaxSize 16", r)
		}
		total += r
	}
	// Callers send 1, 2, 3 rows by turn: 399 rows in all.
	if total != 399 {
		t.Errorf("runs took %d rows in all, callers sent 399", total)
	}
	if len(runRows) >= callers {
		t.Errorf("%d runs for %d callers: nothing was batched", len(runRows), callers)
	}
}

// checkRows checks that a caller got the outputs of exactly its own rows.
func checkRows(caller, n int, res Result) error {
	if len(res.Outputs) != 2 {
		return fmt.Errorf("caller %d: %d outputs, want 2", caller, len(res.Outputs))
	}
	y, s := res.Outputs[0], res.Outputs[1]
	if !slices.Equal(y.Shape, []int64{int64(n), 2}) || !slices.Equal(s.Shape,
		[]int64{int64(n)}) {
		return fmt.Errorf("caller %d: shapes %v and %v for %d rows", caller, y.Shape,
			s.Shape, n)
	}
	x := rowsOf(caller, n)[0].Data.([]float32)
	yd, sd := y.Data.([]float32), s.Data.([]int64)
	for j, v := range x {
		if yd[j] != 2*v {
			return fmt.Errorf("caller %d: y[%d] = %v, want %v", caller, j, yd[j], 2*v)
		}
	}
	for r := range n {
		if want := int64(x[2*r] + x[2*r+1]); sd[r] != want {
			return fmt.Errorf("caller %d: s[%d] = %d, want %d", caller, r, sd[r], want)
		}
	}
	return nil
}

func TestEndedRequestNeverReachesModel(t *testing.T) {
	m := newFakeModel(true)
	b := New(m.run, Options{MaxSize: 8})

	// Caller 1 occupies the worker; caller 2 queues and gives up; caller 3 queues.
	first := make(chan error, 1)
	go func() {
		_, err := b.Do(context.Background(), rowsOf(1, 1))
		first <- err
	}()
	<-m.runs

	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() {
		_, err := b.Do(ctx, rowsOf(2, 1))
		gaveUp <- err
	}()
	waitQueued(b, 1)
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v, want context.Canceled", err)
	}

	third := make(chan error, 1)
	go func() {
		res, err := b.Do(context.Background(), rowsOf(3, 1))
		if err == nil {
			err = checkRows(3, 1, res)
		}
		third <- err
	}()
	waitQueued(b, 1)
	m.gate <- struct{}{}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	<-m.runs
	m.gate <- struct{}{}
	if err := <-third; err != nil {
		t.Fatal(err)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.seen {
		for _, v := range x {
			if v >= 2000 && v < 3000 {
				t.Fatalf("the model saw %v of the cancelled caller: runs %v", v, m.seen)
			}
		}
	}
	if len(m.seen) != 2 {
		t.Errorf("%d runs, want 2 (callers 1 and 3)", len(m.seen))
	}
}

func TestPastDeadlineIsRefusedBeforeQueueing(t *testing.T) {
	m := newFakeModel(false)
	b := New(m.run, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), -1)
	defer cancel()
	if _, err := b.Do(ctx, rowsOf(1, 1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do with a past deadline: %v, want context.DeadlineExceeded", err)
	}
	if len(m.seen) != 0 {
		t.Fatalf("the model ran %d times", len(m.seen))
	}
}

func TestFullQueueRefusesAtOnce(t *testing.T) {
	m := newFakeModel(true)
	b := New(m.run, Options{MaxSize: 4, QueueSize: 2})

	results := make(chan error, 3)
	do := func(caller int) {
		_, err := b.Do(context.Background(), rowsOf(caller, 1))
		results <- err
	}
	go do(1)
	<-m.runs // caller 1 is out of the queue, in the run
	go do(2)
	go do(3)
	waitQueued(b, 2)

	_, err := b.Do(context.Background(), rowsOf(4, 1))
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Do on a full queue: %v, want ErrQueueFull", err)
	}

	m.gate <- struct{}{}
	<-m.runs // callers 2 and 3 share the next run
	m.gate <- struct{}{}
	for range 3 {
		if err := <-results; err != nil {
			t.Errorf("queued caller: %v", err)
		}
	}
}

func TestRunErrorReachesEveryCaller(t *testing.T) {
	boom := errors.New("boom")
	gate := make(chan struct{})
	entered := make(chan struct{}, 4)
	b := New(func(context.Context, []ort.Tensor) ([]ort.Tensor, error) {
		entered <- struct{}{}
		<-gate
		return nil, boom
	}, Options{MaxSize: 4})

	errs := make(chan error, 3)
	for c := range 3 {
		go func() {
			_, err := b.Do(context.Background(), rowsOf(c, 1))
			errs <- err
		}()
		if c == 0 {
			<-entered
		}
	}
	waitQueued(b, 2)
	close(gate)
	for range 3 {
		if err := <-errs; !errors.Is(err, boom) {
			t.Errorf("caller got %v, want the run's error", err)
		}
	}
}

func TestOutputWithoutBatchDimensionFails(t *testing.T) {
	gate := make(chan struct{})
	entered := make(chan struct{}, 4)
	b := New(func(_ context.Context, in []ort.Tensor) ([]ort.Tensor, error) {
		entered <- struct{}{}
		<-gate
		// One row whatever the batch: a model that reduces over the batch.
		return []ort.Tensor{{Shape: []int64{1}, Data: []float32{1}}}, nil
	}, Options{MaxSize: 4})

	errs := make(chan error, 3)
	for c := range 3 {
		go func() {
			_, err := b.Do(context.Background(), rowsOf(c, 1))
			errs <- err
		}()
		if c == 0 {
			<-entered
		}
	}
	waitQueued(b, 2)
	close(gate)
	var bad int
	for range 3 {
		if err := <-errs; errors.Is(err, ErrBadOutput) {
			bad++
		}
	}
	if bad != 2 {
		t.Fatalf("%d callers got ErrBadOutput, want the 2 that shared a run", bad)
	}
}

func TestIncompatibleShapesRunApart(t *testing.T) {
	var mu sync.Mutex
	var widths [][]int64
	gate := make(chan struct{})
	entered := make(chan struct{}, 4)
	b := New(func(_ context.Context, in []ort.Tensor) ([]ort.Tensor, error) {
		mu.Lock()
		widths = append(widths, in[0].Shape)
		mu.Unlock()
		entered <- struct{}{}
		<-gate
		return []ort.Tensor{{Shape: in[0].Shape, Data: in[0].Data}}, nil
	}, Options{MaxSize: 8})

	shapes := [][]int64{{1, 2}, {1, 3}, {1, 2}}
	errs := make(chan error, len(shapes))
	for c, shape := range shapes {
		go func() {
			in := []ort.Tensor{{Shape: shape, Data: make([]float32, shape[1])}}
			res, err := b.Do(context.Background(), in)
			if err == nil && !slices.Equal(res.Outputs[0].Shape, shape) {
				err = fmt.Errorf("caller %d: shape %v, want %v", c,
					res.Outputs[0].Shape, shape)
			}
			errs <- err
		}()
		if c == 0 {
			<-entered
		}
	}
	waitQueued(b, 2)
	close(gate)
	for range shapes {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	// [1 2] alone, then [1 3] alone (it heads the queue), then [1 2].
	if len(widths) != 3 {
		t.Fatalf("runs took shapes %v, want three runs", widths)
	}
}

func TestRequestsMustShareTheirRows(t *testing.T) {
	b := New(newFakeModel(false).run, Options{})
	in := []ort.Tensor{
		{Shape: []int64{2, 2}, Data: make([]float32, 4)},
		{Shape: []int64{3, 1}, Data: make([]float32, 3)},
	}
	if _, err := b.Do(context.Background(), in); err == nil {
		t.Fatal("inputs with 2 and 3 rows were accepted")
	}
}

func TestGivingUpFreesTheQueuePlace(t *testing.T) {
	m := newFakeModel(true)
	b := New(m.run, Options{MaxSize: 4, QueueSize: 1})

	first := make(chan error, 1)
	go func() {
		_, err := b.Do(context.Background(), rowsOf(1, 1))
		first <- err
	}()
	<-m.runs // the worker is busy with caller 1

	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() {
		_, err := b.Do(ctx, rowsOf(2, 1))
		gaveUp <- err
	}()
	waitQueued(b, 1)
	cancel()
	<-gaveUp

	// The one place is free again although no batch has formed since.
	third := make(chan error, 1)
	go func() {
		_, err := b.Do(context.Background(), rowsOf(3, 1))
		third <- err
	}()
	waitQueued(b, 1)
	m.gate <- struct{}{}
	<-m.runs
	m.gate <- struct{}{}
	for _, c := range []chan error{first, third} {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
}

func TestExpiredCallIsDroppedWhenItsBatchForms(t *testing.T) {
	m := newFakeModel(true)
	b := New(m.run, Options{MaxSize: 8})

	first := make(chan error, 1)
	go func() {
		_, err := b.Do(context.Background(), rowsOf(1, 1))
		first <- err
	}()
	<-m.runs

	// A call whose deadline passed while it waited, before its caller noticed: put
	// in the queue by hand, since Do would take it out first.
	ctx, cancel := context.WithDeadline(context.Background(), time.Now())
	defer cancel()
	<-ctx.Done()
	expired := &call{ctx: ctx, inputs: rowsOf(2, 1), rows: 1, queued: time.Now(),
		done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, expired)
	b.rows++
	b.mu.Unlock()

	third := make(chan error, 1)
	go func() {
		res, err := b.Do(context.Background(), rowsOf(3, 1))
		if err == nil {
			err = checkRows(3, 1, res)
		}
		third <- err
	}()
	waitQueued(b, 2)
	m.gate <- struct{}{}
	<-m.runs
	m.gate <- struct{}{}
	for _, c := range []chan error{first, third} {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}

	<-expired.done
	if !errors.Is(expired.err, context.DeadlineExceeded) {
		t.Errorf("expired call ended with %v, want context.DeadlineExceeded", expired.err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.seen) != 2 || slices.Contains(m.seen[1], 2000) {
		t.Errorf("runs saw %v; the expired call's rows (2000, 2001) must not be there",
			m.seen)
	}
}

func TestOnQueueFollowsTheQueue(t *testing.T) {
	m := newFakeModel(true)
	var queued atomic.Int64
	b := New(m.run, Options{MaxSize: 4, QueueSize: 3,
		OnQueue: func(delta int) { queued.Add(int64(delta)) }})
	check := func(step string, want int64) {
		t.Helper()
		if got := queued.Load(); got != want {
			t.Fatalf("%s: OnQueue's sum is %d, want %d", step, got, want)
		}
	}

	results := make(chan error, 4)
	do := func(ctx context.Context, caller int) {
		_, err := b.Do(ctx, rowsOf(caller, 1))
		results <- err
	}
	go do(context.Background(), 1)
	<-m.runs
	check("caller 1 running", 0)

	ctx, cancel := context.WithCancel(context.Background())
	go do(ctx, 2)
	waitQueued(b, 1)
	go do(context.Background(), 3)
	go do(context.Background(), 4)
	waitQueued(b, 3)
	check("three queued", 3)
	if _, err := b.Do(context.Background(), rowsOf(5, 1)); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Do on a full queue: %v, want ErrQueueFull", err)
	}
	check("one refused", 3)
	cancel()
	if err := <-results; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v, want context.Canceled", err)
	}
	check("one gave up", 2)

	m.gate <- struct{}{}
	<-m.runs // callers 3 and 4 share the next run, out of the queue
	check("two in a run", 0)
	m.gate <- struct{}{}
	for range 3 {
		if err := <-results; err != nil {
			t.Errorf("caller: %v", err)
		}
	}
}

// A server that shuts down drains its batchers: what waits for its batch to fill
// runs at once, and so does what arrives later, instead of waiting out MaxDelay (an
// hour here, which the test would not survive).
func TestDrainRunsWhatWaitsWithoutTheDelay(t *testing.T) {
	m := newFakeModel(false)
	b := New(m.run, Options{MaxSize: 64, MaxDelay: time.Hour})

	results := make(chan error, 2)
	go func() {
		res, err := b.Do(context.Background(), rowsOf(1, 2))
		if err == nil {
			err = checkRows(1, 2, res)
		}
		results <- err
	}()
	waitQueued(b, 1)
	b.Drain()
	if err := <-results; err != nil {
		t.Fatalf("request queued before Drain: %v", err)
	}

	res, err := b.Do(context.Background(), rowsOf(2, 1))
	if err == nil {
		err = checkRows(2, 1, res)
	}
	if err != nil {
		t.Fatalf("request after Drain: %v", err)
	}
	if got := len(m.runs); got != 2 {
		t.Errorf("%d runs, want one per request", got)
	}
}
