// Package auth is the security layer of hydrocast's servers: it authenticates callers
// by JWT bearer token, authorizes each gRPC method and HTTP route by role, limits
// call rates per principal and per remote address, and writes an audit trail.
//
// The pieces live in subpackages, each usable alone: token (verifying tokens from a
// local Ed25519 key or an OpenID Connect provider, and minting local ones),
// tlsconfig (TLS 1.3 and mutual TLS from PEM files, reloaded while serving),
// ratelimit (token buckets per key in a bounded table, and a gate bounding the calls
// in flight), audit (the hash-chained
// JSON-lines audit file) and pseudonym (keyed pseudonyms for athlete ids in logs).
// This package joins them in a Guard.
//
// # Roles and policy
//
// A token's roles claim names roles; each grants permissions (RolePermissions), and
// the Policy says which permission each method and route needs. Health checks,
// liveness, readiness and reflection are public, so that orchestrators and grpcurl
// work without credentials. A method or route the policy does not name is denied to
// everyone, including admin. Policy.Uncovered lists the served methods the policy
// lacks.
//
// # Wiring into a server
//
//	if err := auth.CheckBind(addr, verifier != nil, insecureFlag); err != nil { … }
//	guard := auth.New(auth.Options{Verifier: verifier, Audit: auditLog,
//		PrincipalLimit: ratelimit.New(…), AddressLimit: ratelimit.New(…),
//		Inflight: ratelimit.NewGate(512),
//		AttachPrincipal: registry.WithPrincipal, Logger: log})
//	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(reloader.ServerConfig())),
//		grpc.ChainUnaryInterceptor(guard.UnaryInterceptor()),
//		grpc.ChainStreamInterceptor(guard.StreamInterceptor()))
//	… register services …
//	if missing := auth.DefaultPolicy().Uncovered(gs); len(missing) > 0 { … }
//	httpSrv := &http.Server{Handler: guard.Middleware(oipSrv.Handler()),
//		TLSConfig: reloader.ServerConfig()}
//
// A nil Verifier turns authentication off, for loopback listeners; CheckBind refuses
// other addresses then, unless the operator insists. `hydrocast serve` wires it this
// way (cmd/hydrocast/authserve.go); docs/security.md describes the setup for operators.
package auth
