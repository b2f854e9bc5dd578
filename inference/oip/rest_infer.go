package oip

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"strconv"
)

// The binary tensor data extension lets a REST body carry tensors as raw bytes after
// its JSON object, as Triton's HTTP client does by default.
const (
	// extensionBinaryData is the extension's name in ServerMetadata.
	extensionBinaryData = "binary_tensor_data"

	// headerJSONLength gives the length in bytes of the JSON object that starts a
	// body whose tensors follow in binary.
	headerJSONLength = "Inference-Header-Content-Length"

	// paramBinarySize, on an input or output, gives the byte length of its binary
	// data; paramBinary, on a requested output, asks for it in binary;
	// paramBinaryAll, on the request, asks for every output in binary unless the
	// output says otherwise.
	paramBinarySize = "binary_data_size"
	paramBinary     = "binary_data"
	paramBinaryAll  = "binary_data_output"
)

// The inference request and response bodies. Parameters other than the extension's
// are accepted and ignored: clients such as MLServer's send some by default.

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
	Name       string         `json:"name"`
	Datatype   string         `json:"datatype"`
	Shape      []int64        `json:"shape"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Data       any            `json:"data,omitempty"`
}

// restQuery is a REST inference request in the core's form, with the form each
// output is wanted in.
type restQuery struct {
	req       *request
	binaryAll bool
	binary    map[string]bool // by output name, overriding binaryAll
}

func (q *restQuery) binaryOutput(name string) bool {
	if b, ok := q.binary[name]; ok {
		return b
	}
	return q.binaryAll
}

func (s *Server) restInfer(w http.ResponseWriter, r *http.Request) {
	rec := begin()
	doc, bin, err := s.restInferBody(w, r, &rec)
	s.finish(r.Context(), &rec, err)
	if err != nil {
		writeError(w, err)
		return
	}

	if len(bin) == 0 {
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set(headerJSONLength, strconv.Itoa(len(doc)))
	w.Write(doc)
	w.Write(bin)
}

// jsonError says what encoding/json found wrong in a request in the protocol's
// terms: a value of the wrong kind names its field and the kind wanted, not the Go
// type that would have held it.
func jsonError(err error) string {
	te, ok := errors.AsType[*json.UnmarshalTypeError](err)
	if !ok || te.Type == nil {
		return err.Error()
	}
	want := "a value of another kind"
	switch te.Type.Kind() {
	case reflect.String:
		want = "a string"
	case reflect.Bool:
		want = "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want = "a whole number"
	case reflect.Float32, reflect.Float64:
		want = "a number"
	case reflect.Slice, reflect.Array:
		want = "an array"
	case reflect.Struct, reflect.Map:
		want = "an object"
	}
	if te.Field == "" {
		return fmt.Sprintf("the body is a JSON %s; want an object", te.Value)
	}
	return fmt.Sprintf("%s is a JSON %s; want %s", te.Field, te.Value, want)
}

// restInferBody serves an inference request and returns the response's JSON object
// and the binary data that follows it.
func (s *Server) restInferBody(w http.ResponseWriter, r *http.Request,
	rec *record) ([]byte, []byte, error) {
	q, err := s.fromREST(w, r)
	if err != nil {
		// A body that cannot be read is still counted against the model it was
		// sent to, when that model exists.
		if m, merr := s.model(r.PathValue("model"), r.PathValue("version")); merr == nil {
			rec.model, rec.version = m.Name(), m.Version()
		}
		return nil, nil, err
	}
	resp, err := s.infer(r.Context(), q.req, rec)
	if err != nil {
		return nil, nil, err
	}
	doc, bin, err := toREST(resp, q)
	if err != nil && !errors.Is(err, errNotJSON) {
		s.opts.Logger.Error("encode response failed", "model", resp.model,
			"version", resp.version, "err", err)
	}
	return doc, bin, err
}

// fromREST reads an inference request body, at most Options.MaxRequestBytes of it.
func (s *Server) fromREST(w http.ResponseWriter, r *http.Request) (*restQuery, error) {
	if enc := r.Header.Get("Content-Encoding"); enc != "" && enc != "identity" {
		return nil, fmt.Errorf("%w: %w: Content-Encoding %s; send the body uncompressed",
			ErrInvalidRequest, errEncoding, enc)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(s.opts.MaxRequestBytes)))
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return nil, fmt.Errorf("%w: %w: the limit is %d bytes", ErrInvalidRequest,
			errTooLarge, s.opts.MaxRequestBytes)
	}
	if err != nil {
		return nil, invalid("read body: %v", err)
	}
	doc, bin, err := splitBody(r.Header.Get(headerJSONLength), body)
	if err != nil {
		return nil, err
	}
	var parsed restInferRequest
	if err := json.Unmarshal(doc, &parsed); err != nil {
		return nil, invalid("read JSON body: %s", jsonError(err))
	}

	q := &restQuery{req: &request{
		model:   r.PathValue("model"),
		version: r.PathValue("version"),
		id:      parsed.ID,
		inputs:  make([]input, len(parsed.Inputs)),
	}}
	for i, in := range parsed.Inputs {
		q.req.inputs[i] = input{name: in.Name, datatype: in.Datatype, shape: in.Shape}
		q.req.inputs[i].data, bin, err = restPayload(in, bin)
		if err != nil {
			return nil, err
		}
	}
	if len(bin) > 0 {
		return nil, invalid("%d bytes of binary data follow the inputs' %s", len(bin),
			paramBinarySize)
	}

	if q.binaryAll, _, err = boolParam(parsed.Parameters, paramBinaryAll); err != nil {
		return nil, invalid("%v", err)
	}
	for _, o := range parsed.Outputs {
		q.req.outputs = append(q.req.outputs, o.Name)
		b, ok, err := boolParam(o.Parameters, paramBinary)
		if err != nil {
			return nil, invalid("output %q: %v", o.Name, err)
		}
		if ok {
			if q.binary == nil {
				q.binary = map[string]bool{}
			}
			q.binary[o.Name] = b
		}
	}
	return q, nil
}

// splitBody splits a body into its JSON object and the binary data after it, as the
// length header says; without the header the body is all JSON.
func splitBody(header string, body []byte) ([]byte, []byte, error) {
	if header == "" {
		return body, nil, nil
	}
	n, err := strconv.Atoi(header)
	if err != nil || n < 0 || n > len(body) {
		return nil, nil, invalid("header %s is %q, not a length within the body's %d "+
			"bytes", headerJSONLength, header, len(body))
	}
	return body[:n], body[n:], nil
}

// restPayload returns an input's data, from its JSON or from the front of bin, and
// what remains of bin.
func restPayload(in restInput, bin []byte) (payload, []byte, error) {
	size, binary, err := sizeParam(in.Parameters, paramBinarySize)
	switch {
	case err != nil:
		return nil, nil, invalid("input %q: %v", in.Name, err)
	case !binary:
		return jsonPayload(in.Data), bin, nil
	case len(in.Data) > 0:
		return nil, nil, invalid("input %q has data and %s; send one or the other",
			in.Name, paramBinarySize)
	case size > len(bin):
		return nil, nil, invalid("input %q: %s is %d, only %d bytes of binary data remain",
			in.Name, paramBinarySize, size, len(bin))
	}
	return rawPayload(bin[:size]), bin[size:], nil
}

// sizeParam reads a byte count from JSON parameters.
func sizeParam(params map[string]any, key string) (int, bool, error) {
	v, ok := params[key]
	if !ok {
		return 0, false, nil
	}
	f, isNumber := v.(float64)
	if !isNumber || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		text, _ := json.Marshal(v) // as sent: a string "44" shows its quotes
		return 0, false, fmt.Errorf("parameter %s is %s, not a byte count (want a "+
			"whole number of bytes)", key, text)
	}
	return int(f), true, nil
}

// boolParam reads a boolean from JSON parameters.
func boolParam(params map[string]any, key string) (value, present bool, err error) {
	v, ok := params[key]
	if !ok {
		return false, false, nil
	}
	b, isBool := v.(bool)
	if !isBool {
		return false, false, fmt.Errorf("parameter %s is %v, not true or false", key, v)
	}
	return b, true, nil
}

// toREST returns the response's JSON object and the binary data that follows it.
// Float outputs wanted in JSON must be finite, since JSON has no numbers for NaN and
// infinities.
func toREST(resp *response, q *restQuery) ([]byte, []byte, error) {
	body := &restInferResponse{
		ModelName:    resp.model,
		ModelVersion: resp.version,
		ID:           resp.id,
		Outputs:      make([]restOutput, len(resp.outputs)),
	}
	var bin []byte
	for i, o := range resp.outputs {
		out := restOutput{Name: o.name, Datatype: Datatype(o.tensor.Type()),
			Shape: o.tensor.Shape}
		if q.binaryOutput(o.name) {
			b, err := rawBytes(o.tensor)
			if err != nil {
				return nil, nil, fmt.Errorf("encode output %q: %w", o.name, err)
			}
			out.Parameters = map[string]any{paramBinarySize: len(b)}
			bin = append(bin, b...)
		} else {
			if k, v, bad := firstNonFinite(o.tensor.Data); bad {
				return nil, nil, fmt.Errorf("%w: output %q element %d is %v; JSON cannot "+
					"carry it, ask for it with %q or over gRPC", errNotJSON, o.name, k, v,
					paramBinary)
			}
			out.Data = o.tensor.Data
		}
		body.Outputs[i] = out
	}

	doc, err := json.Marshal(body)
	if err != nil {
		return nil, nil, fmt.Errorf("encode response: %w", err)
	}
	return doc, bin, nil
}
