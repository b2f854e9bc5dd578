package oip

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/hydrocast/hydrocast/models/ort"
)

// The REST twin's JSON bodies. Parameters are accepted and ignored: the server has
// no use for any, and clients such as Triton's send some by default.

type restInferRequest struct {
	ID         string            `json:"id"`
	Parameters map[string]any    `json:"parameters"`
	Inputs     []restInput       `json:"inputs"`
	Outputs    []restOutputQuery `json:"outputs"`
}

type restInput struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters map[string]any  `json:"parameters"`
	Data       json.RawMessage `json:"data"`
}

type restOutputQuery struct {
	Name       string         `json:"name"`
	Parameters map[string]any `json:"parameters"`
}

type restInferResponse struct {
	ModelName    string       `json:"model_name"`
	ModelVersion string       `json:"model_version"`
	ID           string       `json:"id,omitempty"`
	Outputs      []restOutput `json:"outputs"`
}

type restOutput struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
	Data     any     `json:"data"`
}

type restServerMetadata struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	Extensions []string `json:"extensions"`
}

type restModelMetadata struct {
	Name     string               `json:"name"`
	Versions []string             `json:"versions"`
	Platform string               `json:"platform"`
	Inputs   []restTensorMetadata `json:"inputs"`
	Outputs  []restTensorMetadata `json:"outputs"`
}

type restTensorMetadata struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

type restError struct {
	Error string `json:"error"`
}

// routes builds the REST twin. A model path with /versions/{version} asks for that
// version; without it, for the default one.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /v2/health/ready", s.restServerReady)
	mux.HandleFunc("GET /v2", s.restServerMetadata)
	models := []string{"/v2/models/{model}", "/v2/models/{model}/versions/{version}"}
	for _, prefix := range models {
		mux.HandleFunc("GET "+prefix, s.restModelMetadata)
		mux.HandleFunc("GET "+prefix+"/ready", s.restModelReady)
		mux.HandleFunc("POST "+prefix+"/infer", s.restInfer)
	}
	return mux
}

// restServerReady answers 200 when ready and 400 when not: the protocol gives
// readiness as the status code alone, any 4xx meaning false.
func (s *Server) restServerReady(w http.ResponseWriter, _ *http.Request) {
	if s.repo.Ready() {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusBadRequest)
}

// restModelReady answers 200 for a ready model, 400 for one that is not ready yet and
// 404 for one the repository does not know.
func (s *Server) restModelReady(w http.ResponseWriter, r *http.Request) {
	ready, err := s.modelReady(r.PathValue("model"), r.PathValue("version"))
	switch {
	case err != nil:
		_, code, _ := statusOf(err)
		w.WriteHeader(code)
	case ready:
		w.WriteHeader(http.StatusOK)
	default:
		w.WriteHeader(http.StatusBadRequest)
	}
}

func (s *Server) restServerMetadata(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, restServerMetadata{
		Name:       ServerName,
		Version:    s.opts.Version,
		Extensions: append([]string{}, s.opts.Extensions...),
	})
}

func (s *Server) restModelMetadata(w http.ResponseWriter, r *http.Request) {
	m, err := s.model(r.PathValue("model"), r.PathValue("version"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, restModelMetadata{
		Name:     m.Name(),
		Versions: m.Versions(),
		Platform: Platform,
		Inputs:   restTensors(m.Inputs()),
		Outputs:  restTensors(m.Outputs()),
	})
}

func restTensors(infos []ort.TensorInfo) []restTensorMetadata {
	out := make([]restTensorMetadata, len(infos))
	for i, t := range infos {
		out[i] = restTensorMetadata{Name: t.Name, Datatype: Datatype(t.Type),
			Shape: protocolShape(t.Shape)}
	}
	return out
}

func (s *Server) restInfer(w http.ResponseWriter, r *http.Request) {
	req, err := s.fromJSON(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	resp, err := s.infer(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	body, err := toJSON(resp)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// fromJSON reads an inference request body, at most Options.MaxRequestBytes of it.
func (s *Server) fromJSON(w http.ResponseWriter, r *http.Request) (*request, error) {
	body := http.MaxBytesReader(w, r.Body, int64(s.opts.MaxRequestBytes))
	var q restInferRequest
	if err := json.NewDecoder(body).Decode(&q); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, fmt.Errorf("%w: %w: the limit is %d bytes", ErrInvalidRequest,
				errTooLarge, s.opts.MaxRequestBytes)
		}
		return nil, invalid("read JSON body: %v", err)
	}

	req := &request{
		model:   r.PathValue("model"),
		version: r.PathValue("version"),
		id:      q.ID,
		inputs:  make([]input, len(q.Inputs)),
	}
	for i, in := range q.Inputs {
		req.inputs[i] = input{name: in.Name, datatype: in.Datatype, shape: in.Shape,
			data: jsonPayload(in.Data)}
	}
	for _, o := range q.Outputs {
		req.outputs = append(req.outputs, o.Name)
	}
	return req, nil
}

// toJSON returns the response body, refusing float outputs that hold NaN or
// infinities, which JSON has no numbers for.
func toJSON(resp *response) (*restInferResponse, error) {
	body := &restInferResponse{
		ModelName:    resp.model,
		ModelVersion: resp.version,
		ID:           resp.id,
		Outputs:      make([]restOutput, len(resp.outputs)),
	}
	for i, o := range resp.outputs {
		if k, v, bad := firstNonFinite(o.tensor.Data); bad {
			return nil, fmt.Errorf("%w: output %q element %d is %v; JSON cannot carry "+
				"it, ask over gRPC", errNotJSON, o.name, k, v)
		}
		body.Outputs[i] = restOutput{
			Name:     o.name,
			Datatype: Datatype(o.tensor.Type()),
			Shape:    o.tensor.Shape,
			Data:     o.tensor.Data,
		}
	}
	return body, nil
}

func writeError(w http.ResponseWriter, err error) {
	_, code, msg := statusOf(err)
	writeJSON(w, code, restError{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	// The status line is gone by now; a failed write means the client left.
	_ = json.NewEncoder(w).Encode(v)
}
