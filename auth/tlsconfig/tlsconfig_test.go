package tlsconfig

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
)

// authority is an in-memory certificate authority for tests.
type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newAuthority(t testing.TB, name string) *authority {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &authority{cert: cert, key: key,
		pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate and key signed by a: a server certificate for
// 127.0.0.1 and localhost, or a client certificate for cn.
func (a *authority) issue(t testing.TB, serial int64, server bool, notAfter time.Time) (
	certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "svc"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// files is a server's certificate folder.
type files struct {
	dir               string
	cert, key, cafile string
}

func newFiles(t *testing.T) files {
	dir := t.TempDir()
	return files{dir: dir, cert: filepath.Join(dir, "tls.crt"),
		key: filepath.Join(dir, "tls.key"), cafile: filepath.Join(dir, "ca.crt")}
}

// write replaces path's content the way certificate managers do: write aside, rename.
func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

func (f files) rotate(t *testing.T, a *authority, serial int64) {
	cert, key := a.issue(t, serial, true, time.Now().Add(time.Hour))
	write(t, f.cert, cert)
	write(t, f.key, key)
}

// serve runs a gRPC health server over r's configuration on a loopback port.
func serve(t *testing.T, r *Reloader) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(r.ServerConfig())))
	healthpb.RegisterHealthServer(gs, health.NewServer())
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return lis.Addr().String()
}

// check makes one health call on a new connection and returns the serial number of
// the certificate the server presented.
func check(t *testing.T, addr string, cfg *tls.Config) (int64, error) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var p peer.Peer
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{},
		grpc.Peer(&p), grpc.WaitForReady(false))
	if err != nil {
		return 0, err
	}
	state := p.AuthInfo.(credentials.TLSInfo).State
	return state.PeerCertificates[0].SerialNumber.Int64(), nil
}

// clientConfig trusts a and presents a client certificate clientCA signed, unless
// noCert. It presents it even to a server that names other authorities, as a client
// probing the server would.
func clientConfig(t *testing.T, a, clientCA *authority, noCert bool) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(a.cert)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if !noCert {
		certPEM, keyPEM := clientCA.issue(t, 99, false, time.Now().Add(time.Hour))
		cert, _ := tls.X509KeyPair(certPEM, keyPEM)
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate,
			error) {
			return &cert, nil
		}
	}
	return cfg
}

func TestRotationReachesNewConnections(t *testing.T) {
	ca := newAuthority(t, "ca")
	f := newFiles(t)
	f.rotate(t, ca, 100)
	r, err := New(Options{CertFile: f.cert, KeyFile: f.key})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	addr := serve(t, r)
	cfg := clientConfig(t, ca, ca, true)

	if serial, err := check(t, addr, cfg); err != nil || serial != 100 {
		t.Fatalf("first connection: serial %d, %v; want 100", serial, err)
	}

	f.rotate(t, ca, 101)
	if changed, err := r.Reload(); !changed || err != nil {
		t.Fatalf("Reload = %v, %v; want a change", changed, err)
	}

	if serial, err := check(t, addr, cfg); err != nil || serial != 101 {
		t.Fatalf("after rotation: serial %d, %v; want 101", serial, err)
	}
	if changed, _ := r.Reload(); changed {
		t.Error("Reload of unchanged files reported a change")
	}
}

func TestRunPicksUpRotation(t *testing.T) {
	ca := newAuthority(t, "ca")
	f := newFiles(t)
	f.rotate(t, ca, 200)
	r, err := New(Options{CertFile: f.cert, KeyFile: f.key,
		ReloadInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()

	f.rotate(t, ca, 201)
	for r.Leaf().SerialNumber.Int64() != 201 {
		select {
		case <-t.Context().Done():
			t.Fatal("Run never served the rotated certificate")
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v after cancel, want nil", err)
	}
}

func TestBadRotationKeepsCurrentCertificate(t *testing.T) {
	ca := newAuthority(t, "ca")
	cases := []struct {
		name    string
		rotate  func(t *testing.T, f files)
		wantErr error
	}{
		{"certificate written before its key", func(t *testing.T, f files) {
			cert, _ := ca.issue(t, 301, true, time.Now().Add(time.Hour))
			write(t, f.cert, cert)
		}, nil},
		{"expired certificate", func(t *testing.T, f files) {
			cert, key := ca.issue(t, 302, true, time.Now().Add(-time.Minute))
			write(t, f.cert, cert)
			write(t, f.key, key)
		}, ErrExpired},
		{"key file removed", func(t *testing.T, f files) { os.Remove(f.key) }, os.ErrNotExist},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFiles(t)
			f.rotate(t, ca, 300)
			r, err := New(Options{CertFile: f.cert, KeyFile: f.key})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			addr := serve(t, r)

			tc.rotate(t, f)
			changed, err := r.Reload()

			if changed || err == nil {
				t.Fatalf("Reload = %v, %v; want an error", changed, err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Reload error %v, want %v", err, tc.wantErr)
			}
			serial, err := check(t, addr, clientConfig(t, ca, ca, true))
			if err != nil || serial != 300 {
				t.Errorf("serving serial %d, %v; want the previous 300", serial, err)
			}
		})
	}
}

func TestMutualTLS(t *testing.T) {
	ca, clientCA, stranger := newAuthority(t, "ca"), newAuthority(t, "clients"),
		newAuthority(t, "stranger")
	cases := []struct {
		name     string
		auth     tls.ClientAuthType
		client   *tls.Config
		accepted bool
	}{
		{"client certificate", 0, clientConfig(t, ca, clientCA, false), true},
		{"no client certificate", 0, clientConfig(t, ca, clientCA, true), false},
		{"certificate from another authority", 0, clientConfig(t, ca, stranger, false),
			false},
		{"optional, none given", tls.VerifyClientCertIfGiven,
			clientConfig(t, ca, clientCA, true), true},
		{"optional, bad one given", tls.VerifyClientCertIfGiven,
			clientConfig(t, ca, stranger, false), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFiles(t)
			f.rotate(t, ca, 400)
			write(t, f.cafile, clientCA.pem)
			r, err := New(Options{CertFile: f.cert, KeyFile: f.key,
				ClientCAFile: f.cafile, ClientAuth: tc.auth})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			addr := serve(t, r)

			_, err = check(t, addr, tc.client)

			if tc.accepted != (err == nil) {
				t.Errorf("call error = %v, want accepted=%v", err, tc.accepted)
			}
		})
	}
}

func TestRefusesTLS12(t *testing.T) {
	ca := newAuthority(t, "ca")
	f := newFiles(t)
	f.rotate(t, ca, 500)
	r, err := New(Options{CertFile: f.cert, KeyFile: f.key})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	addr := serve(t, r)
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			cfg := clientConfig(t, ca, ca, true)
			cfg.MaxVersion = version

			_, err := check(t, addr, cfg)

			if want13 := version == tls.VersionTLS13; want13 != (err == nil) {
				t.Errorf("%s client: error %v", tls.VersionName(version), err)
			}
		})
	}
}

