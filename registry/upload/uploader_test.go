package upload

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/advancedclimatesystems/gonnx/onnx"

	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/local"
	"github.com/hydrocast/hydrocast/registry/registrytest"
)

// TestCheckerInUploader streams models through a registry.Uploader with the real
// checks: a model that runs becomes ready and aliased, one that fails its trial is
// recorded as failed with the runtime's reason.
func TestCheckerInUploader(t *testing.T) {
	r, err := local.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	u := registry.NewUploader(r, Checker{Options: options(t)}, registry.UploaderOptions{})

	broken := linearModel(t)
	broken.Graph.Node[0].OpType = "NoSuchOperator"
	tests := []struct {
		name   string
		model  *onnx.ModelProto
		status registry.Status
		reason string
	}{
		{"runs", linearModel(t), registry.StatusReady, ""},
		{"fails its trial", broken, registry.StatusFailed, "model failed to load"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := encode(t, tt.model)
			up, err := u.Begin(registrytest.Context(t), registry.PublishRequest{
				Model: "sweat-rate", Signature: signature(),
				Promote: &registry.Promotion{Alias: "staging"}})
			if err != nil {
				t.Fatal(err)
			}
			for chunk := range slices.Chunk(file, 100) {
				if _, err := up.Write(chunk); err != nil {
					t.Fatal(err)
				}
			}
			sum := sha256.Sum256(file)
			v, err := up.Finish(registrytest.Context(t), hex.EncodeToString(sum[:]))

			if (err == nil) != (tt.status == registry.StatusReady) ||
				(err != nil && !errors.Is(err, registry.ErrInvalid)) {
				t.Fatalf("error %v for a model that should end %s", err, tt.status)
			}
			if v.Status != tt.status || !strings.Contains(v.StatusReason, tt.reason) {
				t.Errorf("version %d is %s because %q, want %s because %q", v.Number,
					v.Status, v.StatusReason, tt.status, tt.reason)
			}
		})
	}
}
