// Package registryrpc serves the model registry over gRPC (hydrocast.v1's
// RegistryService) and holds its client: chunked uploads checked like the CLI's,
// a watch of the registry's changes, and read-only listings.
package registryrpc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/auth"
	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/upload"
)

// MaxChunk is the largest data chunk an upload message may carry: 1 MiB.
const MaxChunk = 1 << 20

// DefaultPollInterval is how often a watch reads the registry's revision.
const DefaultPollInterval = 500 * time.Millisecond

// Options configure a Server. The zero value of each field selects its default.
type Options struct {
	// Checker validates and trial-runs uploads. Nil means upload.Checker{}, the
	// ONNX checks and sandboxed trial of `hydrocast models upload`.
	Checker registry.Checker

	// MaxBytes caps one uploaded file in bytes. Zero means
	// registry.DefaultMaxUpload.
	MaxBytes int64

	// PollInterval is how often a watch reads the registry's revision. Zero means
	// DefaultPollInterval.
	PollInterval time.Duration

	// Principal names the caller of a request for the registry's audit trail, and
	// reports false when there is none. Nil means the subject that the auth guard
	// put in the context.
	Principal func(ctx context.Context) (string, bool)

	// Servable, when set, is asked before anything is stored whether servers could
	// load a model of this name and signature (hydrocast serve passes
	// inference.CheckServable); an error wrapping registry.ErrInvalid refuses it.
	Servable func(model string, sig registry.Signature) error

	// Logger receives the server's own events; nil discards them.
	Logger *slog.Logger
}

// Server implements hydrocast.v1.RegistryService over a registry.
type Server struct {
	hydrocastv1.UnimplementedRegistryServiceServer

	reg      *registry.Registry
	uploader *registry.Uploader
	opts     Options
}

// NewServer returns a server of reg.
func NewServer(reg *registry.Registry, opts Options) *Server {
	if opts.Checker == nil {
		opts.Checker = upload.Checker{}
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = registry.DefaultMaxUpload
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Principal == nil {
		opts.Principal = guardPrincipal
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{reg: reg, opts: opts, uploader: registry.NewUploader(reg, opts.Checker,
		registry.UploaderOptions{MaxBytes: opts.MaxBytes})}
}

// Register registers the service on gs.
func (s *Server) Register(gs grpc.ServiceRegistrar) {
	hydrocastv1.RegisterRegistryServiceServer(gs, s)
}

// guardPrincipal returns the subject of the principal the auth guard authenticated.
func guardPrincipal(ctx context.Context) (string, bool) {
	p, ok := auth.FromContext(ctx)
	return p.Subject, ok && p.Subject != ""
}

// UploadModel receives, checks and publishes one model file.
func (s *Server) UploadModel(stream hydrocastv1.RegistryService_UploadModelServer) error {
	ctx := stream.Context()
	who, ok := s.opts.Principal(ctx)
	if !ok {
		return status.Error(codes.Unauthenticated, "upload: the caller is not identified")
	}
	ctx = registry.WithPrincipal(ctx, who)

	first, err := stream.Recv()
	if err != nil {
		return recvError(err)
	}
	meta := first.GetMetadata()
	if meta == nil {
		return status.Error(codes.InvalidArgument,
			"upload: the first message must carry the metadata")
	}
	if err := checkMetadata(meta); err != nil {
		return status.Error(codes.InvalidArgument, "upload: "+err.Error())
	}
	// The upload's rule covers the upload; moving the alias needs that alias's
	// permission too, or a data scientist could upload straight into production.
	if p, ok := auth.FromContext(ctx); ok && meta.GetAlias() != "" &&
		!p.Can(auth.AliasPermission(meta.GetAlias())) {
		return status.Errorf(codes.PermissionDenied,
			"upload: moving alias %q is not among %s's permissions", meta.GetAlias(),
			p.Subject)
	}

	data, err := s.receive(stream)
	if err != nil {
		return err
	}
	v, err := Publish(ctx, s.uploader, meta, data, s.opts.Servable)
	if err != nil {
		return s.statusOf(err)
	}
	s.opts.Logger.Info("model uploaded", "model", v.Model, "version", v.Number,
		"principal", who)
	return stream.SendAndClose(VersionProto(v))
}

// receive reads the data chunks until the client closes its side. The size cap is
// checked as chunks arrive, so that an oversized upload stops early.
//
// TODO: the file is held in memory, and copied once more into the Uploader, since
// the signature is read from the whole graph before the upload can begin; an
// upload at the 512 MiB cap costs about 1 GiB until it is published. Spooling to a
// temporary file would need a Checker that reads files.
func (s *Server) receive(stream hydrocastv1.RegistryService_UploadModelServer) ([]byte,
	error) {
	var data []byte
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return data, nil
		}
		if err != nil {
			return nil, recvError(err)
		}
		chunk := msg.GetData()
		switch {
		case msg.GetMetadata() != nil:
			return nil, status.Error(codes.InvalidArgument,
				"upload: metadata may come only in the first message")
		case len(chunk) > MaxChunk:
			return nil, status.Errorf(codes.InvalidArgument,
				"upload: a chunk of %d bytes is larger than %d", len(chunk), MaxChunk)
		case int64(len(data))+int64(len(chunk)) > s.opts.MaxBytes:
			return nil, status.Errorf(codes.InvalidArgument,
				"upload: file larger than %d bytes", s.opts.MaxBytes)
		}
		data = append(data, chunk...)
	}
}

