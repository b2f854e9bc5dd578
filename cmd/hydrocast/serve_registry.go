package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/inference"
	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/registryrpc"
)

// apiExtras are what serve offers beside assessments: the registry over gRPC and
// the labels file that RecordOutcome appends to. A nil field leaves its part out:
// without a registry RegistryService is not registered, without labels
// RecordOutcome answers UNAVAILABLE.
type apiExtras struct {
	registry *registry.Registry
	labels   *inference.OutcomeLog
}

// registerServices registers hydrocast.v1's services on gs: HydrocastService,
// srv's ingest and assessments with RecordOutcome, and RegistryService.
func registerServices(gs *grpc.Server, srv *inference.Server, x apiExtras,
	log *slog.Logger) {
	hydrocastv1.RegisterHydrocastServiceServer(gs,
		&inference.OutcomeService{Server: srv, Labels: x.labels})
	if x.registry != nil {
		registryrpc.NewServer(x.registry, registryrpc.Options{Logger: log,
			Servable: inference.CheckServable}).Register(gs)
	}
}

// openLabels opens <home>/labels/labels.jsonl, creating it when needed, for
// RecordOutcome to append to.
func openLabels(home string) (*inference.OutcomeLog, error) {
	return inference.OpenOutcomeLog(labelsPath(home))
}

// labelsPath is where RecordOutcome keeps labels under the state folder.
func labelsPath(home string) string {
	return filepath.Join(home, filepath.FromSlash(inference.LabelsFile))
}

// uploadRemote streams the model file at path to the RegistryService at addr.
func uploadRemote(ctx context.Context, addr string, u *uploadFlags,
	path string) (registry.Version, error) {
	f, err := os.Open(path)
	if err != nil {
		return registry.Version{}, err
	}
	defer f.Close()
	conn, err := u.client.dial(addr)
	if err != nil {
		return registry.Version{}, fmt.Errorf("--server %s: %w", addr, err)
	}
	defer conn.Close()

	meta := &hydrocastv1.UploadMetadata{Name: u.name, InputsFromFeatures: u.features,
		Alias: u.alias, Description: u.description, FileName: filepath.Base(path)}
	v, err := registryrpc.NewClient(conn).Upload(ctx, meta, f)
	if s, ok := status.FromError(err); ok && err != nil {
		return registry.Version{}, fmt.Errorf("upload to %s refused (%s): %s", addr,
			s.Code(), s.Message())
	}
	if err != nil {
		return registry.Version{}, fmt.Errorf("upload to %s: %w", addr, err)
	}
	return registryrpc.VersionFromProto(v), nil
}
