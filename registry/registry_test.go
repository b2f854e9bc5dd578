package registry

import (
	"context"
	"errors"
	"testing"
)

// countingArtifacts is an ArtifactStore that only counts what reaches it.
type countingArtifacts struct{ puts int }

func (c *countingArtifacts) Put(context.Context, []byte) (string, error) {
	c.puts++
	return "", errors.New("not stored")
}

func (c *countingArtifacts) Get(context.Context, string) ([]byte, error) {
	return nil, ErrNotFound
}

func (c *countingArtifacts) Close() error { return nil }

// TestPublishRejectsBeforeUpload checks that a request the store would refuse never
// costs an upload. The registry has no metadata store: reaching it would panic.
func TestPublishRejectsBeforeUpload(t *testing.T) {
	valid := func() PublishRequest {
		return PublishRequest{Model: "sweat-rate", Signature: validSignature(),
			Artifact: []byte("onnx")}
	}
	withPrincipal := WithPrincipal(t.Context(), "trainer")
	tests := []struct {
		name   string
		ctx    context.Context
		change func(r *PublishRequest)
	}{
		{"no principal", t.Context(), func(*PublishRequest) {}},
		{"empty artifact", withPrincipal, func(r *PublishRequest) { r.Artifact = nil }},
		{"bad model name", withPrincipal, func(r *PublishRequest) { r.Model = "Sweat" }},
		{"bad signature", withPrincipal, func(r *PublishRequest) { r.Signature = Signature{} }},
		{"bad alias", withPrincipal, func(r *PublishRequest) {
			r.Promote = &Promotion{Alias: "1"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			artifacts := &countingArtifacts{}
			r := New(nil, artifacts)
			req := valid()
			tt.change(&req)
			if _, err := r.Publish(tt.ctx, req); !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v, want ErrInvalid", err)
			}
			if artifacts.puts != 0 {
				t.Errorf("%d uploads for a refused request", artifacts.puts)
			}
		})
	}
}

func TestPrincipalFrom(t *testing.T) {
	tests := []struct {
		name  string
		ctx   context.Context
		valid bool
	}{
		{"set", WithPrincipal(t.Context(), "alice@example.org"), true},
		{"absent", t.Context(), false},
		{"empty", WithPrincipal(t.Context(), ""), false},
		{"control character", WithPrincipal(t.Context(), "alice\x1b[31m"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PrincipalFrom(tt.ctx)
			if (err == nil) != tt.valid {
				t.Fatalf("PrincipalFrom = %q, %v; want valid %v", p, err, tt.valid)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}
