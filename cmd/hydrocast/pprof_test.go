package main

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPprofAddrLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:6060", "[::1]:0", "localhost:6060"} {
		if err := checkPprofAddr(addr); err != nil {
			t.Errorf("%s: %v; want it accepted", addr, err)
		}
	}
	for _, addr := range []string{":6060", "0.0.0.0:6060", "192.0.2.1:6060",
		"example.com:6060", "127.0.0.1"} {
		if err := checkPprofAddr(addr); err == nil {
			t.Errorf("%s accepted; want a refusal", addr)
		}
	}
	if err := checkPprofAddr("0.0.0.0:6060"); !errors.Is(err, errPprofNotLoopback) {
		t.Errorf("0.0.0.0:6060: %v; want errPprofNotLoopback", err)
	}
}

func TestServePprof(t *testing.T) {
	errc := make(chan error, 1)
	srv, err := servePprof("127.0.0.1:0", errc, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	rec := httptest.NewRecorder()
	srv.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet,
		"/debug/pprof/cmdline", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "test") {
		t.Errorf("/debug/pprof/cmdline: status %d, %q; want the test binary's "+
			"command line", rec.Code, rec.Body.String())
	}
	// Nothing but the profiles: the metrics and the API stay on their own listeners.
	rec = httptest.NewRecorder()
	srv.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("/metrics on the profiling endpoint: status %d, want 404", rec.Code)
	}
}

func TestServeRefusesOpenPprofAddress(t *testing.T) {
	c := newCLI(t)
	_, err := c.run("serve", "--listen", "127.0.0.1:0", "--http-listen", "",
		"--pprof-addr", "0.0.0.0:6060")
	if err == nil || !strings.Contains(err.Error(), "loopback only") {
		t.Fatalf("serve --pprof-addr 0.0.0.0:6060: %v; want a refusal", err)
	}
}
