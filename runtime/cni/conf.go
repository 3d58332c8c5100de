//go:build linux

package cni

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
)

// Network names, also the prefix of libcni cache files. IDs() and Teardown only act on these.
const (
	netBridge = "ecsd-bridge"
	netNone   = "ecsd-none"
	netAWSVPC = "ecsd-awsvpc"
	// netEndpoints is an awsvpc task's second leg, on its own bridge, carrying only the
	// route to the agent's endpoints (169.254.170.2).
	netEndpoints = "ecsd-endpoints"
)

// cniVersion is the newest spec version Debian's plugins 1.1.1 speak.
const cniVersion = "1.0.0"

func ourNetwork(name string) bool {
	return name == netBridge || name == netNone || name == netAWSVPC || name == netEndpoints
}

type confList struct {
	CNIVersion string `json:"cniVersion"`
	Name       string `json:"name"`
	Plugins    []any  `json:"plugins"`
}

// bridgeConfList: bridge with the host as gateway and masquerade for egress, hairpin so a
// container can reach itself through its own published port; host-local IPAM with its leases
// in ipamDir (so they survive restarts and are released by DEL); portmap with SNAT so
// 127.0.0.1:<hostPort> works from the host (portmap then sets route_localnet on the bridge).
func bridgeConfList(bridge string, subnet netip.Prefix, ipamDir string) ([]byte, error) {
	gw := subnet.Addr().Next()
	return json.Marshal(confList{CNIVersion: cniVersion, Name: netBridge, Plugins: []any{
		map[string]any{
			"type":        "bridge",
			"bridge":      bridge,
			"isGateway":   true,
			"ipMasq":      true,
			"hairpinMode": true,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]map[string]string{{{"subnet": subnet.String(), "gateway": gw.String()}}},
				"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
				"dataDir": ipamDir,
			},
		},
		map[string]any{
			"type":         "portmap",
			"capabilities": map[string]bool{"portMappings": true},
			"snat":         true,
		},
	}})
}

// endpointsConfList is the leg an awsvpc task reaches the agent's endpoints through: a veth
// on a bridge of its own (not the bridge-mode one, so awsvpc tasks cannot reach bridge-mode
// containers) with one route, to EndpointsAddress, and no masquerade, so it leads nowhere
// else. The endpoints tell the calling task by the leg's address.
func endpointsConfList(bridge string, subnet netip.Prefix, ipamDir string) ([]byte, error) {
	gw := subnet.Addr().Next()
	return json.Marshal(confList{CNIVersion: cniVersion, Name: netEndpoints, Plugins: []any{
		map[string]any{
			"type":      "bridge",
			"bridge":    bridge,
			"isGateway": true,
			"ipMasq":    false,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]map[string]string{{{"subnet": subnet.String(), "gateway": gw.String()}}},
				"routes":  []map[string]string{{"dst": EndpointsAddress + "/32"}},
				"dataDir": ipamDir,
			},
		},
	}})
}

// noneConfList brings loopback up and nothing else.
func noneConfList() []byte {
	b, _ := json.Marshal(confList{CNIVersion: cniVersion, Name: netNone, Plugins: []any{
		map[string]any{"type": "loopback"},
	}})
	return b
}

// awsvpcConfList moves the ENI (by MAC) into the namespace and configures it statically from
// the payload; the loopback plugin brings lo up. host-device's DEL moves the ENI back.
func awsvpcConfList(eni *ENI) ([]byte, error) {
	var gw netip.Addr
	if eni.Gateway != "" {
		var err error
		if gw, err = netip.ParseAddr(eni.Gateway); err != nil || !gw.Is4() {
			return nil, fmt.Errorf("cni: ENI gateway %q: %w", eni.Gateway, ErrInvalidRequest)
		}
	}
	var addrs []map[string]string
	for _, a := range eni.IPv4 {
		p, err := netip.ParsePrefix(a)
		if err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("cni: ENI address %q: %w", a, ErrInvalidRequest)
		}
		e := map[string]string{"address": p.String()}
		if gw.IsValid() && p.Masked().Contains(gw) {
			e["gateway"] = gw.String()
		}
		addrs = append(addrs, e)
	}
	var routes []map[string]string
	if gw.IsValid() {
		routes = append(routes, map[string]string{"dst": "0.0.0.0/0", "gw": gw.String()})
	}
	for _, r := range eni.Routes {
		p, err := netip.ParsePrefix(r)
		if err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("cni: ENI route %q: %w", r, ErrInvalidRequest)
		}
		if !gw.IsValid() {
			return nil, fmt.Errorf("cni: ENI route %s needs a gateway: %w", r, ErrInvalidRequest)
		}
		routes = append(routes, map[string]string{"dst": p.Masked().String(), "gw": gw.String()})
	}
	mac, _ := net.ParseMAC(eni.MAC)
	ipam := map[string]any{"type": "static", "addresses": addrs}
	if len(routes) > 0 {
		ipam["routes"] = routes
	}
	return json.Marshal(confList{CNIVersion: cniVersion, Name: netAWSVPC, Plugins: []any{
		map[string]any{"type": "host-device", "hwaddr": strings.ToLower(mac.String()), "ipam": ipam},
		map[string]any{"type": "loopback"}, // last: it passes the previous result through
	}})
}

// fillResult copies the primary IPv4 address and gateway of the sandbox interface.
func fillResult(res *Result, raw any) error {
	r, ok := raw.(types.Result)
	if !ok || r == nil {
		return nil // loopback-only networks return nothing of interest
	}
	cur, err := types100.NewResultFromResult(r)
	if err != nil {
		return fmt.Errorf("cni: convert result: %w", err)
	}
	for _, ip := range cur.IPs {
		if ip.Interface != nil && (*ip.Interface >= len(cur.Interfaces) || cur.Interfaces[*ip.Interface].Sandbox == "") {
			continue
		}
		a, ok := netip.AddrFromSlice(ip.Address.IP)
		if !ok || !a.Unmap().Is4() || a.Unmap().IsLoopback() {
			continue
		}
		res.IPv4 = a.Unmap()
		if g, ok := netip.AddrFromSlice(ip.Gateway); ok {
			res.Gateway = g.Unmap()
		}
		return nil
	}
	return nil
}
