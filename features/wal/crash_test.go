package wal

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hydrocast/hydrocast/features"
)

// crashChildEnv, when set to a directory, turns the test binary into the child of
// TestCrashRecovery, which ingests into a store in that directory until killed.
const crashChildEnv = "HYDROCAST_WAL_CRASH_CHILD"

// The child's workload: each athlete's goroutine ingests its readings one after
// another, a second apart in event time, so that what is durable of an athlete
// is always a prefix of its readings, plus at most the one in flight.
const (
	crashAthletes   = 8
	crashPerAthlete = 3000
	crashKillAfter  = 2000 // acknowledgements seen before the kill
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(runCrashChild(dir))
	}
	os.Exit(m.Run())
}

func crashReading(athlete, k int) features.Reading {
	r := hr(fmt.Sprintf("athlete-%d", athlete), k, float64(100+k%60))
	r.Set(features.SkinTemp, 33+float64(k%10)/10)
	return r
}

// runCrashChild ingests as fast as it can, printing "<athlete> <k>" for each
// acknowledged reading, and waits to be killed once done.
func runCrashChild(dir string) int {
	d, err := Open(dir, &Options{SegmentBytes: 32 << 10, MaxBatchDelay: time.Millisecond,
		SnapshotInterval: 25 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for a := range crashAthletes {
		wg.Go(func() {
			for k := range crashPerAthlete {
				if _, err := d.Ingest(context.Background(), crashReading(a, k)); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "%d %d\n", a, k) // unbuffered: one write each
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	fmt.Println("done")
	time.Sleep(time.Hour)
	return 0
}

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	acked, total := readAcks(t, cmd, stdout, dir)
	err = cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v; stderr: %s", err, stderr.String())
	}

	d := openT(t, dir, quiet())
	ctx := context.Background()
	var held uint64
	for a := range crashAthletes {
		id := fmt.Sprintf("athlete-%d", a)
		newest, err := d.Newest(ctx, id)
		n := int(newest.Sub(t0)/time.Second) + 1
		if err != nil {
			n = 0
		}
		// Every acknowledged reading is back; the one in flight may be too.
		if n < acked[a] || n > acked[a]+1 {
			t.Errorf("%s: recovered readings up to %d, acknowledged %d", id, n, acked[a])
		}
		if n > 0 {
			v := features.NewVector()
			d.Vector(ctx, id, newest, v)
			if count, _, _ := v.Get("heart_rate_bpm_count_60m"); int(count) != n {
				t.Errorf("%s: window holds %v readings, want %d", id, count, n)
			}
		}
		held += uint64(n)
	}
	c, _ := d.Counts(ctx)
	if c.Applied != held || c.Total() != held {
		t.Errorf("counts %+v, want %d applied and nothing else", c, held)
	}
	t.Logf("killed after %d acknowledgements; recovered %d readings", total, held)
}

// readAcks reads the child's acknowledgements, kills it once it has acknowledged
// crashKillAfter readings and written a snapshot, and returns how many readings
// of each athlete it acknowledged.
func readAcks(t *testing.T, cmd *exec.Cmd, stdout interface{ Read([]byte) (int, error) },
	dir string) ([]int, int) {
	t.Helper()
	acked := make([]int, crashAthletes)
	total, killed := 0, false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var a, k int
		if sc.Text() == "done" {
			cmd.Process.Kill()
			t.Fatal("the child ingested everything before it was killed")
		}
		if _, err := fmt.Sscanf(sc.Text(), "%d %d", &a, &k); err != nil || k != acked[a] {
			cmd.Process.Kill()
			t.Fatalf("acknowledgement %q out of order (err %v)", sc.Text(), err)
		}
		acked[a] = k + 1
		total++
		if !killed && total >= crashKillAfter && total%50 == 0 && hasSnapshot(dir) {
			cmd.Process.Kill() // SIGKILL
			killed = true
		}
	}
	return acked, total
}

func hasSnapshot(dir string) bool {
	snaps, err := listSnapshots(dir)
	return err == nil && len(snaps) > 0
}
