package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	hydrocastv1 "github.com/hydrocast/hydrocast/api/hydrocast/v1"
	"github.com/hydrocast/hydrocast/inference"
	"github.com/hydrocast/hydrocast/models"
	"github.com/hydrocast/hydrocast/models/onnxgraph"
	"github.com/hydrocast/hydrocast/registry"
	"github.com/hydrocast/hydrocast/registry/local"
)

// childEnv marks a process this test binary started to run hydrocast itself: the
// fault suite needs real processes to kill.
const childEnv = "HYDROCAST_FAULT_CHILD"

// init runs before TestMain, so a child never enters the test framework: it runs the
// command its arguments name and exits with main's status.
func init() {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
}

// server is a `hydrocast serve` child process.
type faultServer struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	log  *faultLog
	done chan struct{}
}

// faultLog is a bytes.Buffer safe for the child's writes and the test's reads.
type faultLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *faultLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *faultLog) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startFaultServer starts `hydrocast --home home serve` with args on a free loopback port
// and waits until it listens.
func startFaultServer(t *testing.T, home string, args ...string) *faultServer {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	addrFile := filepath.Join(t.TempDir(), "addr")
	argv := append([]string{"--home", home, "--log-format", "json", "serve",
		"--listen", "127.0.0.1:0", "--http-listen", "", "--addr-file", addrFile,
		"--shutdown-timeout", "2s"}, args...)
	s := &faultServer{t: t, cmd: exec.Command(exe, argv...), log: &faultLog{},
		done: make(chan struct{})}
	s.cmd.Env = append(os.Environ(), childEnv+"=1", "HYDROCAST_REGISTRY=")
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(s.kill)

	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			s.addr = strings.TrimSpace(string(b))
			return s
		}
		select {
		case <-s.done:
			t.Fatalf("serve exited before listening:\n%s", s.log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not listen within 60 s:\n%s", s.log.String())
	return nil
}

// kill sends SIGKILL, as `kill -9` does, and waits for the process to go.
func (s *faultServer) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// stop sends SIGTERM, as an orchestrator does, and waits for the process to go.
func (s *faultServer) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.t.Errorf("serve did not stop within 30 s of SIGTERM")
		s.kill()
	}
}

// waitLog waits until the child's log holds substr, for at most 30 s.
func (s *faultServer) waitLog(substr string) bool {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(s.log.String(), substr) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// memory returns the child's resident set size and its peak, in bytes.
func (s *faultServer) memory() (rss, peak int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		s.t.Fatalf("read child memory: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			peak = kb << 10
		}
	}
	return rss, peak
}

func (s *faultServer) client() hydrocastv1.HydrocastServiceClient {
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(
		insecure.NewCredentials()))
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { conn.Close() })
	return hydrocastv1.NewHydrocastServiceClient(conn)
}

// faultFreePort returns a loopback port nobody listens on at the moment.
func faultFreePort(t *testing.T) int {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().(*net.TCPAddr).Port
}

// faultModelHome returns a state folder whose registry holds small linear production
// models of the three families: the faults concern the server, not model quality,
// and publishing these takes milliseconds where training takes a minute.
func faultModelHome(t *testing.T) (home string, reg *registry.Registry) {
	t.Helper()
	home = t.TempDir()
	reg, err := local.Open(context.Background(), filepath.Join(home, "registry"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	for _, fam := range models.Families {
		faultPublishLinear(t, reg, fam, 0.001, "production")
	}
	return home, reg
}

// faultPublishLinear registers the next version of fam, a linear model whose every input
// weighs weight, and points alias at it unless alias is empty.
func faultPublishLinear(t *testing.T, reg *registry.Registry, fam models.Family, weight float32,
	alias string) registry.Version {
	t.Helper()
	k, outs := len(fam.Features), len(fam.Outputs)
	spec := onnxgraph.LinearSpec{Name: fam.Name, Mean: make([]float32, k),
		Scale: make([]float32, k), Weights: make([]float32, k*outs)}
	sig := registry.Signature{Inputs: []registry.Tensor{{Name: models.InputName,
		Datatype: "FP32", Shape: []int64{-1, int64(k)}, Features: fam.Features}}}
	for i := range k {
		spec.Scale[i] = 1
		for j := range outs {
			spec.Weights[i*outs+j] = weight
		}
	}
	for _, o := range fam.Outputs {
		spec.Outputs = append(spec.Outputs, o.Name)
		spec.Bias = append(spec.Bias, 0.5)
		sig.Outputs = append(sig.Outputs, registry.Tensor{Name: o.Name, Datatype: "FP32",
			Shape: []int64{-1, 1}})
	}
	b, err := onnxgraph.StandardizedLinear(spec)
	if err != nil {
		t.Fatal(err)
	}
	data, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	impute, _ := json.Marshal(make([]float32, k))
	req := registry.PublishRequest{Model: fam.Name, Signature: sig, Artifact: data,
		Tags: map[string]string{inference.TagImpute: string(impute)}}
	if alias != "" {
		req.Promote = &registry.Promotion{Alias: alias}
	}
	v, err := reg.Publish(registry.WithPrincipal(context.Background(), "fault-suite"), req)
	if err != nil {
		t.Fatalf("publish %s: %v", fam.Name, err)
	}
	return v
}
