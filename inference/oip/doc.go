// Package oip serves models over the Open Inference Protocol, version 2: the gRPC
// service inference.GRPCInferenceService and its REST twin under /v2, the protocol
// that KServe, Triton and MLServer clients speak.
//
// Both transports decode a request into one neutral form and share a single core that
// checks it against the model's signature, runs the model and picks the requested
// outputs, so a request is judged the same whichever way it arrives. Errors become
// gRPC status codes and HTTP status codes in one function, statusOf.
//
// Tensors of FP32, FP64, INT32, INT64 and BOOL can be sent and received, which is what
// models/ort passes to ONNX Runtime. FP16 and BF16 would travel only as raw bytes, and
// the runtime wrapper cannot pass them yet, so models with such inputs are described
// by ModelMetadata but refused by ModelInfer.
//
// Over gRPC, inputs come either all in raw_input_contents or all in typed contents,
// and outputs go back the same way. Over REST, the server also speaks the binary
// tensor data extension, which Triton's HTTP client uses by default: tensors as raw
// bytes after the JSON object. JSON has no numbers for NaN and infinities, so an
// output holding one must be asked for in binary or over gRPC.
package oip
