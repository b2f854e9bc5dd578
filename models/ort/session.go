package ort

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"
)

var (
	// ErrClosed means the session was used after Close.
	ErrClosed = errors.New("onnx session closed")

	// ErrBadInput means tensors given to Run do not match the model's inputs in number,
	// element type or shape.
	ErrBadInput = errors.New("input does not match the model")

	// ErrUnsupported means a tensor's element type, or a model input or output that is
	// not a tensor, cannot pass through this package.
	ErrUnsupported = errors.New("unsupported tensor type")
)

// Options tune a Session. The zero value of each field selects the default.
type Options struct {
	// IntraOpThreads is how many threads one Run may use inside an operator. Zero means
	// 1: hydrocast's models are small, and on a few cores throughput comes from running
	// many sessions and requests side by side rather than from splitting one product.
	IntraOpThreads int

	// InterOpThreads is how many operators may run at once within one Run. Zero means
	// 1; execution is sequential, so more would only add idle threads.
	InterOpThreads int

	// MaxPooledBatch is the largest batch, in rows, whose buffers RunFloat32 keeps for
	// reuse. Zero means 256. Larger batches still run but allocate per call.
	MaxPooledBatch int
}

// DefaultOptions returns the options a zero Options stands for, spelled out.
func DefaultOptions() Options {
	return Options{IntraOpThreads: 1, InterOpThreads: 1, MaxPooledBatch: 256}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.IntraOpThreads <= 0 {
		o.IntraOpThreads = d.IntraOpThreads
	}
	if o.InterOpThreads <= 0 {
		o.InterOpThreads = d.InterOpThreads
	}
	if o.MaxPooledBatch <= 0 {
		o.MaxPooledBatch = d.MaxPooledBatch
	}
	return o
}

// Session is one loaded model. Its methods are safe for concurrent use; Run and
// RunFloat32 calls proceed in parallel.
type Session struct {
	inputs   []TensorInfo
	outputs  []TensorInfo
	metadata map[string]string
	opts     Options

	// fast is nil when the model does not fit RunFloat32's fast path.
	fast *float32Path

	// mu is held for reading by every run and for writing by Close, so that Close
	// waits for runs in flight before it frees the runtime's session.
	mu     sync.RWMutex
	closed bool // guarded by mu
	sess   *onnxruntime.DynamicAdvancedSession
}

// NewSession loads a model from the bytes of an ONNX file. Init must have succeeded.
// Close the session when it is no longer needed.
func NewSession(model []byte, opts Options) (*Session, error) {
	if !initialized() {
		return nil, ErrNotInitialized
	}
	opts = opts.withDefaults()

	// TODO: the runtime reports a model's inputs and outputs only through a temporary
	// session, so loading a model costs two session creations; parsing the graph
	// ourselves would halve load time but could disagree with the runtime.
	ins, outs, err := onnxruntime.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		return nil, fmt.Errorf("read onnx model signature: %w", err)
	}
	s := &Session{inputs: tensorInfos(ins), outputs: tensorInfos(outs), opts: opts}

	so, err := sessionOptions(opts)
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	s.sess, err = onnxruntime.NewDynamicAdvancedSessionWithONNXData(model,
		names(s.inputs), names(s.outputs), so)
	if err != nil {
		return nil, fmt.Errorf("create onnx session: %w", err)
	}

	if s.metadata, err = customMetadata(s.sess); err != nil {
		s.sess.Destroy()
		return nil, err
	}
	s.fast = newFloat32Path(s)
	return s, nil
}

func sessionOptions(o Options) (*onnxruntime.SessionOptions, error) {
	so, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("create onnx session options: %w", err)
	}
	steps := []error{
		so.SetIntraOpNumThreads(o.IntraOpThreads),
		so.SetInterOpNumThreads(o.InterOpThreads),
		so.SetExecutionMode(onnxruntime.ExecutionModeSequential),
		so.SetGraphOptimizationLevel(onnxruntime.GraphOptimizationLevelEnableAll),
	}
	if err := errors.Join(steps...); err != nil {
		so.Destroy()
		return nil, fmt.Errorf("set onnx session options: %w", err)
	}
	return so, nil
}

func customMetadata(sess *onnxruntime.DynamicAdvancedSession) (map[string]string, error) {
	md, err := sess.GetModelMetadata()
	if err != nil {
		return nil, fmt.Errorf("read onnx model metadata: %w", err)
	}
	defer md.Destroy()

	keys, err := md.GetCustomMetadataMapKeys()
	if err != nil {
		return nil, fmt.Errorf("read onnx model metadata: %w", err)
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		if out[k], _, err = md.LookupCustomMetadataMap(k); err != nil {
			return nil, fmt.Errorf("read onnx model metadata %q: %w", k, err)
		}
	}
	return out, nil
}

func tensorInfos(in []onnxruntime.InputOutputInfo) []TensorInfo {
	out := make([]TensorInfo, len(in))
	for i, v := range in {
		out[i] = TensorInfo{Name: v.Name, Shape: slices.Clone(v.Dimensions)}
		if v.OrtValueType == onnxruntime.ONNXTypeTensor {
			out[i].Type = ElementType(v.DataType)
		}
	}
	return out
}

func names(infos []TensorInfo) []string {
	out := make([]string, len(infos))
	for i, t := range infos {
		out[i] = t.Name
	}
	return out
}

// Inputs describes the model's inputs in the order Run takes them.
func (s *Session) Inputs() []TensorInfo {
	return cloneInfos(s.inputs)
}

// Outputs describes the model's outputs in the order Run returns them.
func (s *Session) Outputs() []TensorInfo {
	return cloneInfos(s.outputs)
}

func cloneInfos(in []TensorInfo) []TensorInfo {
	out := slices.Clone(in)
	for i := range out {
		out[i].Shape = slices.Clone(out[i].Shape)
	}
	return out
}

// Metadata returns the model's custom metadata (the ONNX file's metadata_props).
func (s *Session) Metadata() map[string]string {
	return maps.Clone(s.metadata)
}

// Close waits for runs in flight, then frees the session and every buffer it keeps.
// Calling Close again does nothing.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true

	if s.fast != nil {
		s.fast.close()
	}
	if err := s.sess.Destroy(); err != nil {
		return fmt.Errorf("close onnx session: %w", err)
	}
	return nil
}
