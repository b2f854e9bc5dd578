package ort

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"
)

// RunFloat32 runs a model whose one input is float32 [N, k] on the N rows of x
// (row-major, N·k values) and writes output i, row-major, to out[i], reusing its
// capacity: out must have one slice per output, all of which must be float32.
//
// For models whose outputs are all float32 [N, m] or [N] with fixed m, RunFloat32
// reuses input and output buffers kept per batch size, so a call allocates nothing
// once out has grown to size. Other models take the path of Run. The fast path checks
// ctx only before it starts: the runtime cannot stop a run bound to kept buffers.
func (s *Session) RunFloat32(ctx context.Context, x []float32, out [][]float32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n, err := s.float32Batch(x, out)
	if err != nil {
		return err
	}
	if s.fast == nil {
		return s.runFloat32Slow(ctx, x, n, out)
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return s.fast.run(s.sess, x, n, out)
}

// float32Batch checks x and out against a model with one float32 [N, k] input and
// float32 outputs, and returns N.
func (s *Session) float32Batch(x []float32, out [][]float32) (int, error) {
	if len(s.inputs) != 1 || s.inputs[0].Type != Float32 || len(s.inputs[0].Shape) != 2 ||
		s.inputs[0].Shape[1] < 1 {
		return 0, fmt.Errorf("%w: RunFloat32 needs one float32 input [N, k], "+
			"the model takes %v", ErrUnsupported, s.inputs)
	}
	for _, o := range s.outputs {
		if o.Type != Float32 {
			return 0, fmt.Errorf("%w: output %q is %s, not float32", ErrUnsupported,
				o.Name, o.Type)
		}
	}
	if len(out) != len(s.outputs) {
		return 0, fmt.Errorf("%w: %d destinations for %d outputs", ErrBadInput, len(out),
			len(s.outputs))
	}

	k := int(s.inputs[0].Shape[1])
	if len(x) == 0 || len(x)%k != 0 {
		return 0, fmt.Errorf("%w: %d values are not whole rows of %d", ErrBadInput,
			len(x), k)
	}
	return len(x) / k, nil
}

func (s *Session) runFloat32Slow(ctx context.Context, x []float32, n int,
	out [][]float32) error {
	k := s.inputs[0].Shape[1]
	res, err := s.Run(ctx, []Tensor{{Shape: []int64{int64(n), k}, Data: x}})
	if err != nil {
		return err
	}
	for i, t := range res {
		out[i] = append(out[i][:0], t.Data.([]float32)...)
	}
	return nil
}

// float32Path is RunFloat32's fast path. For each batch size it keeps I/O bindings
// whose input and output tensors were created once; a run copies the rows in, runs
// the bound session and copies the results out.
type float32Path struct {
	input   string
	outputs []string
	k       int
	widths  []int // values per row of each output
	ranks   []int // 1 for an output [N], 2 for [N, m]

	maxBatch int // largest batch whose bindings are kept
	perBatch int // most bindings kept per batch size

	mu   sync.Mutex
	idle map[int][]*binding // guarded by mu; by batch size
}

// binding is one set of reusable tensors bound to a session.
type binding struct {
	io  *onnxruntime.IoBinding
	in  *onnxruntime.Tensor[float32]
	out []*onnxruntime.Tensor[float32]
}

// newFloat32Path returns the fast path for s, or nil when s's model does not fit it:
// one float32 input [N, k] and only float32 outputs [N, m] or [N] with fixed m.
func newFloat32Path(s *Session) *float32Path {
	if len(s.inputs) != 1 {
		return nil
	}
	in := s.inputs[0]
	if in.Type != Float32 || len(in.Shape) != 2 || in.Shape[0] != -1 || in.Shape[1] < 1 {
		return nil
	}

	p := &float32Path{
		input:    in.Name,
		k:        int(in.Shape[1]),
		maxBatch: s.opts.MaxPooledBatch,
		perBatch: runtime.GOMAXPROCS(0),
		idle:     map[int][]*binding{},
	}
	for _, o := range s.outputs {
		w, ok := rowWidth(o)
		if !ok {
			return nil
		}
		p.outputs = append(p.outputs, o.Name)
		p.widths = append(p.widths, w)
		p.ranks = append(p.ranks, len(o.Shape))
	}
	return p
}

// rowWidth returns how many values one row of a float32 output [N, m] or [N] holds.
func rowWidth(o TensorInfo) (int, bool) {
	if o.Type != Float32 || len(o.Shape) == 0 || o.Shape[0] != -1 {
		return 0, false
	}
	switch {
	case len(o.Shape) == 1:
		return 1, true
	case len(o.Shape) == 2 && o.Shape[1] >= 1:
		return int(o.Shape[1]), true
	}
	return 0, false
}

func (p *float32Path) run(sess *onnxruntime.DynamicAdvancedSession, x []float32, n int,
	out [][]float32) error {
	b, err := p.get(sess, n)
	if err != nil {
		return err
	}
	defer p.put(n, b)

	copy(b.in.GetData(), x)
	if err := sess.RunWithBinding(b.io); err != nil {
		return fmt.Errorf("run onnx model: %w", err)
	}
	for i, t := range b.out {
		out[i] = append(out[i][:0], t.GetData()...)
	}
	return nil
}

func (p *float32Path) get(sess *onnxruntime.DynamicAdvancedSession, n int) (*binding,
	error) {
	p.mu.Lock()
	if free := p.idle[n]; len(free) > 0 {
		b := free[len(free)-1]
		p.idle[n] = free[:len(free)-1]
		p.mu.Unlock()
		return b, nil
	}
	p.mu.Unlock()
	return p.bind(sess, n)
}

// put keeps b for the next run of batch size n, or frees it when enough are kept.
func (p *float32Path) put(n int, b *binding) {
	p.mu.Lock()
	if n <= p.maxBatch && len(p.idle[n]) < p.perBatch {
		p.idle[n] = append(p.idle[n], b)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	b.destroy()
}

func (p *float32Path) bind(sess *onnxruntime.DynamicAdvancedSession, n int) (*binding,
	error) {
	io, err := sess.CreateIoBinding()
	if err != nil {
		return nil, fmt.Errorf("create onnx io binding: %w", err)
	}
	b := &binding{io: io}

	b.in, err = onnxruntime.NewEmptyTensor[float32](onnxruntime.NewShape(int64(n),
		int64(p.k)))
	if err == nil {
		err = io.BindInput(p.input, b.in)
	}
	for i, name := range p.outputs {
		if err != nil {
			break
		}
		var t *onnxruntime.Tensor[float32]
		t, err = onnxruntime.NewEmptyTensor[float32](p.outputShape(i, n))
		if err == nil {
			b.out = append(b.out, t)
			err = io.BindOutput(name, t)
		}
	}
	if err != nil {
		b.destroy()
		return nil, fmt.Errorf("bind onnx tensors for batch %d: %w", n, err)
	}
	return b, nil
}

func (p *float32Path) outputShape(i, n int) onnxruntime.Shape {
	if p.ranks[i] == 1 {
		return onnxruntime.NewShape(int64(n))
	}
	return onnxruntime.NewShape(int64(n), int64(p.widths[i]))
}

// destroy frees the binding's runtime objects; freeing them cannot fail.
func (b *binding) destroy() {
	b.io.Destroy()
	if b.in != nil {
		b.in.Destroy()
	}
	for _, t := range b.out {
		t.Destroy()
	}
}

// close frees every kept binding. The session's write lock keeps runs out meanwhile.
func (p *float32Path) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for n, free := range p.idle {
		for _, b := range free {
			b.destroy()
		}
		delete(p.idle, n)
	}
}
