package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/aiplatform/apiv1/aiplatformpb"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hydrocast/hydrocast/registry/blobstore"
	"github.com/hydrocast/hydrocast/training"
	"github.com/hydrocast/hydrocast/training/vertex"
)

// jobConfigEnv carries the job file to a container on Vertex AI.
const jobConfigEnv = "HYDROCAST_TRAIN_CONFIG"

// vertexFlags configure --on vertex and the mirroring of published versions.
type vertexFlags struct {
	loc            vertex.Location
	image          string
	output         string
	machineType    string
	serviceAccount string
	wait           bool
	mirror         string // gs:// prefix of the registry's artifact bucket
}

func (v *vertexFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&v.loc.Project, "vertex-project", "", "Google Cloud project of Vertex AI")
	fl.StringVar(&v.loc.Region, "vertex-region", "", "Vertex AI region, such as europe-west4")
	fl.StringVar(&v.image, "vertex-image", "", "hydrocast container image the job runs "+
		"and the mirrored models are served with")
	fl.StringVar(&v.output, "vertex-output", "", "gs:// folder for the job's outputs "+
		"(the run record goes there)")
	fl.StringVar(&v.machineType, "vertex-machine-type", "", "worker machine type "+
		"(default n2-standard-8)")
	fl.StringVar(&v.serviceAccount, "vertex-service-account", "", "service account the "+
		"job runs as (default: the project's)")
	fl.BoolVar(&v.wait, "vertex-wait", false, "wait for the Vertex AI job to finish")
	fl.StringVar(&v.mirror, "vertex-mirror-artifacts", "", "gs:// location of the "+
		"registry's artifact bucket: mirror each published version into the Vertex AI "+
		"Model Registry")
}

// vertexArgs returns the container arguments that rerun this command there: the job
// file through the environment, the flags the user set, and the run record in the
// job's output folder (mounted under /gcs by Cloud Storage FUSE).
func vertexArgs(cmd *cobra.Command, f *trainFlags, g *globals) []string {
	args := []string{"train"}
	if f.config != "" {
		args = append(args, "--config", "env:"+jobConfigEnv)
	}
	for _, name := range []string{"data", "seed", "test-share", "publish-alias", "dry-run",
		"workers"} {
		if fl := cmd.Flags().Lookup(name); fl != nil && fl.Changed {
			args = append(args, "--"+name, fl.Value.String())
		}
	}
	for _, fam := range f.families {
		args = append(args, "--family", fam)
	}
	for _, gate := range f.gates {
		args = append(args, "--gate", gate)
	}
	if g.registry != "" {
		args = append(args, "--registry", g.registry)
	}
	if f.vertex.mirror != "" {
		args = append(args, "--vertex-mirror-artifacts", f.vertex.mirror,
			"--vertex-project", f.vertex.loc.Project, "--vertex-region", f.vertex.loc.Region,
			"--vertex-image", f.vertex.image)
	}
	return append(args, "--record", "/gcs/"+strings.TrimPrefix(f.vertex.output, "gs://")+
		"/run-record.json")
}

// submitVertex submits the training job to Vertex AI, and waits for it when asked.
func submitVertex(ctx context.Context, cmd *cobra.Command, f *trainFlags, g *globals,
	stdout io.Writer) error {
	spec := vertex.JobSpec{Location: f.vertex.loc, Image: f.vertex.image,
		Args: vertexArgs(cmd, f, g), OutputURI: f.vertex.output,
		MachineType: f.vertex.machineType, ServiceAccount: f.vertex.serviceAccount,
		Labels: map[string]string{"app": "hydrocast", "seed": strconv.FormatUint(
			f.opts.Seed, 10)}}
	if f.config != "" {
		data, err := os.ReadFile(f.config)
		if err != nil {
			return fmt.Errorf("--config: %w", err)
		}
		spec.Env = map[string]string{jobConfigEnv: string(data)}
	}
	c, err := vertex.NewClient(ctx, f.vertex.loc)
	if err != nil {
		return fmt.Errorf("--vertex-project/--vertex-region: %w", err)
	}
	defer c.Close()
	name, err := c.Submit(ctx, spec)
	if errors.Is(err, vertex.ErrInvalid) {
		return fmt.Errorf("--vertex-*: %w", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "submitted Vertex AI custom job %s\n", name)
	if !f.vertex.wait {
		return nil
	}
	return c.Wait(ctx, name, 30*time.Second, func(s aiplatformpb.JobState) {
		fmt.Fprintf(stdout, "job %s\n", strings.TrimPrefix(s.String(), "JOB_STATE_"))
	})
}

// mirrorVertex registers each published version of rep in the Vertex AI Model
// Registry, pointing at the folder of its artifact in the registry's bucket.
func mirrorVertex(ctx context.Context, f *trainFlags, rep *training.Report,
	stdout io.Writer) error {
	c, err := vertex.NewClient(ctx, f.vertex.loc)
	if err != nil {
		return fmt.Errorf("--vertex-project/--vertex-region: %w", err)
	}
	defer c.Close()
	for _, fr := range rep.Families {
		if fr.Version == 0 || fr.Refused {
			continue
		}
		dir := path.Dir(blobstore.Key(fr.ONNXSHA256))
		model, version, err := c.Mirror(ctx, vertex.ModelSpec{Location: f.vertex.loc,
			DisplayName: fr.Family, ArtifactURI: strings.TrimSuffix(f.vertex.mirror, "/") +
				"/" + dir + "/",
			Description:  fmt.Sprintf("hydrocast %s v%d (%s)", fr.Family, fr.Version, rep.RunID),
			ServingImage: f.vertex.image,
			Labels: map[string]string{"hydrocast_version": strconv.Itoa(fr.Version),
				"sha256_prefix": fr.ONNXSHA256[:16]}})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "mirrored %s v%d to %s version %s\n", fr.Family, fr.Version,
			model, version)
	}
	return nil
}
