package oip

import (
	"context"
	"errors"

	"github.com/hydrocast/hydrocast/models/ort"
)

// Platform is the platform ModelMetadata reports for every model: ONNX, as KServe and
// Triton spell it.
const Platform = "onnx_onnxv1"

var (
	// ErrModelNotFound means the repository has no model, or no version, by the name
	// asked for. Repositories return it (wrapped or not) from Model.
	ErrModelNotFound = errors.New("model not found")

	// ErrModelNotReady means the model exists but cannot run yet, for example while
	// it loads. Repositories return it from Model; callers are told to retry.
	ErrModelNotReady = errors.New("model not ready")

	// ErrUnsupported means the model takes or gives tensors of a datatype the server
	// cannot pass to the runtime, such as FP16.
	ErrUnsupported = errors.New("datatype not supported")

	// ErrInvalidRequest means a request does not fit the protocol or the model. The
	// error's text names the input at fault and why, and is shown to the caller.
	ErrInvalidRequest = errors.New("invalid inference request")
)

// Repository is the set of models a Server serves.
type Repository interface {
	// Ready reports whether the server can take inference requests.
	Ready() bool

	// Model returns a loaded model; version "" means the default (production) one.
	// It fails with ErrModelNotFound or ErrModelNotReady.
	Model(name, version string) (Model, error)
}

// Model is one loaded version of a model. Its methods must be safe for concurrent
// use.
type Model interface {
	// Name returns the model's name.
	Name() string

	// Version returns this version's name.
	Version() string

	// Versions returns the names of every version of the model that can be asked
	// for, this one included.
	Versions() []string

	// Inputs describes the inputs in the order Run takes them. Every request reads
	// it, so it should not copy: callers must not change the slice or its shapes.
	Inputs() []ort.TensorInfo

	// Outputs describes the outputs in the order Run returns them, under the same
	// rule as Inputs.
	Outputs() []ort.TensorInfo

	// AllowNonFinite reports whether NaN and infinite values may reach the model's
	// float inputs. Models that do not say so get requests holding them refused,
	// since a trained regression turns them into confident nonsense.
	AllowNonFinite() bool

	// Run runs the model on inputs in the order of Inputs and returns every output
	// in the order of Outputs.
	Run(ctx context.Context, inputs []ort.Tensor) ([]ort.Tensor, error)
}

// datatypes maps the runtime's element types to the protocol's datatype names.
var datatypes = map[ort.ElementType]string{
	ort.Bool: "BOOL", ort.Uint8: "UINT8", ort.Uint16: "UINT16", ort.Uint32: "UINT32",
	ort.Uint64: "UINT64", ort.Int8: "INT8", ort.Int16: "INT16", ort.Int32: "INT32",
	ort.Int64: "INT64", ort.Float16: "FP16", ort.BFloat16: "BF16", ort.Float32: "FP32",
	ort.Float64: "FP64", ort.String: "BYTES",
}

// Datatype returns the protocol's name for an element type, such as "FP32", or ""
// for Undefined and types the protocol cannot name.
func Datatype(t ort.ElementType) string {
	return datatypes[t]
}

// elementSize is the size in bytes of one element of each type the server can pass
// to a model; a type missing here is refused by ModelInfer.
var elementSize = map[ort.ElementType]int64{
	ort.Bool: 1, ort.Int32: 4, ort.Int64: 8, ort.Float32: 4, ort.Float64: 8,
}
