package deploy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// missingCommands are the hydrocast commands the manifests run that the binary does
// not have yet. A container running one is expected to be refused; when the command
// appears, this test fails until it is removed from here.
var missingCommands = []string{}

// TestManifestsRunTheBinary builds hydrocast and asks it to parse the command line of
// every container that runs it, in every environment: a flag or command the binary
// lacks fails here rather than in a crash-looping pod.
func TestManifestsRunTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the hydrocast binary")
	}
	bin := filepath.Join(t.TempDir(), "hydrocast")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "../cmd/hydrocast")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build hydrocast: %v\n%s", err, out)
	}

	for _, env := range environments {
		for _, c := range hydrocastContainers(objects(render(t, env))) {
			t.Run(env.name+"/"+c.owner, func(t *testing.T) {
				if len(c.args) == 0 {
					t.Fatal("runs hydrocast without a command")
				}
				// --help parses every flag and runs nothing; an unknown flag or command
				// is an error.
				cmd := exec.CommandContext(ctx, bin, append(slices.Clone(c.args), "--help")...)
				cmd.Env = append(os.Environ(), "HYDROCAST_HOME="+t.TempDir())
				out, err := cmd.CombinedOutput()
				missing := slices.Contains(missingCommands, c.args[0])
				switch {
				case err != nil && !missing:
					t.Errorf("hydrocast %s: %v\n%s", strings.Join(c.args, " "), err, out)
				case err == nil && missing:
					t.Errorf("hydrocast %s now exists: remove it from missingCommands",
						c.args[0])
				}
			})
		}
	}
}

// container is a container that runs the hydrocast image.
type container struct {
	owner string // kind/name of the workload
	args  []string
}

func hydrocastContainers(objs []runtime.Object) []container {
	var out []container
	add := func(owner string, spec corev1.PodSpec) {
		for _, c := range spec.Containers {
			if strings.Contains(c.Image, "hydrocast") && !strings.Contains(c.Image, "redis") {
				out = append(out, container{owner: owner + "/" + c.Name, args: c.Args})
			}
		}
	}
	for _, o := range objs {
		switch w := o.(type) {
		case *appsv1.Deployment:
			add("Deployment/"+w.Name, w.Spec.Template.Spec)
		case *batchv1.CronJob:
			add("CronJob/"+w.Name, w.Spec.JobTemplate.Spec.Template.Spec)
		}
	}
	return out
}
