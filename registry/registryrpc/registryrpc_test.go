package registryrpc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/auth"
	"github.com/hydrocast/hydrocast/models/onnxgraph"
	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/local"
	"github.com/hydrocast/hydrocast/registry/registrytest"
	"github.com/hydrocast/hydrocast/registry/upload"
)

// TestMain makes the test binary the upload trial's child when the checker
// re-executes it, as the hydrocast binary does with "models trial-run".
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "trial-run" {
		os.Exit(upload.ChildMain(context.Background(), os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

var features = []string{"heart_rate_bpm_mean_15m", "skin_temp_c_mean_15m", "humidity_pct"}

// fixture is a registry served over a real loopback gRPC connection.
type fixture struct {
	reg    *registry.Registry
	client *Client
	addr   string
	// uploads receives the error of every UploadModel handler once it returns.
	uploads chan error
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	reg, err := local.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	checker := upload.Checker{Options: upload.Options{Trial: upload.TrialOptions{
		Command: []string{exe, "trial-run"}, Timeout: time.Minute}}}
	srv := NewServer(reg, Options{Checker: checker, PollInterval: 20 * time.Millisecond,
		Principal: func(context.Context) (string, bool) { return "tester", true }})

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	uploads := make(chan error, 16)
	gs := grpc.NewServer(grpc.StreamInterceptor(func(s any, ss grpc.ServerStream,
		info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		// A test picks the caller's role through metadata, as a token would.
		if md, ok := metadata.FromIncomingContext(ss.Context()); ok &&
			len(md.Get(roleKey)) == 1 {
			p := auth.Principal{Subject: "tester", Roles: []auth.Role{
				auth.Role(md.Get(roleKey)[0])}}
			ss = &principalStream{ServerStream: ss, ctx: auth.NewContext(ss.Context(), p)}
		}
		err := h(s, ss)
		if info.FullMethod == hydrocastv1.RegistryService_UploadModel_FullMethodName {
			uploads <- err
		}
		return err
	}))
	srv.Register(gs)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &fixture{reg: reg, client: NewClient(conn), addr: lis.Addr().String(),
		uploads: uploads}
}

const roleKey = "x-test-role"

type principalStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *principalStream) Context() context.Context { return s.ctx }

// model returns a small linear sweat-rate model, padded with an unused initializer
// of padBytes bytes.
func model(t *testing.T, padBytes int) []byte {
	t.Helper()
	b, err := onnxgraph.StandardizedLinear(onnxgraph.LinearSpec{
		Name: "sweat-rate", Mean: []float32{140, 34, 50}, Scale: []float32{20, 1, 15},
		Weights: []float32{0.3, 0.1, 0.05}, Bias: []float32{1.1},
		Outputs: []string{"sweat_rate_l_per_h"},
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	if padBytes > 0 {
		m.Graph.Initializer = append(m.Graph.Initializer, &onnx.TensorProto{
			Name: "padding", DataType: int32(onnx.TensorProto_FLOAT),
			Dims: []int64{int64(padBytes / 4)}, RawData: make([]byte, padBytes/4*4)})
	}
	data, err := onnxgraph.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func meta(alias string) *hydrocastv1.UploadMetadata {
	return &hydrocastv1.UploadMetadata{Name: "sweat-rate", InputsFromFeatures: features,
		Alias: alias, Description: "padded", Tags: map[string]string{"team": "lab"},
		FileName: "sweat.onnx"}
}

// TestUploadLargeModel uploads a model past gRPC's default 4 MiB message limit.
func TestUploadLargeModel(t *testing.T) {
	f := newFixture(t)
	file := model(t, 5<<20)
	if len(file) <= 4<<20 {
		t.Fatalf("test model is %d bytes, want more than 4 MiB", len(file))
	}

	v, err := f.client.Upload(t.Context(), meta("staging"), bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if v.GetNumber() != 1 || v.GetStatus() != string(registry.StatusReady) ||
		v.GetTags()["team"] != "lab" {
		t.Fatalf("uploaded version %v", v)
	}

	got, err := f.client.GetVersion(t.Context(), "sweat-rate", "staging")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := f.reg.Version(t.Context(), "sweat-rate", 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetNumber() != 1 || got.GetArtifactSha256() != stored.Digest ||
		stored.Signature.Inputs[0].Features[2] != "humidity_pct" {
		t.Fatalf("staging resolves to %v; stored %+v", got, stored)
	}
	list, err := f.client.ListModels(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].GetAliases()["staging"] != 1 {
		t.Fatalf("models %v", list)
	}
}

// TestUploadRefusals checks that refused uploads answer INVALID_ARGUMENT naming the
// problem and leave no version behind.
func TestUploadRefusals(t *testing.T) {
	f := newFixture(t)
	file := model(t, 2<<20)
	sum := sha256.Sum256(file)
	digest := hex.EncodeToString(sum[:])
	wrong := sha256.Sum256([]byte("another file"))

	tests := []struct {
		name string
		meta func(m *hydrocastv1.UploadMetadata)
		file []byte
		want string
	}{
		{"corrupted checksum", func(m *hydrocastv1.UploadMetadata) {
			m.Sha256 = hex.EncodeToString(wrong[:])
		}, file, "checksum mismatch"},
		{"truncated file", func(m *hydrocastv1.UploadMetadata) { m.Sha256 = digest },
			file[:len(file)/2], "checksum mismatch"},
		{"bad digest", func(m *hydrocastv1.UploadMetadata) { m.Sha256 = "abc" },
			file, "sha256"},
		{"no features", func(m *hydrocastv1.UploadMetadata) {
			m.InputsFromFeatures = nil
		}, file, "inputs_from_features"},
		{"wrong feature count", func(m *hydrocastv1.UploadMetadata) {
			m.InputsFromFeatures = features[:2]
		}, file, "2 features but the last dimension is 3"},
		{"not ONNX", func(m *hydrocastv1.UploadMetadata) {}, []byte("hello"),
			"signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := meta("staging")
			tt.meta(m)
			_, err := f.client.Upload(t.Context(), m, bytes.NewReader(tt.file))
			if status.Code(err) != codes.InvalidArgument ||
				!strings.Contains(status.Convert(err).Message(), tt.want) {
				t.Fatalf("error %v, want InvalidArgument naming %q", err, tt.want)
			}
		})
	}
	assertNoVersion(t, f.reg)
}

// TestUploadAbandoned sends a whole file, digest included, then cancels the stream
// instead of closing it: a broken stream must never count as a finished upload.
func TestUploadAbandoned(t *testing.T) {
	f := newFixture(t)
	conn, err := grpc.NewClient(f.addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStreamInterceptor(cancelOnClose))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	file := model(t, 3<<20)

	_, err = NewClient(conn).Upload(t.Context(), meta(""), bytes.NewReader(file))
	if status.Code(err) != codes.Canceled {
		t.Fatalf("error %v, want Canceled", err)
	}
	if err := <-f.uploads; status.Code(err) != codes.Canceled {
		t.Fatalf("the server's handler ended with %v, want Canceled", err)
	}
	assertNoVersion(t, f.reg)
}

// cancelOnClose makes a stream's CloseSend cancel the stream, as a client killed
// after sending its last chunk would.
func cancelOnClose(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn,
	method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream,
	error) {
	ctx, cancel := context.WithCancel(ctx)
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		cancel()
		return nil, err
	}
	return &cancelingStream{ClientStream: cs, cancel: cancel}, nil
}

type cancelingStream struct {
	grpc.ClientStream
	cancel context.CancelFunc
}

func (s *cancelingStream) CloseSend() error {
	s.cancel()
	return nil
}

func assertNoVersion(t *testing.T, reg *registry.Registry) {
	t.Helper()
	vs, err := reg.Versions(t.Context(), "sweat-rate")
	if err != nil && !errors.Is(err, registry.ErrNotFound) {
		t.Fatal(err)
	}
	if len(vs) != 0 {
		t.Fatalf("refused uploads left versions: %+v", vs)
	}
}

// TestUploadAliasNeedsItsPermission lets a data scientist upload into staging but
// not into production.
func TestUploadAliasNeedsItsPermission(t *testing.T) {
	f := newFixture(t)
	ctx := metadata.AppendToOutgoingContext(t.Context(), roleKey,
		string(auth.RoleDataScientist))
	_, err := f.client.Upload(ctx, meta("production"), bytes.NewReader(model(t, 0)))
	if status.Code(err) != codes.PermissionDenied ||
		!strings.Contains(status.Convert(err).Message(), "production") {
		t.Fatalf("upload into production: %v, want PermissionDenied", err)
	}
	assertNoVersion(t, f.reg)
	v, err := f.client.Upload(ctx, meta("staging"), bytes.NewReader(model(t, 0)))
	if err != nil || len(v.GetAliases()) != 1 || v.GetAliases()[0] != "staging" {
		t.Fatalf("upload into staging: %v, %v", v, err)
	}
}

// TestWatchSeesAliasMove watches the registry while an alias moves.
func TestWatchSeesAliasMove(t *testing.T) {
	f := newFixture(t)
	for _, alias := range []string{"production", ""} {
		if _, err := f.client.Upload(t.Context(), meta(alias),
			bytes.NewReader(model(t, 0))); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	events := make(chan *hydrocastv1.RegistryEvent, 16)
	done := make(chan error, 1)
	go func() {
		done <- f.client.Watch(ctx, func(ev *hydrocastv1.RegistryEvent) error {
			events <- ev
			return nil
		})
	}()
	first := <-events
	if len(first.GetAliasChanges()) != 0 {
		t.Fatalf("first event %v, want the revision alone", first)
	}

	_, err := f.reg.SetAlias(registrytest.Context(t), registry.AliasMove{
		Model: "sweat-rate", Alias: "production", Version: 2, Reason: "test"})
	if err != nil {
		t.Fatal(err)
	}
	want := &hydrocastv1.AliasChange{Model: "sweat-rate", Alias: "production",
		FromVersion: 1, ToVersion: 2}
	for ev := range events {
		if ev.GetRevision() <= first.GetRevision() {
			t.Fatalf("revision went from %d to %d", first.GetRevision(), ev.GetRevision())
		}
		if len(ev.GetAliasChanges()) == 1 && proto.Equal(ev.GetAliasChanges()[0], want) {
			break
		}
		if len(ev.GetAliasChanges()) > 0 {
			t.Fatalf("event %v, want the move %v", ev, want)
		}
	}
	cancel()
	if err := <-done; status.Code(err) != codes.Canceled {
		t.Fatalf("watch ended with %v", err)
	}
}

// FuzzUploadMetadata checks the metadata checks on any decoded message.
func FuzzUploadMetadata(f *testing.F) {
	seed, _ := proto.Marshal(meta("staging"))
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		var m hydrocastv1.UploadMetadata
		if proto.Unmarshal(data, &m) != nil {
			return
		}
		if checkMetadata(&m) == nil && (m.GetName() == "" || len(m.GetSha256()) != 64) {
			t.Fatalf("accepted %v", &m)
		}
	})
}