// recvError translates a failed Recv; a client that went away gets its own code.
func recvError(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Canceled, "upload: the stream broke: "+err.Error())
}

// checkMetadata checks what the registry does not: the digest's form and the
// input features.
func checkMetadata(m *hydrocastv1.UploadMetadata) error {
	if m.GetName() == "" {
		return errors.New("name is empty")
	}
	if len(m.GetInputsFromFeatures()) == 0 {
		return errors.New("inputs_from_features is empty")
	}
	if b, err := hex.DecodeString(m.GetSha256()); err != nil || len(b) != sha256.Size {
		return fmt.Errorf("sha256 %q is not 64 hex digits", m.GetSha256())
	}
	return nil
}

// Publish runs an upload of data through u, which checks its digest, validates it,
// trial-runs it and publishes it: the path of every upload, local or remote. The
// signature comes from the graph, with meta's features naming the columns of its
// single input.
func Publish(ctx context.Context, u *registry.Uploader, meta *hydrocastv1.UploadMetadata,
	data []byte, servable func(string, registry.Signature) error) (registry.Version, error) {
	// The digest first: a damaged file would fail the parse with a misleading error.
	if got := sha256.Sum256(data); !strings.EqualFold(hex.EncodeToString(got[:]),
		meta.GetSha256()) {
		return registry.Version{}, fmt.Errorf("received %d bytes hashing to %x, "+
			"sender says %q: %w", len(data), got, meta.GetSha256(), registry.ErrCorrupt)
	}
	sig, err := upload.SignatureOf(data)
	if err != nil {
		if !errors.Is(err, registry.ErrInvalid) {
			err = fmt.Errorf("%w: %w", registry.ErrInvalid, err)
		}
		return registry.Version{}, fmt.Errorf("read the model's signature: %w", err)
	}
	if len(sig.Inputs) != 1 {
		return registry.Version{}, fmt.Errorf("%w: inputs_from_features needs a model "+
			"with one input; this one has %d", registry.ErrInvalid, len(sig.Inputs))
	}
	sig.Inputs[0].Features = meta.GetInputsFromFeatures()
	if servable != nil {
		if err := servable(meta.GetName(), sig); err != nil {
			return registry.Version{}, err
		}
	}

	req := registry.PublishRequest{Model: meta.GetName(), Description: meta.GetDescription(),
		Tags: meta.GetTags(), Signature: sig,
		Lineage: registry.Lineage{Generator: "hydrocast RegistryService.UploadModel"}}
	if meta.GetAlias() != "" {
		reason := "uploaded"
		if meta.GetFileName() != "" {
			reason += " " + meta.GetFileName()
		}
		req.Promote = &registry.Promotion{Alias: meta.GetAlias(), Reason: reason}
	}

	up, err := u.Begin(ctx, req)
	if err != nil {
		return registry.Version{}, err
	}
	if _, err := up.Write(data); err != nil {
		return registry.Version{}, err
	}
	return up.Finish(ctx, meta.GetSha256())
}

// statusOf translates a registry error to a status, the one place that does. Only
// errors about the request itself show their text; others may name paths.
func (s *Server) statusOf(err error) error {
	switch {
	case errors.Is(err, registry.ErrCorrupt):
		return status.Error(codes.InvalidArgument, "checksum mismatch: "+err.Error())
	case errors.Is(err, registry.ErrInvalid):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, registry.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, registry.ErrConflict):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	s.opts.Logger.Error("registry request failed", "err", err)
	return status.Error(codes.Internal, "registry error; see the server's log")
}

// ListModels lists every model with its aliases.
func (s *Server) ListModels(ctx context.Context,
	_ *hydrocastv1.ListModelsRequest) (*hydrocastv1.ListModelsResponse, error) {
	models, err := s.reg.Models(ctx)
	if err != nil {
		return nil, s.statusOf(err)
	}
	resp := &hydrocastv1.ListModelsResponse{}
	for _, m := range models {
		sum := &hydrocastv1.ModelSummary{Name: m.Name, Description: m.Description,
			LatestVersion: int64(m.Latest), Aliases: map[string]int64{}}
		for a, n := range m.Aliases {
			sum.Aliases[a] = int64(n)
		}
		resp.Models = append(resp.Models, sum)
	}
	return resp, nil
}

// GetVersion returns the version a number or alias names.
func (s *Server) GetVersion(ctx context.Context,
	req *hydrocastv1.GetVersionRequest) (*hydrocastv1.ModelVersion, error) {
	if req.GetModel() == "" || req.GetRef() == "" {
		return nil, status.Error(codes.InvalidArgument, "model and ref are both required")
	}
	v, err := s.reg.Resolve(ctx, req.GetModel(), req.GetRef())
	if err != nil {
		return nil, s.statusOf(err)
	}
	return VersionProto(v), nil
}
