package tlsconfig

import (
	"crypto/tls"
	"fmt"
	"os"
)

// ClientOptions name the files a client uses to reach a hydrocast server over TLS.
type ClientOptions struct {
	// CAFile holds the PEM certificates of the authorities the server's certificate
	// must chain to. Empty means the system's roots.
	CAFile string

	// CertFile and KeyFile hold the client's certificate and key, for servers that
	// require mutual TLS. Empty means none is presented.
	CertFile string
	KeyFile  string

	// ServerName overrides the name checked in the server's certificate. Empty means
	// the host of the dialled address.
	ServerName string
}

// LoadClientConfig returns a TLS 1.3 client configuration read from opts' files.
func LoadClientConfig(opts ClientOptions) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, ServerName: opts.ServerName}
	if opts.CAFile != "" {
		data, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: read %s: %w", opts.CAFile, err)
		}
		if cfg.RootCAs, err = parseCAs(data); err != nil {
			return nil, fmt.Errorf("tls: %s: %w", opts.CAFile, err)
		}
	}
	if opts.CertFile != "" || opts.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(opts.CertFile, opts.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