func TestHTTPServerNegotiatesHTTP2(t *testing.T) {
	ca := newAuthority(t, "ca")
	f := newFiles(t)
	f.rotate(t, ca, 600)
	r, err := New(Options{CertFile: f.cert, KeyFile: f.key})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{TLSConfig: r.ServerConfig(), Handler: http.HandlerFunc(
		func(w http.ResponseWriter, _ *http.Request) {})}
	go srv.ServeTLS(lis, "", "")
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: clientConfig(t, ca, ca, true), ForceAttemptHTTP2: true}}

	resp, err := client.Get("https://" + lis.Addr().String() + "/")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.TLS.Version != tls.VersionTLS13 {
		t.Errorf("got %s over %s, want HTTP/2 over TLS 1.3", resp.Proto,
			tls.VersionName(resp.TLS.Version))
	}
}

func TestNewRefusesBadFiles(t *testing.T) {
	ca := newAuthority(t, "ca")
	certPEM, keyPEM := ca.issue(t, 700, true, time.Now().Add(time.Hour))
	cases := []struct {
		name          string
		cert, key, ca []byte
	}{
		{"key as certificate", keyPEM, keyPEM, nil},
		{"empty client authorities", certPEM, keyPEM, []byte("\n")},
		{"key as client authority", certPEM, keyPEM, keyPEM},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFiles(t)
			write(t, f.cert, tc.cert)
			write(t, f.key, tc.key)
			opts := Options{CertFile: f.cert, KeyFile: f.key}
			if tc.ca != nil {
				write(t, f.cafile, tc.ca)
				opts.ClientCAFile = f.cafile
			}
			if _, err := New(opts); err == nil {
				t.Error("New accepted bad files")
			}
		})
	}
}

func TestLoadClientConfig(t *testing.T) {
	ca := newAuthority(t, "ca")
	f := newFiles(t)
	f.rotate(t, ca, 800)
	write(t, f.cafile, ca.pem)
	r, err := New(Options{CertFile: f.cert, KeyFile: f.key, ClientCAFile: f.cafile})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	addr := serve(t, r)
	clientCert, clientKey := ca.issue(t, 801, false, time.Now().Add(time.Hour))
	certPath, keyPath := filepath.Join(f.dir, "c.crt"), filepath.Join(f.dir, "c.key")
	write(t, certPath, clientCert)
	write(t, keyPath, clientKey)

	cfg, err := LoadClientConfig(ClientOptions{CAFile: f.cafile, CertFile: certPath,
		KeyFile: keyPath})
	if err != nil {
		t.Fatalf("LoadClientConfig: %v", err)
	}
	if serial, err := check(t, addr, cfg); err != nil || serial != 800 {
		t.Errorf("call with the loaded config: serial %d, %v", serial, err)
	}
}

func FuzzParseCAs(f *testing.F) {
	ca := newAuthority(f, "ca")
	f.Add(ca.pem)
	f.Add(append(append([]byte{}, ca.pem...), "trailing"...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pool, err := parseCAs(data)
		if (pool == nil) == (err == nil) {
			t.Fatalf("parseCAs = %v, %v: want exactly one of a pool and an error", pool, err)
		}
	})
}

func FuzzParseKeyPair(f *testing.F) {
	ca := newAuthority(f, "ca")
	certPEM, keyPEM := ca.issue(f, 1, true, time.Now().Add(time.Hour))
	f.Add(certPEM, keyPEM)
	f.Add(keyPEM, certPEM)
	f.Add(certPEM[:len(certPEM)/2], keyPEM)
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		cert, err := parseKeyPair(certPEM, keyPEM)
		if err == nil && cert.Leaf == nil {
			t.Fatal("key pair without a parsed leaf")
		}
	})
}
