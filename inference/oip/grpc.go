package oip

import (
	"context"
	"errors"
	"fmt"

	inferencepb "github.com/hydrocast/hydrocast/api/inference"
	"github.com/hydrocast/hydrocast/models/ort"
	"google.golang.org/protobuf/proto"
)

// ServerLive reports that the server answers; a process that cannot answer says
// nothing at all.
func (s *Server) ServerLive(context.Context, *inferencepb.ServerLiveRequest) (
	*inferencepb.ServerLiveResponse, error) {
	return &inferencepb.ServerLiveResponse{Live: true}, nil
}

// ServerReady reports whether the repository can serve inference requests.
func (s *Server) ServerReady(context.Context, *inferencepb.ServerReadyRequest) (
	*inferencepb.ServerReadyResponse, error) {
	return &inferencepb.ServerReadyResponse{Ready: s.repo.Ready()}, nil
}

// ModelReady reports whether a model can run. A model that does not exist is not
// ready rather than an error, so that a probe can ask before the model is deployed.
func (s *Server) ModelReady(_ context.Context, req *inferencepb.ModelReadyRequest) (
	*inferencepb.ModelReadyResponse, error) {
	ready, err := s.modelReady(req.GetName(), req.GetVersion())
	if err != nil && !errors.Is(err, ErrModelNotFound) {
		return nil, grpcError(err)
	}
	return &inferencepb.ModelReadyResponse{Ready: ready}, nil
}

// modelReady reports whether a model can run; it fails with ErrModelNotFound for a
// model the repository does not know.
func (s *Server) modelReady(name, version string) (bool, error) {
	_, err := s.model(name, version)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrModelNotReady):
		return false, nil
	}
	return false, err
}

// ServerMetadata names the server, its version and its protocol extensions.
func (s *Server) ServerMetadata(context.Context, *inferencepb.ServerMetadataRequest) (
	*inferencepb.ServerMetadataResponse, error) {
	return &inferencepb.ServerMetadataResponse{
		Name:       ServerName,
		Version:    s.opts.Version,
		Extensions: []string{extensionBinaryData},
	}, nil
}

// ModelMetadata describes a model's versions, inputs and outputs.
func (s *Server) ModelMetadata(_ context.Context, req *inferencepb.ModelMetadataRequest) (
	*inferencepb.ModelMetadataResponse, error) {
	m, err := s.model(req.GetName(), req.GetVersion())
	if err != nil {
		return nil, grpcError(err)
	}
	return &inferencepb.ModelMetadataResponse{
		Name:     m.Name(),
		Versions: m.Versions(),
		Platform: Platform,
		Inputs:   tensorMetadata(m.Inputs()),
		Outputs:  tensorMetadata(m.Outputs()),
	}, nil
}

func tensorMetadata(infos []ort.TensorInfo) []*inferencepb.ModelMetadataResponse_TensorMetadata {
	out := make([]*inferencepb.ModelMetadataResponse_TensorMetadata, len(infos))
	for i, t := range infos {
		out[i] = &inferencepb.ModelMetadataResponse_TensorMetadata{
			Name:     t.Name,
			Datatype: Datatype(t.Type),
			Shape:    protocolShape(t.Shape),
		}
	}
	return out
}

// protocolShape spells every dimension the model leaves open as -1, however the
// model file marked it.
func protocolShape(shape []int64) []int64 {
	out := make([]int64, len(shape))
	for i, d := range shape {
		out[i] = max(d, -1)
	}
	return out
}

// ModelInfer runs a model. Inputs come in typed contents or all in
// raw_input_contents; outputs go back raw when the inputs came raw, as Triton does.
func (s *Server) ModelInfer(ctx context.Context, req *inferencepb.ModelInferRequest) (
	*inferencepb.ModelInferResponse, error) {
	rec := begin()
	out, err := s.modelInfer(ctx, req, &rec)
	s.finish(ctx, &rec, err)
	if err != nil {
		return nil, grpcError(err)
	}
	return out, nil
}

