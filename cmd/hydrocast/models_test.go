package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hydrocast/hydrocast/features"
	"github.com/hydrocast/hydrocast/models/onnxgraph"
	"github.com/hydrocast/hydrocast/registry"
)

// TestMain runs the command itself when the test binary is started with "models" as
// its first argument: that is how an upload's trial child re-executes the running
// binary, and how TestModelsExitStatus runs the command as a script would.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "models" {
		main()
		os.Exit(0)
	}
	code := m.Run()
	if fixture.home != "" {
		os.RemoveAll(fixture.home)
	}
	os.Exit(code)
}

// cli runs hydrocast in this process with a state folder of its own and returns
// what it printed on stdout.
type cli struct {
	t    *testing.T
	home string
}

func newCLI(t *testing.T) *cli {
	t.Setenv("HYDROCAST_REGISTRY", "")
	return &cli{t: t, home: t.TempDir()}
}

func (c *cli) run(args ...string) (string, error) {
	c.t.Helper()
	root := newRootCommand()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"--home", c.home}, args...))
	err := root.ExecuteContext(c.t.Context())
	return out.String(), err
}

func (c *cli) must(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("hydrocast %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// modelFile writes a three-feature linear model, with opType replacing the
// operator of its last node when not empty, and returns its path.
func modelFile(t *testing.T, opType string) string {
	t.Helper()
	b, err := onnxgraph.StandardizedLinear(onnxgraph.LinearSpec{
		Name: "sweat-rate", Mean: []float32{140, 34, 50}, Scale: []float32{20, 1, 15},
		// The sweat-rate family's three outputs: the rate and its interval's bounds.
		Weights: []float32{0.3, 0.3, 0.3, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05},
		Bias:    []float32{1.1, 0.7, 1.5},
		Outputs: []string{"sweat_rate_l_per_h", "sweat_rate_lower_l_per_h",
			"sweat_rate_upper_l_per_h"},
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := b.Model()
	if err != nil {
		t.Fatal(err)
	}
	if opType != "" {
		m.Graph.Node[len(m.Graph.Node)-1].OpType = opType
	}
	data, err := onnxgraph.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sweat.onnx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// oneOutputModel writes a linear model with the sweat rate alone, no interval.
func oneOutputModel(t *testing.T) string {
	t.Helper()
	b, err := onnxgraph.StandardizedLinear(onnxgraph.LinearSpec{
		Name: "sweat-rate", Mean: []float32{140, 34, 50}, Scale: []float32{20, 1, 15},
		Weights: []float32{0.3, 0.1, 0.05}, Bias: []float32{1.1},
		Outputs: []string{"sweat_rate_l_per_h"},
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "one-output.onnx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const featureList = "heart_rate_bpm_mean_15m,skin_temp_c_mean_15m,humidity_pct_last"

func TestModelsWorkflow(t *testing.T) {
	c := newCLI(t)
	model := modelFile(t, "")

	out := c.must("models", "upload", model, "--name", "sweat-rate", "--as", "tester",
		"--inputs-from-features", featureList, "--alias", "staging", "--description", "v1")
	if !strings.HasPrefix(out, "sweat-rate version 1 is ready (sha256:") {
		t.Errorf("upload printed %q", out)
	}
	if out := c.must("models", "list"); !strings.Contains(out, "sweat-rate  1       staging=1") {
		t.Errorf("list:\n%s", out)
	}

	out = c.must("models", "show", "sweat-rate", "--alias", "staging")
	for _, want := range []string{"version:   1", "status:    ready",
		"features                  FP32  [-1 3]  " + featureList} {
		if !strings.Contains(out, want) {
			t.Errorf("show --alias staging lacks %q:\n%s", want, out)
		}
	}

	steps := [][]string{
		{"models", "alias", "set", "sweat-rate", "production", "1", "--reason", "first"},
		{"models", "upload", model, "--name", "sweat-rate", "--inputs-from-features",
			featureList, "--alias", "production"},
		{"models", "rollback", "sweat-rate", "--reason", "latency regression"},
	}
	for _, s := range steps {
		c.must(append(s, "--as", "tester")...)
	}

	var v registry.Version
	decode(t, c.must("models", "show", "sweat-rate", "--alias", "production", "--json"), &v)
	if v.Number != 1 {
		t.Errorf("production is version %d after the rollback, want 1", v.Number)
	}
	var events []registry.AliasEvent
	decode(t, c.must("models", "history", "sweat-rate", "--alias", "production", "--json"),
		&events)
	if len(events) != 3 || !events[0].Rollback || events[0].Reason != "latency regression" ||
		events[0].Principal != "tester" || events[0].From != 2 || events[0].To != 1 {
		t.Errorf("production history %+v, want the rollback from 2 to 1 by tester first",
			events)
	}
}

func decode(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
}

func TestModelsRefusals(t *testing.T) {
	c := newCLI(t)
	c.must("models", "upload", modelFile(t, ""), "--name", "sweat-rate",
		"--inputs-from-features", featureList)

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"show unknown model", []string{"show", "core-temp"},
			`no model named "core-temp"`},
		{"show unknown alias", []string{"show", "sweat-rate", "--alias", "production"},
			`model sweat-rate has no alias "production"`},
		{"show unknown version", []string{"show", "sweat-rate", "--version", "9"},
			"model sweat-rate has no version 9 (latest is 1)"},
		{"card of an uploaded version", []string{"show", "sweat-rate", "--version", "1",
			"--card"}, "sweat-rate version 1 has no model card (hydrocast models upload made it)"},
		{"card of no version", []string{"show", "sweat-rate", "--card"},
			"--card shows one version's card: give --version or --alias"},
		{"alias to unknown version", []string{"alias", "set", "sweat-rate", "production",
			"9", "--reason", "x"}, "model sweat-rate has no version 9"},
		{"alias without reason", []string{"alias", "set", "sweat-rate", "production", "1"},
			`"reason" not set`},
		{"rollback without history", []string{"rollback", "sweat-rate", "--reason", "x"},
			`model sweat-rate has no alias "production"`},
		{"rollback of unknown model", []string{"rollback", "core-temp", "--reason", "x"},
			`no model named "core-temp"`},
		{"alias of unknown model", []string{"alias", "set", "core-temp", "production",
			"1", "--reason", "x"}, `no model named "core-temp"`},
		{"upload with too few features", []string{"upload", modelFile(t, ""), "--name",
			"sweat-rate", "--inputs-from-features", "wbgt_c,psi"},
			"2 features but the last dimension is 3"},
		{"upload reading unknown features", []string{"upload", modelFile(t, ""), "--name",
			"sweat-rate", "--inputs-from-features", "a,wbgt_c,humidity_pct"},
			`unknown feature "a", "humidity_pct"`},
		{"upload of a family model without its outputs", []string{"upload",
			oneOutputModel(t), "--name", "sweat-rate", "--inputs-from-features", featureList},
			`no output "sweat_rate_lower_l_per_h"`},
		{"upload failing its trial", []string{"upload", modelFile(t, "NoSuchOperator"),
			"--name", "sweat-rate", "--inputs-from-features", featureList},
			"model failed to load"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.run(append([]string{"models"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}

	// The failed trial leaves a failed version, visible with its reason.
	var v registry.Version
	decode(t, c.must("models", "show", "sweat-rate", "--version", "2", "--json"), &v)
	if v.Status != registry.StatusFailed || !strings.Contains(v.StatusReason, "NoSuchOperator") {
		t.Errorf("version 2 is %s because %q, want failed naming the operator", v.Status,
			v.StatusReason)
	}
}

// TestModelsExitStatus runs the command as the demo script does, in a process of
// its own, and checks the exit status it branches on.
func TestModelsExitStatus(t *testing.T) {
	c := newCLI(t)
	c.must("models", "upload", modelFile(t, ""), "--name", "sweat-rate",
		"--inputs-from-features", featureList, "--alias", "production")

	tests := []struct {
		alias string
		code  int
	}{
		{"production", 0},
		{"canary", 1},
	}
	for _, tt := range tests {
		t.Run(tt.alias, func(t *testing.T) {
			exe, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.CommandContext(t.Context(), exe, "models", "show", "sweat-rate",
				"--alias", tt.alias, "--home", c.home)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err = cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Errorf("exit status %d, want %d (stderr %q)", code, tt.code, stderr.String())
			}
			if tt.code != 0 && !strings.Contains(stderr.String(), "has no alias") {
				t.Errorf("stderr %q does not say what is missing", stderr.String())
			}
		})
	}
}

func TestModelsTable(t *testing.T) {
	c := newCLI(t)
	if out := c.must("models", "list"); strings.TrimSpace(out) !=
		"MODEL  LATEST  ALIASES  DESCRIPTION" {
		t.Errorf("empty registry lists %q", out)
	}
	var models []registry.Model
	decode(t, c.must("models", "list", "--json"), &models)
	if models == nil || len(models) != 0 {
		t.Errorf("empty registry lists %v in JSON, want []", models)
	}
}

func TestModelsTraffic(t *testing.T) {
	c := newCLI(t)
	model := modelFile(t, "")
	for range 3 {
		c.must("models", "upload", model, "--name", "sweat-rate", "--inputs-from-features",
			featureList, "--alias", "production")
	}

	// Without a policy, production serves everything.
	out := c.must("models", "traffic", "show", "sweat-rate")
	if !strings.Contains(out, "policy:      none") ||
		!strings.Contains(strings.Join(strings.Fields(out), " "), "3 100.0 % production") {
		t.Errorf("show without a policy:\n%s", out)
	}

	out = c.must("models", "traffic", "set", "sweat-rate", "--split", "2=90,1=10",
		"--shadow", "3", "--salt", "exp-cli", "--reason", "try v1 again", "--as", "tester")
	if out != "sweat-rate traffic: 1=10,2=90 shadow 3 salt exp-cli\n" {
		t.Errorf("set printed %q", out)
	}
	var view trafficView
	decode(t, c.must("models", "traffic", "show", "sweat-rate", "--output", "json"), &view)
	if view.Policy == nil || view.Policy.Salt != "exp-cli" || view.Shadow != 3 ||
		len(view.Serves) != 2 || view.Serves[1].Version != 2 || view.Serves[1].Share != 0.9 ||
		view.Policy.Principal != "tester" || view.Policy.Reason != "try v1 again" {
		t.Errorf("show --output json: %+v", view)
	}
	// Under a policy the table still says which arm production is.
	out = strings.Join(strings.Fields(c.must("models", "traffic", "show", "sweat-rate")),
		" ")
	if !strings.Contains(out, "1 10.0 % 2 90.0 % 3 shadow production") {
		t.Errorf("show under a policy, the arms and production's alias:\n%s", out)
	}

	// A new split without --salt keeps the experiment.
	c.must("models", "traffic", "set", "sweat-rate", "--split", "1=0.5,2=0.5",
		"--reason", "even")
	view = trafficView{}
	decode(t, c.must("models", "traffic", "show", "sweat-rate", "--json"), &view)
	if view.Policy.Salt != "exp-cli" || view.Shadow != 0 {
		t.Errorf("after re-split: salt %q shadow %d, want exp-cli kept, no shadow",
			view.Policy.Salt, view.Shadow)
	}

	c.must("models", "traffic", "clear", "sweat-rate", "--reason", "done")
	var events []registry.TrafficEvent
	decode(t, c.must("models", "traffic", "history", "sweat-rate", "--json"), &events)
	if len(events) != 3 || events[0].Policy != nil || events[0].Reason != "done" ||
		events[2].Policy == nil || events[2].Principal != "tester" {
		t.Errorf("history %+v: want clear, re-split, first set by tester", events)
	}
}

func TestModelsTrafficRefusals(t *testing.T) {
	c := newCLI(t)
	c.must("models", "upload", modelFile(t, ""), "--name", "sweat-rate",
		"--inputs-from-features", featureList)
	c.run("models", "upload", modelFile(t, "NoSuchOperator"), "--name", "sweat-rate",
		"--inputs-from-features", featureList) // version 2 fails its trial

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"malformed split", []string{"set", "sweat-rate", "--split", "1:100", "--reason",
			"x"}, `--split: registry: invalid request: split "1:100"`},
		{"weights off", []string{"set", "sweat-rate", "--split", "1=60", "--reason", "x"},
			"weights sum to 60, want 1 or 100"},
		{"failed version", []string{"set", "sweat-rate", "--split", "1=50,2=50",
			"--reason", "x"}, "version 2 is failed, not ready"},
		{"unknown model", []string{"set", "core-temp", "--split", "1=1", "--reason", "x"},
			`no model named "core-temp"`},
		{"no reason", []string{"set", "sweat-rate", "--split", "1=1"},
			`"reason" not set`},
		{"shadow among arms", []string{"set", "sweat-rate", "--split", "1=1", "--shadow",
			"1", "--reason", "x"}, "shadow version 1 also serves"},
		{"clear without policy", []string{"clear", "sweat-rate", "--reason", "x"},
			"model sweat-rate has no traffic policy to clear"},
		{"show without production", []string{"show", "sweat-rate"},
			"neither a traffic policy nor a production alias"},
		{"show bad output", []string{"show", "sweat-rate", "--output", "yaml"},
			`--output "yaml": want table or json`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.run(append([]string{"models", "traffic"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// A trained version's card prints as the Markdown that training wrote.
func TestModelsShowCard(t *testing.T) {
	home, _ := trainedHome(t)
	c := &cli{t: t, home: home}
	var v registry.Version
	decode(t, c.must("models", "show", "sweat-rate", "--alias", "production", "--json"), &v)
	if v.Card.Markdown == "" {
		t.Fatal("the trained version has no card")
	}
	out := c.must("models", "show", "sweat-rate", "--alias", "production", "--card")
	if out != v.Card.Markdown {
		t.Errorf("--card printed %q, want the card's Markdown %q", out, v.Card.Markdown)
	}
}

// models features lists the schema, which is what upload checks names against.
func TestModelsFeatures(t *testing.T) {
	c := newCLI(t)
	var list struct {
		SchemaVersion int `json:"schema_version"`
		Features      []struct {
			Name, Unit string
		} `json:"features"`
	}
	decode(t, c.must("models", "features", "--json"), &list)
	schema := features.CurrentSchema()
	if list.SchemaVersion != schema.Version() || len(list.Features) != schema.Len() {
		t.Fatalf("schema %d with %d features, want %d with %d", list.SchemaVersion,
			len(list.Features), schema.Version(), schema.Len())
	}
	for i, f := range list.Features {
		if want := schema.Feature(i); f.Name != want.Name || f.Unit != want.Unit {
			t.Errorf("feature %d = %s (%s), want %s (%s)", i, f.Name, f.Unit, want.Name,
				want.Unit)
		}
	}
	out := c.must("models", "features", "--match", "wbgt")
	if !strings.Contains(out, "wbgt_c ") || strings.Contains(out, "heart_rate") {
		t.Errorf("--match wbgt printed:\n%s", out)
	}
	if _, err := c.run("models", "features", "--match", "pulse"); err == nil ||
		!strings.Contains(err.Error(), `no feature name contains "pulse"`) {
		t.Errorf("--match pulse: %v, want an error naming it", err)
	}
	// An upload naming a feature outside the schema is told where to look.
	_, err := c.run("models", "upload", modelFile(t, ""), "--name", "sweat-rate",
		"--inputs-from-features", "heart_rate_mean_15m,skin_temp_c_mean_15m,wbgt_c")
	if err == nil || !strings.Contains(err.Error(), "hydrocast models features") {
		t.Errorf("upload with an unknown feature: %v, want it to name models features", err)
	}
}
