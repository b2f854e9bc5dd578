package local

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/registrytest"
	"github.com/hydrocast/hydrocast/registry/sqlite"
)

// The crash tests re-execute the test binary as a child that works on a registry
// until the parent kills it with SIGKILL; these variables tell the child what to do.
const (
	envCrashChild = "HYDROCAST_CRASH_CHILD" // "upload" or "moves"
	envCrashDir   = "HYDROCAST_CRASH_DIR"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(envCrashChild); mode != "" {
		if err := crashChild(mode, os.Getenv(envCrashDir)); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// quickChecker passes every upload after a short trial, so that the child spends
// its time in the registry's own steps.
type quickChecker struct{}

func (quickChecker) Prepare(_ context.Context, upload []byte,
	_ registry.Signature) ([]byte, error) {
	return upload, nil
}

func (quickChecker) Trial(context.Context, []byte, registry.Signature) error {
	time.Sleep(2 * time.Millisecond)
	return nil
}

// crashChild uploads versions, or moves aliases, until it is killed, printing a line
// after each step that committed.
func crashChild(mode, dir string) error {
	ctx := registry.WithPrincipal(context.Background(), "crash-child")
	reg, err := Open(ctx, dir)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		switch mode {
		case "upload":
			err = uploadOnce(ctx, reg, i)
		case "moves":
			err = moveOnce(ctx, reg, i)
		default:
			return fmt.Errorf("unknown mode %q", mode)
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(out, "step", i)
		out.Flush()
	}
}

// uploadOnce uploads 2 MiB of random bytes in chunks and promotes them to staging.
func uploadOnce(ctx context.Context, reg *registry.Registry, i int) error {
	req := request("sweat-rate", i)
	req.Artifact = nil
	req.Promote = &registry.Promotion{Alias: "staging", Reason: fmt.Sprint("upload ", i)}
	up, err := registry.NewUploader(reg, quickChecker{}, registry.UploaderOptions{}).
		Begin(ctx, req)
	if err != nil {
		return err
	}
	data := make([]byte, 2<<20)
	rand.Read(data)
	for c := 0; c < len(data); c += 256 << 10 {
		if _, err := up.Write(data[c : c+256<<10]); err != nil {
			return err
		}
	}
	sum := sha256.Sum256(data)
	_, err = up.Finish(ctx, hex.EncodeToString(sum[:]))
	return err
}

// moveOnce moves production to the next of versions 1 to 4, or every third step
// rolls it back.
func moveOnce(ctx context.Context, reg *registry.Registry, i int) error {
	if i%3 == 2 {
		_, err := reg.Rollback(ctx, "sweat-rate", "production", "crash test")
		return err
	}
	_, err := reg.SetAlias(ctx, registry.AliasMove{Model: "sweat-rate", Alias: "production",
		Version: i%4 + 1, Reason: fmt.Sprint("move ", i)})
	return err
}

// runAndKill starts a crash child on dir, lets it commit a few steps, then kills it
// with SIGKILL at a random moment of the next.
func runAndKill(t *testing.T, mode, dir string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envCrashChild+"="+mode, envCrashDir+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	steps := 1 + randN(3)
	sc := bufio.NewScanner(stdout)
	for range steps {
		if !sc.Scan() {
			cmd.Wait()
			t.Fatalf("child %s ended before its step: %s", mode, stderr.String())
		}
	}
	time.Sleep(time.Duration(randN(15_000)) * time.Microsecond)
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred cleanup runs
		t.Fatal(err)
	}
	cmd.Wait()
	if strings.Contains(stderr.String(), "crash child:") {
		t.Fatalf("child %s failed before it was killed: %s", mode, stderr.String())
	}
}

func randN(n int64) int64 {
	x, err := rand.Int(rand.Reader, big.NewInt(n))
	if err != nil {
		panic(err)
	}
	return x.Int64()
}

func TestKillDuringUpload(t *testing.T) {
	dir := t.TempDir()
	for round := range 4 {
		runAndKill(t, "upload", dir)
		checkAfterCrash(t, dir, round)
	}
}

func TestKillDuringAliasMoves(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for seed := range 4 {
		publish(t, r, request("sweat-rate", seed))
	}
	r.Close()
	for round := range 4 {
		runAndKill(t, "moves", dir)
		checkAfterCrash(t, dir, round)
	}
}

// checkAfterCrash checks what a killed child left: first as the metadata store
// shows it before any recovery, then after reopening the registry.
func checkAfterCrash(t *testing.T, dir string, round int) {
	t.Helper()
	ctx := registrytest.Context(t)

	// Before recovery: every version row, pending or not, has its whole artifact,
	// since the artifact is durable before the row is written.
	store, err := sqlite.Open(ctx, filepath.Join(dir, DatabaseFile))
	if err != nil {
		t.Fatalf("round %d: open database after the crash: %v", round, err)
	}
	versions, err := store.Versions(ctx, "sweat-rate")
	store.Close()
	if err != nil && !errors.Is(err, registry.ErrNotFound) {
		t.Fatal(err)
	}
	temps := tempFiles(t, dir)
	pending := 0
	for _, v := range versions {
		if v.Status == registry.StatusPending {
			pending++
		}
	}
	t.Logf("round %d: %d versions, %d pending, %d temporary files left by the crash",
		round, len(versions), pending, len(temps))

	r, err := OpenWith(ctx, dir, Options{StaleAfter: time.Nanosecond})
	if err != nil {
		t.Fatalf("round %d: reopen: %v", round, err)
	}
	defer r.Close()
	if left := tempFiles(t, dir); len(left) > 0 {
		t.Errorf("round %d: temporary files left after reopening: %v", round, left)
	}
	versions, err = r.Versions(ctx, "sweat-rate")
	if err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	ready := map[int]bool{}
	for _, v := range versions {
		switch v.Status {
		case registry.StatusReady:
			ready[v.Number] = true
			if _, err := r.Artifact(ctx, v); err != nil {
				t.Errorf("round %d: ready version %d: %v", round, v.Number, err)
			}
		case registry.StatusFailed:
			if !strings.HasPrefix(v.StatusReason, "upload interrupted") {
				t.Errorf("round %d: version %d failed: %s", round, v.Number, v.StatusReason)
			}
		default:
			t.Errorf("round %d: version %d still %s after reopening", round, v.Number,
				v.Status)
		}
	}
	checkAliases(t, r, ready, round)
}

// checkAliases checks that each alias points at a ready version and that its history
// is one unbroken chain ending where it points, with one audit entry per move.
func checkAliases(t *testing.T, r *registry.Registry, ready map[int]bool, round int) {
	t.Helper()
	ctx := t.Context()
	m, err := r.Model(ctx, "sweat-rate")
	if err != nil {
		t.Fatal(err)
	}
	audit, err := r.Audit(ctx, registry.AuditQuery{Model: "sweat-rate"})
	if err != nil {
		t.Fatal(err)
	}
	for alias, number := range m.Aliases {
		if !ready[number] {
			t.Errorf("round %d: %s points at version %d, which is not ready", round, alias,
				number)
		}
		history, err := r.History(ctx, "sweat-rate", alias)
		if err != nil {
			t.Fatal(err)
		}
		if len(history) == 0 || history[0].To != number {
			t.Fatalf("round %d: %s points at %d but its history is %+v", round, alias,
				number, history)
		}
		for i := 0; i+1 < len(history); i++ {
			if history[i].From != history[i+1].To {
				t.Errorf("round %d: %s history breaks between %+v and %+v", round, alias,
					history[i+1], history[i])
			}
		}
		if last := history[len(history)-1]; last.From != 0 {
			t.Errorf("round %d: %s history starts with a move from %d", round, alias,
				last.From)
		}
		moves := 0
		for _, e := range audit {
			if e.Alias == alias && (e.Action == registry.ActionMoveAlias ||
				e.Action == registry.ActionRollbackAlias) {
				moves++
			}
		}
		if moves != len(history) {
			t.Errorf("round %d: %s has %d moves in its history and %d in the audit", round,
				alias, len(history), moves)
		}
	}
}

func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	root := filepath.Join(dir, ArtifactFolder)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err == nil && strings.HasSuffix(d.Name(), ".tmp") {
			out = append(out, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRecoverSparesLiveUploads checks that opening the registry leaves a young pending
// version and temporary file alone, as another process may still be uploading, and
// cleans both once they are older than the stale age.
func TestRecoverSparesLiveUploads(t *testing.T) {
	dir := t.TempDir()
	ctx := registrytest.Context(t)
	store, err := sqlite.Open(ctx, filepath.Join(dir, DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	nv := registrytest.NewVersion("sweat-rate", 1)
	nv.Version.Status = registry.StatusPending
	if _, err := store.CreateVersion(ctx, nv); err != nil {
		t.Fatal(err)
	}
	store.Close()
	tmp := filepath.Join(dir, ArtifactFolder, "sha256", "ab", "ab12.18c0ffee.tmp")
	if err := os.MkdirAll(filepath.Dir(tmp), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, []byte("half an artifact"), 0o644); err != nil {
		t.Fatal(err)
	}

	status := func(r *registry.Registry) registry.Status {
		v, err := r.Version(ctx, "sweat-rate", 1)
		if err != nil {
			t.Fatal(err)
		}
		return v.Status
	}
	r := open(t, dir)
	if s := status(r); s != registry.StatusPending || len(tempFiles(t, dir)) != 1 {
		t.Errorf("after a default open: version %s, temporary files %v; want both kept",
			s, tempFiles(t, dir))
	}
	r.Close()

	r, err = OpenWith(ctx, dir, Options{StaleAfter: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if s := status(r); s != registry.StatusFailed || len(tempFiles(t, dir)) != 0 {
		t.Errorf("after a stale open: version %s, temporary files %v; want failed, none",
			s, tempFiles(t, dir))
	}
}