func (s *Server) modelInfer(ctx context.Context, req *inferencepb.ModelInferRequest,
	rec *record) (*inferencepb.ModelInferResponse, error) {
	// On the stack: infer keeps nothing of r itself.
	r, err := s.fromProto(req)
	if err != nil {
		return nil, err
	}
	resp, err := s.infer(ctx, &r, rec)
	if err != nil {
		return nil, err
	}
	out, err := toProto(resp, len(req.GetRawInputContents()) > 0)
	if err != nil {
		s.opts.Logger.Error("encode response failed", "model", resp.model,
			"version", resp.version, "err", err)
		return nil, err
	}
	return out, nil
}

// fromProto checks the request's framing (size, where the data is) and returns it in
// the core's form.
func (s *Server) fromProto(req *inferencepb.ModelInferRequest) (request, error) {
	if n := proto.Size(req); n > s.opts.MaxRequestBytes {
		return request{}, fmt.Errorf("%w: %w: %d bytes, the limit is %d",
			ErrInvalidRequest, errTooLarge, n, s.opts.MaxRequestBytes)
	}

	raw := req.GetRawInputContents()
	if len(raw) > 0 && len(raw) != len(req.GetInputs()) {
		return request{}, invalid("%d raw_input_contents for %d inputs; give one "+
			"per input", len(raw), len(req.GetInputs()))
	}

	r := request{
		model:   req.GetModelName(),
		version: req.GetModelVersion(),
		id:      req.GetId(),
		inputs:  make([]input, len(req.GetInputs())),
	}
	for i, in := range req.GetInputs() {
		r.inputs[i] = input{name: in.GetName(), datatype: in.GetDatatype(),
			shape: in.GetShape()}
		switch {
		case len(raw) == 0:
			r.inputs[i].data = contentsPayload{in.GetContents()}
		case hasContents(in.GetContents()):
			return request{}, invalid("input %q has contents and the request has "+
				"raw_input_contents; send one or the other", in.GetName())
		default:
			r.inputs[i].data = rawPayload(raw[i])
		}
	}
	for _, o := range req.GetOutputs() {
		r.outputs = append(r.outputs, o.GetName())
	}
	return r, nil
}

// toProto encodes a response. Its output messages share one allocation, and so do
// the raw bytes of all its outputs, or else their typed contents messages.
func toProto(resp *response, raw bool) (*inferencepb.ModelInferResponse, error) {
	n := len(resp.outputs)
	out := &inferencepb.ModelInferResponse{
		ModelName:    resp.model,
		ModelVersion: resp.version,
		Id:           resp.id,
		Outputs:      make([]*inferencepb.ModelInferResponse_InferOutputTensor, n),
	}
	tensors := make([]inferencepb.ModelInferResponse_InferOutputTensor, n)
	var buf []byte
	var contents []inferencepb.InferTensorContents
	if raw {
		out.RawOutputContents = make([][]byte, n)
		size := 0
		for _, o := range resp.outputs {
			size += tensorLen(o.tensor.Data) * int(elementSize[o.tensor.Type()])
		}
		buf = make([]byte, 0, size)
	} else {
		contents = make([]inferencepb.InferTensorContents, n)
	}
	for i, o := range resp.outputs {
		t := &tensors[i]
		t.Name, t.Datatype, t.Shape = o.name, Datatype(o.tensor.Type()), o.tensor.Shape
		var err error
		if raw {
			start := len(buf)
			buf, err = appendRaw(buf, o.tensor)
			out.RawOutputContents[i] = buf[start:len(buf):len(buf)]
		} else if err = setContents(&contents[i], o.tensor); err == nil {
			t.Contents = &contents[i]
		}
		if err != nil {
			return nil, fmt.Errorf("encode output %q: %w", o.name, err)
		}
		out.Outputs[i] = t
	}
	return out, nil
}
