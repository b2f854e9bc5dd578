package vertex

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/aiplatform/apiv1/aiplatformpb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/api/option"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/anypb"
)

// fakeVertex implements the Vertex AI methods the package uses: a custom job runs
// through pending and running to final, and a model upload finishes on the first
// poll of its operation.
type fakeVertex struct {
	aiplatformpb.UnimplementedJobServiceServer
	aiplatformpb.UnimplementedModelServiceServer
	longrunningpb.UnimplementedOperationsServer

	final aiplatformpb.JobState

	mu       sync.Mutex
	created  []*aiplatformpb.CreateCustomJobRequest
	gets     int
	uploaded []*aiplatformpb.UploadModelRequest
}

func (f *fakeVertex) CreateCustomJob(_ context.Context,
	req *aiplatformpb.CreateCustomJobRequest) (*aiplatformpb.CustomJob, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, req)
	job := req.GetCustomJob()
	job.Name = req.GetParent() + "/customJobs/42"
	job.State = aiplatformpb.JobState_JOB_STATE_PENDING
	return job, nil
}

func (f *fakeVertex) GetCustomJob(_ context.Context,
	req *aiplatformpb.GetCustomJobRequest) (*aiplatformpb.CustomJob, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	job := &aiplatformpb.CustomJob{Name: req.GetName(),
		State: aiplatformpb.JobState_JOB_STATE_RUNNING}
	if f.gets >= 3 {
		job.State = f.final
		if f.final != aiplatformpb.JobState_JOB_STATE_SUCCEEDED {
			job.Error = &status.Status{Message: "out of memory"}
		}
	}
	return job, nil
}

func (f *fakeVertex) UploadModel(_ context.Context,
	req *aiplatformpb.UploadModelRequest) (*longrunningpb.Operation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.uploaded = append(f.uploaded, req)
	return &longrunningpb.Operation{Name: req.GetParent() + "/operations/7"}, nil
}

func (f *fakeVertex) GetOperation(_ context.Context,
	req *longrunningpb.GetOperationRequest) (*longrunningpb.Operation, error) {
	resp, err := anypb.New(&aiplatformpb.UploadModelResponse{
		Model: "projects/hydro-test/locations/europe-west4/models/9", ModelVersionId: "3"})
	if err != nil {
		return nil, err
	}
	return &longrunningpb.Operation{Name: req.GetName(), Done: true,
		Result: &longrunningpb.Operation_Response{Response: resp}}, nil
}

// start serves f on a local port and returns a client connected to it.
func start(t *testing.T, f *fakeVertex) *Client {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	aiplatformpb.RegisterJobServiceServer(srv, f)
	aiplatformpb.RegisterModelServiceServer(srv, f)
	longrunningpb.RegisterOperationsServer(srv, f)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)

	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(t.Context(), testLocation, option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var testLocation = Location{Project: "hydro-test", Region: "europe-west4"}

func testSpec() JobSpec {
	return JobSpec{Location: testLocation, Image: "europe-docker.pkg.dev/h/hydrocast:1.4",
		Args:      []string{"train", "--config", "env:HYDROCAST_TRAIN_CONFIG"},
		Env:       map[string]string{"HYDROCAST_TRAIN_CONFIG": "seed: 3\n", "A": "1"},
		OutputURI: "gs://hydro-runs/nightly"}
}

func TestSubmitAndWait(t *testing.T) {
	f := &fakeVertex{final: aiplatformpb.JobState_JOB_STATE_SUCCEEDED}
	c := start(t, f)
	name, err := c.Submit(t.Context(), testSpec())
	if err != nil {
		t.Fatal(err)
	}
	if name != "projects/hydro-test/locations/europe-west4/customJobs/42" {
		t.Errorf("job name %q", name)
	}
	req := f.created[0]
	pool := req.GetCustomJob().GetJobSpec().GetWorkerPoolSpecs()[0]
	cs := pool.GetContainerSpec()
	if cs.GetImageUri() != testSpec().Image || !slices.Equal(cs.GetArgs(), testSpec().Args) ||
		len(cs.GetEnv()) != 2 || cs.GetEnv()[0].GetName() != "A" ||
		pool.GetReplicaCount() != 1 || pool.GetMachineSpec().GetMachineType() == "" {
		t.Errorf("worker pool %v", pool)
	}
	if out := req.GetCustomJob().GetJobSpec().GetBaseOutputDirectory(); out.GetOutputUriPrefix() !=
		"gs://hydro-runs/nightly" {
		t.Errorf("output %v", out)
	}

	var states []aiplatformpb.JobState
	err = c.Wait(t.Context(), name, time.Millisecond, func(s aiplatformpb.JobState) {
		states = append(states, s)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []aiplatformpb.JobState{aiplatformpb.JobState_JOB_STATE_RUNNING,
		aiplatformpb.JobState_JOB_STATE_SUCCEEDED}
	if !slices.Equal(states, want) {
		t.Errorf("states %v, want %v", states, want)
	}
}

func TestWaitReportsFailure(t *testing.T) {
	f := &fakeVertex{final: aiplatformpb.JobState_JOB_STATE_FAILED}
	c := start(t, f)
	err := c.Wait(t.Context(), "projects/hydro-test/locations/europe-west4/customJobs/1",
		time.Millisecond, nil)
	if !errors.Is(err, ErrJobFailed) {
		t.Errorf("error %v, want ErrJobFailed", err)
	}
}

func TestMirror(t *testing.T) {
	f := &fakeVertex{}
	c := start(t, f)
	model, version, err := c.Mirror(t.Context(), ModelSpec{Location: testLocation,
		DisplayName: "sweat-rate", ArtifactURI: "gs://hydro-registry/sha256/ab/",
		ServingImage: "europe-docker.pkg.dev/h/hydrocast:1.4",
		Labels:       map[string]string{"hydrocast_version": "4"}})
	if err != nil {
		t.Fatal(err)
	}
	if model != "projects/hydro-test/locations/europe-west4/models/9" || version != "3" {
		t.Errorf("model %q version %q", model, version)
	}
	m := f.uploaded[0].GetModel()
	if m.GetDisplayName() != "sweat-rate" || m.GetArtifactUri() !=
		"gs://hydro-registry/sha256/ab/" || m.GetLabels()["hydrocast_version"] != "4" {
		t.Errorf("uploaded %v", m)
	}
}

func TestOptionsRefused(t *testing.T) {
	c := &Client{}
	bad := []JobSpec{
		func() JobSpec { s := testSpec(); s.Region = "mars"; return s }(),
		func() JobSpec { s := testSpec(); s.Image = ""; return s }(),
		func() JobSpec { s := testSpec(); s.OutputURI = "/tmp/out"; return s }(),
		func() JobSpec { s := testSpec(); s.Args = nil; return s }(),
	}
	for _, s := range bad {
		if _, err := c.Submit(t.Context(), s); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: error %v, want ErrInvalid", s, err)
		}
	}
}
