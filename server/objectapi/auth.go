package objectapi

import (
	"net"
	"net/http"
	"net/netip"

	"github.com/ecsd/ecsd/internal/peer"
)

// HostRootCaller is Options.HostCaller for a server on this host: the request's connection
// was made by a root process on the host outside every task (see peer.HostRoot).
func HostRootCaller(hr peer.HostRoot) func(*http.Request) bool {
	return func(r *http.Request) bool {
		client, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil {
			return false
		}
		la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		if !ok {
			return false
		}
		server, err := netip.ParseAddrPort(la.String())
		if err != nil {
			return false
		}
		return hr.Allows(client, server)
	}
}
