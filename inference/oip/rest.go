package oip

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"

	"github.com/hydrocast/hydrocast/models/ort"
)

// The REST twin's JSON bodies for health and metadata.

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
		Extensions: []string{extensionBinaryData},
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

func writeError(w http.ResponseWriter, err error) {
	_, code, msg := statusOf(err)
	if after, ok := retryAfter(err); ok {
		// Retry-After counts whole seconds.
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(after.Seconds())))))
	}
	writeJSON(w, code, restError{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	// The status line is gone by now; a failed write means the client left.
	_ = json.NewEncoder(w).Encode(v)
}
