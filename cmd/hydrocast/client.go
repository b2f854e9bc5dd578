package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// clientFlags say how a command reaches a running server that may ask for TLS and a
// token (serve --tls-cert, --auth local or oidc).
type clientFlags struct {
	token      string
	tlsCA      string
	serverName string
}

func (c *clientFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&c.token, "token", os.Getenv("HYDROCAST_TOKEN"), "bearer token for a "+
		"server with --auth local or oidc (env HYDROCAST_TOKEN; hydrocast token issue "+
		"makes one)")
	fl.StringVar(&c.tlsCA, "tls-ca", "", "CA certificate (PEM) to trust for a server "+
		"with --tls-cert; setting it turns TLS on")
	fl.StringVar(&c.serverName, "tls-server-name", "", "name the server's certificate "+
		"must carry, when it differs from the address's host")
}

// dial connects to addr with the flags' transport and credentials.
func (c *clientFlags) dial(addr string) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if c.tlsCA != "" {
		pem, err := os.ReadFile(c.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", c.tlsCA)
		}
		creds = credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: c.serverName,
			MinVersion: tls.VersionTLS13})
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	if c.tlsCA == "" {
		opts = append(opts, grpc.WithChainUnaryInterceptor(hintUnary),
			grpc.WithChainStreamInterceptor(hintStream))
	}
	if c.token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer{token: c.token,
			secure: c.tlsCA != ""}))
	}
	return grpc.NewClient(addr, opts...)
}

// bearer sends a token with every call. Without --tls-ca the token crosses the wire
// in plain text, which is fine on loopback only.
type bearer struct {
	token  string
	secure bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (b bearer) RequireTransportSecurity() bool { return b.secure }

// tlsHint adds what to pass to the error of a plaintext call to a server that speaks
// TLS: gRPC reports only that the connection closed before the server's preface
// came. Other failures to read a preface (an HTTP/1.1 or Redis port given by
// mistake) keep their own message.
func tlsHint(err error) error {
	s, ok := status.FromError(err)
	if err == nil || !ok || s.Code() != codes.Unavailable ||
		!strings.Contains(s.Message(), "server preface: EOF") {
		return err
	}
	return status.Errorf(codes.Unavailable, "%s (does the server speak TLS? pass --tls-ca "+
		"with the CA certificate that signed its --tls-cert)", s.Message())
}

func hintUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return tlsHint(invoker(ctx, method, req, reply, cc, opts...))
}

func hintStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn,
	method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream,
	error) {
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, tlsHint(err)
	}
	return hintedStream{cs}, nil
}

// hintedStream passes a stream's errors through tlsHint.
type hintedStream struct{ grpc.ClientStream }

func (s hintedStream) SendMsg(m any) error { return tlsHint(s.ClientStream.SendMsg(m)) }
func (s hintedStream) RecvMsg(m any) error { return tlsHint(s.ClientStream.RecvMsg(m)) }
func (s hintedStream) CloseSend() error    { return tlsHint(s.ClientStream.CloseSend()) }
