package upload

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The stages a trial child goes through, as TrialResult.Stage reports them.
const (
	StageInit = "init" // reading the file and loading ONNX Runtime
	StageLoad = "load" // creating the session: parsing, checking, optimising
	StageRun  = "run"  // running the model once on zeros
	StageDone = "done" // finished, with or without an error
)

// TrialOptions configure a trial run. The zero value of each field selects its
// default.
type TrialOptions struct {
	// Command starts the child: a program and its leading arguments, to which the
	// trial appends --model PATH and --memory-bytes N. Empty means the running
	// executable with the arguments "models trial-run", the hidden command through
	// which the hydrocast binary calls ChildMain. Tests re-execute their own binary.
	Command []string

	// MemoryBytes caps the child's address space (RLIMIT_AS), which the child sets
	// on itself before it loads ONNX Runtime. The Go runtime, its threads and the
	// runtime library take about 1.5 GiB of it before the model, so the cap must
	// exceed that. Zero means 4 GiB.
	MemoryBytes int64

	// Timeout bounds the child from start to exit; it is killed at the end. Zero
	// means 60 seconds.
	Timeout time.Duration
}

func (o TrialOptions) withDefaults() TrialOptions {
	d := DefaultTrialOptions()
	if o.MemoryBytes <= 0 {
		o.MemoryBytes = d.MemoryBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = d.Timeout
	}
	return o
}

// TrialResult is what a trial child reports, one JSON object per line on its
// standard output: a line when it starts loading, one when it starts running and a
// last one when it is done. The last line tells how far it got.
type TrialResult struct {
	Stage   string        `json:"stage"`
	Runtime string        `json:"runtime,omitempty"`
	Inputs  []TrialTensor `json:"inputs,omitempty"`
	Outputs []TrialTensor `json:"outputs,omitempty"`

	// LoadSeconds and RunSeconds time the session's creation and the run.
	LoadSeconds float64 `json:"load_seconds,omitempty"`
	RunSeconds  float64 `json:"run_seconds,omitempty"`

	// Error says why the child failed in Stage; empty when it succeeded.
	Error string `json:"error,omitempty"`
}

// TrialTensor is one input fed to, or output returned by, the trial run.
type TrialTensor struct {
	Name  string  `json:"name"`
	Type  string  `json:"type"`
	Shape []int64 `json:"shape"`
}

// maxChildOutput caps what is kept of the child's stdout and stderr, so that a
// chatty or hostile child cannot fill the parent's memory.
const maxChildOutput = 1 << 20

// TrialBytes writes model to a temporary file and runs TrialRun on it.
func TrialBytes(ctx context.Context, model []byte, opts TrialOptions) (TrialResult, error) {
	f, err := os.CreateTemp("", "hydrocast-trial-*.onnx")
	if err != nil {
		return TrialResult{}, fmt.Errorf("trial run: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(model)
	if err := errors.Join(err, f.Close()); err != nil {
		return TrialResult{}, fmt.Errorf("trial run: write model: %w", err)
	}
	return TrialRun(ctx, f.Name(), opts)
}

// TrialRun loads the ONNX file at modelPath and runs it once on zeros in a child
// process limited in memory and time, so that a model that exhausts memory, hangs
// or crashes the runtime takes down only the child. A model that fails gives an
// error wrapping registry.ErrInvalid that says why; any other error means the
// trial itself could not be made, or ctx ended.
func TrialRun(ctx context.Context, modelPath string, opts TrialOptions) (TrialResult, error) {
	opts = opts.withDefaults()
	command := opts.Command
	if len(command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return TrialResult{}, fmt.Errorf("trial run: find own executable: %w", err)
		}
		command = []string{exe, "models", "trial-run"}
	}
	args := append(command[1:len(command):len(command)], "--model", modelPath,
		"--memory-bytes", strconv.FormatInt(opts.MemoryBytes, 10))

	runCtx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, command[0], args...)
	var stdout, stderr capped
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = childAttributes()
	// glibc reserves 64 MiB of address space per thread arena; two arenas keep the
	// reservations, which count against the limit, close to what is used.
	cmd.Env = append(os.Environ(), "MALLOC_ARENA_MAX=2")
	cmd.WaitDelay = 5 * time.Second

	start := time.Now()
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return TrialResult{}, fmt.Errorf("trial run: %w", ctx.Err())
	}

	last, ok := lastResult(stdout.Bytes())
	timedOut := runCtx.Err() != nil
	switch {
	case !ok || last.Stage == StageInit:
		return last, fmt.Errorf("trial run: child could not start: %s",
			childFailure(last, runErr, &stderr))
	case timedOut && last.Stage != StageDone:
		return last, invalid("trial run: model still at stage %s after %v; killed",
			last.Stage, time.Since(start).Round(time.Second))
	case last.Error != "":
		return last, invalid("trial run: model failed to %s: %s", last.Stage, last.Error)
	case last.Stage != StageDone:
		return last, invalid("trial run: child died while the model was at stage %s "+
			"(memory limit %d bytes): %s", last.Stage, opts.MemoryBytes,
			childFailure(last, runErr, &stderr))
	}
	return last, nil
}

// lastResult decodes the child's last complete result line.
func lastResult(out []byte) (TrialResult, bool) {
	var last TrialResult
	found := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), maxChildOutput)
	for sc.Scan() {
		var r TrialResult
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Stage != "" {
			last, found = r, true
		}
	}
	return last, found
}

// childFailure describes how the child ended: its own error, the signal that
// killed it or its exit status, and the last line of its stderr.
func childFailure(last TrialResult, runErr error, stderr *capped) string {
	var parts []string
	if last.Error != "" {
		parts = append(parts, last.Error)
	}
	var exit *exec.ExitError
	switch {
	case errors.As(runErr, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			parts = append(parts, "killed by "+ws.Signal().String())
		} else {
			parts = append(parts, fmt.Sprintf("exit status %d", exit.ExitCode()))
		}
	case runErr != nil:
		parts = append(parts, runErr.Error())
	}
	if line := lastLine(stderr.Bytes()); line != "" {
		parts = append(parts, "stderr: "+line)
	}
	if len(parts) == 0 {
		return "no result"
	}
	return strings.Join(parts, "; ")
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	line := strings.TrimSpace(lines[len(lines)-1])
	if len(line) > 300 {
		line = line[:300] + "…"
	}
	return line
}

// capped is a buffer that keeps the first maxChildOutput bytes written to it and
// silently drops the rest, so that the child never blocks on a full pipe.
type capped struct{ buf bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if room := maxChildOutput - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *capped) Bytes() []byte { return c.buf.Bytes() }
