package deploy

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// No Docker engine runs where the tests do, so the image cannot be built here. These
// tests parse the Dockerfile with BuildKit's own parser, which is what `docker build`
// runs first, and check the properties the deployment relies on.

func TestDockerfile(t *testing.T) {
	src, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	problems, err := dockerfileProblems(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestDockerfileChecksFire shows that each rule fails a Dockerfile that breaks it.
func TestDockerfileChecksFire(t *testing.T) {
	good, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, old, new, want string
	}{
		{"latest base", "FROM node:24-${DEBIAN_RELEASE}-slim", "FROM node:latest",
			"latest tag"},
		{"untagged base", "FROM gcr.io/distroless/cc-debian12:nonroot",
			"FROM gcr.io/distroless/cc-debian12", "no tag"},
		{"root user", "USER 65532:65532", "USER root", "numeric non-root"},
		{"no healthcheck", "HEALTHCHECK --interval", "# HEALTHCHECK --interval",
			"no HEALTHCHECK"},
		{"no ort env", "ENV HYDROCAST_ORT_LIB=", "ENV HYDROCAST_ORT_LIBRARY=",
			"HYDROCAST_ORT_LIB"},
		{"unexposed port", "EXPOSE 8470 8471", "EXPOSE 8470", "8471"},
		{"no trimpath", "go build -trimpath", "go build", "-trimpath"},
		{"no version", "-X main.version=${VERSION}", "", "main.version"},
		{"unknown stage", "COPY --from=ort ", "COPY --from=onnx ", "onnx"},
		{"lint rule", "AS build", "as build", "FromAsCasing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !bytes.Contains(good, []byte(c.old)) {
				t.Fatalf("the Dockerfile holds no %q to change", c.old)
			}
			bad := bytes.Replace(good, []byte(c.old), []byte(c.new), 1)
			problems, err := dockerfileProblems(bad)
			if err != nil {
				t.Fatal(err)
			}
			if !anyContains(problems, c.want) {
				t.Errorf("problems %q, want one about %q", problems, c.want)
			}
		})
	}
}

// dockerfileProblems parses a Dockerfile and lists what breaks the image's rules; the
// error is for a file BuildKit itself refuses.
func dockerfileProblems(src []byte) ([]string, error) {
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("parse Dockerfile: %w", err)
	}
	var out []string
	for _, w := range res.Warnings {
		out = append(out, "parser warning: "+w.Short)
	}
	lint := linter.New(&linter.Config{
		Warn: func(rule, _, _, msg string, _ []parser.Range) {
			out = append(out, fmt.Sprintf("lint %s: %s", rule, msg))
		},
	})
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		return nil, fmt.Errorf("parse Dockerfile instructions: %w", err)
	}
	if len(stages) < 2 {
		return append(out, "not a multi-stage build"), nil
	}

	out = append(out, baseImageProblems(stages, metaArgs)...)
	out = append(out, buildProblems(stages)...)
	out = append(out, runtimeProblems(stages[len(stages)-1])...)
	return out, nil
}

// baseImageProblems pins every base image and checks that COPY --from names an
// earlier stage.
func baseImageProblems(stages []instructions.Stage, metaArgs []instructions.ArgCommand) []string {
	defaults := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				defaults[kv.Key] = *kv.Value
			}
		}
	}

	var out []string
	var earlier []string
	for _, s := range stages {
		base := os.Expand(s.BaseName, func(k string) string { return defaults[k] })
		if !slices.Contains(earlier, base) {
			if p := imageProblem(base); p != "" {
				out = append(out, "stage "+s.Name+": base "+p)
			}
		}
		for _, c := range s.Commands {
			cp, ok := c.(*instructions.CopyCommand)
			if ok && cp.From != "" && !slices.Contains(earlier, cp.From) {
				out = append(out, fmt.Sprintf("stage %s copies from %q, not an earlier stage",
					s.Name, cp.From))
			}
		}
		earlier = append(earlier, s.Name)
	}
	return out
}

// buildProblems checks how hydrocast is compiled and where its runtime comes from.
func buildProblems(stages []instructions.Stage) []string {
	var runs []string
	for _, s := range stages {
		for _, c := range s.Commands {
			if r, ok := c.(*instructions.RunCommand); ok {
				runs = append(runs, strings.Join(r.CmdLine, " "))
			}
		}
	}
	var out []string
	need := []struct{ pattern, why string }{
		{`go build .*-trimpath.* \./cmd/hydrocast`, "hydrocast is not built with -trimpath"},
		{`-X main\.version=\$\{VERSION\}`, "the build does not set main.version"},
		{`go install .*grpc-health-probe@`, "grpc-health-probe is not built"},
		{`scripts/setup-ort\.sh`, "ONNX Runtime is not fetched with setup-ort.sh"},
	}
	for _, n := range need {
		re := regexp.MustCompile(n.pattern)
		if !slices.ContainsFunc(runs, re.MatchString) {
			out = append(out, n.why)
		}
	}
	return out
}

// runtimeProblems checks the final stage: unprivileged, health-checked, with the ONNX
// Runtime library where HYDROCAST_ORT_LIB says.
func runtimeProblems(s instructions.Stage) []string {
	var out []string
	var user, ortLib string
	var health *instructions.HealthCheckCommand
	var copied, exposed []string
	for _, c := range s.Commands {
		switch v := c.(type) {
		case *instructions.UserCommand:
			user = v.User
		case *instructions.HealthCheckCommand:
			health = v
		case *instructions.EnvCommand:
			for _, kv := range v.Env {
				if kv.Key == "HYDROCAST_ORT_LIB" {
					ortLib = kv.Value
				}
			}
		case *instructions.CopyCommand:
			copied = append(copied, v.DestPath)
		case *instructions.ExposeCommand:
			exposed = append(exposed, v.Ports...)
		}
	}

	// Kubernetes can only verify runAsNonRoot against a numeric user.
	uid, _, _ := strings.Cut(user, ":")
	if !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(uid) {
		out = append(out, fmt.Sprintf("final USER %q is not a numeric non-root UID", user))
	}

	switch {
	case health == nil:
		out = append(out, "no HEALTHCHECK in the final stage")
	case len(health.Health.Test) < 2 || health.Health.Test[0] != "CMD" ||
		!strings.HasSuffix(health.Health.Test[1], "grpc-health-probe") ||
		!slices.ContainsFunc(health.Health.Test, func(a string) bool {
			return strings.HasPrefix(a, "-addr=") && strings.HasSuffix(a, ":8470")
		}):
		out = append(out, fmt.Sprintf("HEALTHCHECK %q does not probe gRPC health on 8470",
			health.Health.Test))
	}

	if ortLib == "" {
		out = append(out, "HYDROCAST_ORT_LIB is not set in the final stage")
	} else if !slices.Contains(copied, ortLib) {
		out = append(out, "nothing is copied to HYDROCAST_ORT_LIB "+ortLib)
	}

	for _, port := range []string{"8470", "8471"} {
		if !slices.Contains(exposed, port) {
			out = append(out, "port "+port+" is not exposed")
		}
	}
	return out
}
