package auth

import (
	"errors"
	"fmt"
	"net"
)

// ErrUnauthenticatedBind is returned by CheckBind for a listener other machines can
// reach while authentication is off.
var ErrUnauthenticatedBind = errors.New("refusing to serve without authentication " +
	"on a non-loopback address")

// CheckBind says whether a server may listen on addr (host:port) with authentication
// as configured. Loopback addresses may run without authentication, as the embedded
// default does; any other address (including an empty host or 0.0.0.0, which mean
// every interface, and host names, which are not resolved here) needs authentication
// unless unsafeOK, the --insecure-allow-unauthenticated option, is set.
func CheckBind(addr string, authEnabled, unsafeOK bool) error {
	if authEnabled || unsafeOK {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("check listen address %q: %w", addr, err)
	}
	if isLoopback(host) {
		return nil
	}
	return fmt.Errorf("listen address %q is reachable from other machines: %w; "+
		"configure token authentication (--auth local or oidc), listen on 127.0.0.1, "+
		"or pass --insecure-allow-unauthenticated to accept that anyone who can reach "+
		"the port reads and changes athletes' data", addr, ErrUnauthenticatedBind)
}

// isLoopback reports whether host names only this machine: "localhost" or a loopback
// IP literal.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
