package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// errPprofNotLoopback refuses a profiling address other machines could reach:
// profiles and goroutine dumps show the process's internals, and the endpoint has no
// authentication of its own.
var errPprofNotLoopback = errors.New("the profiling endpoint listens on loopback " +
	"only: give 127.0.0.1:PORT, [::1]:PORT or localhost:PORT")

// checkPprofAddr accepts only loopback addresses for --pprof-addr, whatever the
// authentication flags say.
func checkPprofAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--pprof-addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--pprof-addr %q: %w", addr, errPprofNotLoopback)
	}
	return nil
}

// pprofHandler serves Go's runtime profiles under /debug/pprof/, as net/http/pprof
// does on the default mux, on a mux of its own so that nothing else is exposed.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// servePprof starts the profiling endpoint on addr, a loopback address, and returns
// its server, which the caller closes at shutdown. Serve's error goes to errc.
func servePprof(addr string, errc chan<- error, log *slog.Logger) (*http.Server, error) {
	if err := checkPprofAddr(addr); err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof-addr: listen on %s: %w", addr, err)
	}
	// A CPU profile or an execution trace streams for as long as it is asked for
	// (?seconds=N), hence no write timeout.
	srv := &http.Server{Handler: pprofHandler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("profiling endpoint: %w", err)
		}
	}()
	log.Info("serving Go profiles", "addr", lis.Addr().String(), "path", "/debug/pprof/")
	return srv, nil
}
