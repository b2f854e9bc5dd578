// Package tlsconfig builds the TLS 1.3 configurations of hydrocast's gRPC and HTTP
// servers from PEM files, with optional client-certificate verification (mutual TLS),
// and reloads the files while the server runs: a rotated certificate is used by the
// next handshake, with no restart and no dropped connection.
package tlsconfig

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// Options name the files a Reloader serves from.
type Options struct {
	// CertFile and KeyFile hold the server's certificate chain (leaf first) and its
	// private key, in PEM. Required.
	CertFile string
	KeyFile  string

	// ClientCAFile holds the PEM certificates of the authorities that sign client
	// certificates. Empty means clients are not asked for certificates.
	ClientCAFile string

	// ClientAuth is how client certificates are checked when ClientCAFile is set.
	// Zero (tls.NoClientCert) means tls.RequireAndVerifyClientCert, mutual TLS;
	// tls.VerifyClientCertIfGiven lets clients without a certificate in, to be
	// authenticated by token instead.
	ClientAuth tls.ClientAuthType

	// ReloadInterval is how often Run reads the files again. Zero means 10 seconds.
	ReloadInterval time.Duration

	// Logger receives one line per reload and per failed reload. Nil means none.
	Logger *slog.Logger

	// Now is the clock that expiry is checked against. Nil means time.Now.
	Now func() time.Time
}

// ErrExpired is returned when the server certificate has expired: serving it would
// fail every handshake, so a Reloader keeps the previous one.
var ErrExpired = errors.New("server certificate expired")

// Reloader holds the current certificate and client authorities, read from files,
// and hands them to each new TLS handshake. It is safe for concurrent use.
type Reloader struct {
	opts    Options
	current atomic.Pointer[state]
}

// state is one loaded generation of the files, with the tls.Config built from it. The
// config is built once per generation so that its session ticket keys stay the same
// across handshakes and clients can resume sessions.
type state struct {
	sum    [sha256.Size]byte
	leaf   *x509.Certificate
	config *tls.Config
}

// New reads the files once; it fails when they cannot be read or do not hold a
// usable certificate, key and, if named, client authorities.
func New(opts Options) (*Reloader, error) {
	if opts.CertFile == "" || opts.KeyFile == "" {
		return nil, errors.New("tls: a certificate file and a key file are required")
	}
	if opts.ClientCAFile != "" && opts.ClientAuth == tls.NoClientCert {
		opts.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if opts.ReloadInterval <= 0 {
		opts.ReloadInterval = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Reloader{opts: opts}
	if _, err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// ServerConfig returns the configuration for a gRPC (credentials.NewTLS) or HTTP
// (http.Server.TLSConfig) server. It requires TLS 1.3 and takes the certificate and
// client authorities current at each handshake.
func (r *Reloader) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: nextProtos,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.current.Load().config, nil
		},
	}
}

// nextProtos offers HTTP/2, which gRPC needs, and HTTP/1.1 for REST clients.
var nextProtos = []string{"h2", "http/1.1"}

// Leaf returns the certificate currently served, for expiry metrics.
func (r *Reloader) Leaf() *x509.Certificate {
	return r.current.Load().leaf
}

// Reload reads the files and, when their content changed, serves the new
// certificate from the next handshake on. When the new files are unusable (a key
// that does not match, as between writing the certificate and writing the key) it
// keeps the current ones and returns the error.
func (r *Reloader) Reload() (changed bool, err error) {
	files, sum, err := r.read()
	if err != nil {
		return false, err
	}
	if cur := r.current.Load(); cur != nil && cur.sum == sum {
		return false, nil
	}
	next, err := r.build(files)
	if err != nil {
		return false, err
	}
	next.sum = sum
	r.current.Store(next)
	return true, nil
}

// read returns the files' contents (certificate, key, client authorities) and a hash
// over all of them.
func (r *Reloader) read() ([3][]byte, [sha256.Size]byte, error) {
	var files [3][]byte
	paths := [3]string{r.opts.CertFile, r.opts.KeyFile, r.opts.ClientCAFile}
	h := sha256.New()
	for i, path := range paths {
		if path == "" {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return files, [sha256.Size]byte{}, fmt.Errorf("tls: read %s: %w", path, err)
		}
		files[i] = data
		fmt.Fprintf(h, "%d:%d:", i, len(data))
		h.Write(data)
	}
	return files, [sha256.Size]byte(h.Sum(nil)), nil
}

func (r *Reloader) build(files [3][]byte) (*state, error) {
	cert, err := parseKeyPair(files[0], files[1])
	if err != nil {
		return nil, fmt.Errorf("tls: %s: %w", r.opts.CertFile, err)
	}
	if r.opts.Now().After(cert.Leaf.NotAfter) {
		return nil, fmt.Errorf("tls: %s: %w on %s", r.opts.CertFile, ErrExpired,
			cert.Leaf.NotAfter.Format(time.DateOnly))
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: nextProtos,
		Certificates: []tls.Certificate{cert}}
	if r.opts.ClientCAFile != "" {
		if cfg.ClientCAs, err = parseCAs(files[2]); err != nil {
			return nil, fmt.Errorf("tls: %s: %w", r.opts.ClientCAFile, err)
		}
		cfg.ClientAuth = r.opts.ClientAuth
	}
	return &state{leaf: cert.Leaf, config: cfg}, nil
}

// Run reloads the files every ReloadInterval until ctx ends, and returns nil then.
func (r *Reloader) Run(ctx context.Context) error {
	tick := time.NewTicker(r.opts.ReloadInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		changed, err := r.Reload()
		switch {
		case err != nil:
			r.opts.Logger.Warn("tls reload failed, serving the previous certificate",
				"error", err)
		case changed:
			r.opts.Logger.Info("tls certificate reloaded",
				"not_after", r.Leaf().NotAfter, "serial", r.Leaf().SerialNumber.String())
		}
	}
}

// parseKeyPair decodes a PEM certificate chain and its private key.
func parseKeyPair(certPEM, keyPEM []byte) (tls.Certificate, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load key pair: %w", err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("parse certificate: %w", err)
		}
	}
	return cert, nil
}

// parseCAs decodes PEM certificates into a pool. Unlike CertPool.AppendCertsFromPEM
// it fails on anything that is not a certificate, so that a key file given by
// mistake, or a truncated bundle, is reported instead of silently trusting less.
func parseCAs(data []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if len(bytes.TrimSpace(rest)) > 0 {
				return nil, errors.New("text that is not PEM")
			}
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q, want CERTIFICATE", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %d: %w", n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, errors.New("no certificate")
	}
	return pool, nil
}
