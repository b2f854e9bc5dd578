// Package vertex runs hydrocast training beyond one machine on Vertex AI: it submits
// a training job as a Vertex AI custom job running hydrocast's own container image,
// waits for it, and mirrors published model versions into the Vertex AI Model
// Registry.
package vertex

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	aiplatform "cloud.google.com/go/aiplatform/apiv1"
	"cloud.google.com/go/aiplatform/apiv1/aiplatformpb"
	"google.golang.org/api/option"
)

// ErrInvalid means the options miss a required field or carry an unusable one.
var ErrInvalid = errors.New("vertex: invalid options")

// ErrJobFailed means the custom job ended in a state other than succeeded.
var ErrJobFailed = errors.New("vertex: custom job did not succeed")

// Location names a project and region of Vertex AI.
type Location struct {
	Project string // Google Cloud project id. Required.
	Region  string // such as europe-west4. Required.
}

var (
	projectID = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	regionID  = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]$`)
)

func (l Location) check() error {
	if !projectID.MatchString(l.Project) {
		return fmt.Errorf("%w: project %q", ErrInvalid, l.Project)
	}
	if !regionID.MatchString(l.Region) {
		return fmt.Errorf("%w: region %q (want such as europe-west4)", ErrInvalid, l.Region)
	}
	return nil
}

// parent is the resource name of the location.
func (l Location) parent() string {
	return "projects/" + l.Project + "/locations/" + l.Region
}

// Endpoint returns the regional API endpoint of l, which Vertex AI requires.
func (l Location) Endpoint() string { return l.Region + "-aiplatform.googleapis.com:443" }

// JobSpec describes a training run as a custom job.
type JobSpec struct {
	Location
	// DisplayName names the job in the console; empty means "hydrocast-train".
	DisplayName string
	// Image is the container image, the one hydrocast ships. Required.
	Image string
	// Args are the container's arguments, such as ["train", "--config", …].
	// Required.
	Args []string
	// Env are environment variables of the container, such as the job file.
	Env map[string]string
	// OutputURI is the Cloud Storage folder (gs://…) for the job's outputs; Vertex
	// AI passes it to the container as AIP_MODEL_DIR and friends. Required.
	OutputURI string
	// MachineType is the worker's machine type; empty means "n2-standard-8".
	MachineType string
	// ServiceAccount runs the job; empty means the project's default.
	ServiceAccount string
	// Labels are attached to the job.
	Labels map[string]string
}

func (s JobSpec) check() error {
	if err := s.Location.check(); err != nil {
		return err
	}
	switch {
	case s.Image == "":
		return fmt.Errorf("%w: no container image", ErrInvalid)
	case len(s.Args) == 0:
		return fmt.Errorf("%w: no container arguments", ErrInvalid)
	case !strings.HasPrefix(s.OutputURI, "gs://") || len(s.OutputURI) <= len("gs://"):
		return fmt.Errorf("%w: output %q: want a gs:// folder", ErrInvalid, s.OutputURI)
	}
	return nil
}

// customJob returns the API's description of the job.
func (s JobSpec) customJob() *aiplatformpb.CustomJob {
	name, machine := s.DisplayName, s.MachineType
	if name == "" {
		name = "hydrocast-train"
	}
	if machine == "" {
		machine = "n2-standard-8"
	}
	container := &aiplatformpb.ContainerSpec{ImageUri: s.Image, Args: s.Args}
	for _, k := range sortedKeys(s.Env) {
		container.Env = append(container.Env, &aiplatformpb.EnvVar{Name: k, Value: s.Env[k]})
	}
	return &aiplatformpb.CustomJob{
		DisplayName: name,
		Labels:      s.Labels,
		JobSpec: &aiplatformpb.CustomJobSpec{
			WorkerPoolSpecs: []*aiplatformpb.WorkerPoolSpec{{
				Task:         &aiplatformpb.WorkerPoolSpec_ContainerSpec{ContainerSpec: container},
				MachineSpec:  &aiplatformpb.MachineSpec{MachineType: machine},
				ReplicaCount: 1,
			}},
			BaseOutputDirectory: &aiplatformpb.GcsDestination{OutputUriPrefix: s.OutputURI},
			ServiceAccount:      s.ServiceAccount,
		},
	}
}

// Client submits jobs and uploads models; it is safe for concurrent use.
type Client struct {
	jobs   *aiplatform.JobClient
	models *aiplatform.ModelClient
}

// NewClient connects to Vertex AI in loc's region; opts come after the regional
// endpoint, so a test may point it elsewhere.
func NewClient(ctx context.Context, loc Location, opts ...option.ClientOption) (*Client,
	error) {
	if err := loc.check(); err != nil {
		return nil, err
	}
	opts = append([]option.ClientOption{option.WithEndpoint(loc.Endpoint())}, opts...)
	jobs, err := aiplatform.NewJobClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("vertex job client: %w", err)
	}
	models, err := aiplatform.NewModelClient(ctx, opts...)
	if err != nil {
		jobs.Close()
		return nil, fmt.Errorf("vertex model client: %w", err)
	}
	return &Client{jobs: jobs, models: models}, nil
}

// Close closes the connections.
func (c *Client) Close() error {
	return errors.Join(c.jobs.Close(), c.models.Close())
}

// Submit creates the custom job and returns its resource name.
func (c *Client) Submit(ctx context.Context, spec JobSpec) (string, error) {
	if err := spec.check(); err != nil {
		return "", err
	}
	job, err := c.jobs.CreateCustomJob(ctx, &aiplatformpb.CreateCustomJobRequest{
		Parent: spec.parent(), CustomJob: spec.customJob()})
	if err != nil {
		return "", fmt.Errorf("create custom job: %w", err)
	}
	return job.GetName(), nil
}

// Wait polls the job every poll until it ends, calling state (when not nil) on each
// change of state, and fails with ErrJobFailed unless it succeeded.
func (c *Client) Wait(ctx context.Context, name string, poll time.Duration,
	state func(aiplatformpb.JobState)) error {
	last := aiplatformpb.JobState_JOB_STATE_UNSPECIFIED
	for {
		job, err := c.jobs.GetCustomJob(ctx, &aiplatformpb.GetCustomJobRequest{Name: name})
		if err != nil {
			return fmt.Errorf("get custom job %s: %w", name, err)
		}
		if s := job.GetState(); s != last && state != nil {
			state(s)
		}
		last = job.GetState()
		switch last {
		case aiplatformpb.JobState_JOB_STATE_SUCCEEDED:
			return nil
		case aiplatformpb.JobState_JOB_STATE_FAILED, aiplatformpb.JobState_JOB_STATE_CANCELLED,
			aiplatformpb.JobState_JOB_STATE_EXPIRED:
			return fmt.Errorf("%w: %s ended %s: %s", ErrJobFailed, name, last,
				job.GetError().GetMessage())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// ModelSpec describes a published hydrocast version to mirror into the Vertex AI
// Model Registry.
type ModelSpec struct {
	Location
	// DisplayName is the model's name in Vertex AI, such as "sweat-rate". Required.
	DisplayName string
	// Description says which hydrocast version this is.
	Description string
	// ArtifactURI is the Cloud Storage folder holding the ONNX file. Required.
	ArtifactURI string
	// ServingImage is the container that serves it, hydrocast's image. Required.
	ServingImage string
	// Labels carry the hydrocast version and digest, for tracing back.
	Labels map[string]string
}

// Mirror uploads spec into the Model Registry, waits for the operation and returns
// the model's resource name and version id.
func (c *Client) Mirror(ctx context.Context, spec ModelSpec) (model, version string,
	err error) {
	if err := spec.Location.check(); err != nil {
		return "", "", err
	}
	if spec.DisplayName == "" || spec.ServingImage == "" ||
		!strings.HasPrefix(spec.ArtifactURI, "gs://") {
		return "", "", fmt.Errorf("%w: model needs a name, a serving image and a gs:// "+
			"artifact folder", ErrInvalid)
	}
	op, err := c.models.UploadModel(ctx, &aiplatformpb.UploadModelRequest{
		Parent: spec.parent(),
		Model: &aiplatformpb.Model{
			DisplayName: spec.DisplayName, Description: spec.Description,
			ArtifactUri:   spec.ArtifactURI,
			ContainerSpec: &aiplatformpb.ModelContainerSpec{ImageUri: spec.ServingImage},
			Labels:        spec.Labels,
		},
	})
	if err != nil {
		return "", "", fmt.Errorf("upload model %s: %w", spec.DisplayName, err)
	}
	resp, err := op.Wait(ctx)
	if err != nil {
		return "", "", fmt.Errorf("upload model %s: %w", spec.DisplayName, err)
	}
	return resp.GetModel(), resp.GetModelVersionId(), nil
}

// sortedKeys returns m's keys in order, so that a job's description is stable.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
