package registryrpc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
)

// Client calls a RegistryService.
type Client struct {
	api hydrocastv1.RegistryServiceClient
}

// NewClient returns a client over conn.
func NewClient(conn grpc.ClientConnInterface) *Client {
	return &Client{api: hydrocastv1.NewRegistryServiceClient(conn)}
}

// Upload streams the model file r in chunks of MaxChunk bytes after meta, and
// returns the version the server published. When meta.Sha256 is empty it is
// computed from r first, which is read twice for that. The server's refusals come
// back as gRPC status errors.
func (c *Client) Upload(ctx context.Context, meta *hydrocastv1.UploadMetadata,
	r io.ReadSeeker) (*hydrocastv1.ModelVersion, error) {
	if meta.GetSha256() == "" {
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			return nil, fmt.Errorf("upload: hash the file: %w", err)
		}
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("upload: %w", err)
		}
		meta.Sha256 = hex.EncodeToString(h.Sum(nil))
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // a failed send abandons the stream, so nothing is published
	stream, err := c.api.UploadModel(ctx)
	if err != nil {
		return nil, err
	}
	first := &hydrocastv1.UploadChunk{Part: &hydrocastv1.UploadChunk_Metadata{Metadata: meta}}
	if err := stream.Send(first); err != nil {
		return nil, sendError(stream, err)
	}
	buf := make([]byte, MaxChunk)
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			msg := &hydrocastv1.UploadChunk{Part: &hydrocastv1.UploadChunk_Data{
				Data: buf[:n]}}
			if err := stream.Send(msg); err != nil {
				return nil, sendError(stream, err)
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("upload: read the file: %w", err)
		}
	}
	return stream.CloseAndRecv()
}

// sendError returns the server's status when a send failed because the server
// ended the stream, which Send reports as a bare io.EOF.
func sendError(stream hydrocastv1.RegistryService_UploadModelClient, err error) error {
	if errors.Is(err, io.EOF) {
		_, err = stream.CloseAndRecv()
	}
	return err
}

// Watch calls fn with every event of the registry's watch until ctx ends, fn
// returns an error, or the stream breaks.
func (c *Client) Watch(ctx context.Context, fn func(*hydrocastv1.RegistryEvent) error) error {
	stream, err := c.api.WatchRegistry(ctx, &hydrocastv1.WatchRequest{})
	if err != nil {
		return err
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			return err
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
}

// ListModels lists the registry's models.
func (c *Client) ListModels(ctx context.Context) ([]*hydrocastv1.ModelSummary, error) {
	resp, err := c.api.ListModels(ctx, &hydrocastv1.ListModelsRequest{})
	return resp.GetModels(), err
}

// GetVersion returns the version of model that ref, a number or an alias, names.
func (c *Client) GetVersion(ctx context.Context, model,
	ref string) (*hydrocastv1.ModelVersion, error) {
	return c.api.GetVersion(ctx, &hydrocastv1.GetVersionRequest{Model: model, Ref: ref})
}
