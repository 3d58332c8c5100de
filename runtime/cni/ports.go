//go:build linux

package cni

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// portKey is one host port of one protocol.
type portKey struct {
	Proto string
	Port  uint16
}

func (k portKey) String() string { return fmt.Sprintf("%d/%s", k.Port, k.Proto) }

// portMap is one entry of portmap's "portMappings" runtime config (ranges are expanded).
type portMap struct {
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

// portTable books host ports per ID and holds each booked port with a socket in the host
// namespace. It is guarded by Manager.mu.
type portTable struct {
	dynamic  [2]uint16
	reserved map[portKey]bool
	owner    map[portKey]string
	holders  map[portKey]io.Closer
	byID     map[string][]portKey
	cursor   uint16 // next dynamic port to try, so released ports are not reused at once
}

func newPortTable(dynamic [2]uint16, tcp, udp []uint16) *portTable {
	t := &portTable{
		dynamic:  dynamic,
		reserved: map[portKey]bool{},
		owner:    map[portKey]string{},
		holders:  map[portKey]io.Closer{},
		byID:     map[string][]portKey{},
		cursor:   dynamic[0],
	}
	for _, p := range tcp {
		t.reserved[portKey{"tcp", p}] = true
	}
	for _, p := range udp {
		t.reserved[portKey{"udp", p}] = true
	}
	return t
}

// hold binds 0.0.0.0:port in the calling thread's namespace. portmap's DNAT rules act before
// the socket would see traffic; the socket only keeps host processes off the port.
func hold(k portKey) (io.Closer, error) {
	switch k.Proto {
	case "tcp":
		return net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4zero, Port: int(k.Port)})
	default:
		return net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero, Port: int(k.Port)})
	}
}

func inUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }

// claim books keys for id as they are (restart path) and reopens their holders. Booking never
// fails; the error lists holders that could not be reopened.
func (t *portTable) claim(id string, keys []portKey) error {
	var errs []error
	for _, k := range keys {
		if t.owner[k] == id {
			continue
		}
		t.owner[k] = id
		t.byID[id] = append(t.byID[id], k)
		h, err := hold(k)
		if err != nil {
			errs = append(errs, fmt.Errorf("host port %s: %w", k, err))
			continue
		}
		t.holders[k] = h
	}
	return errors.Join(errs...)
}

// take books k for id and holds it. It fails with ErrPortAllocated if another ID or a host
// process has it.
func (t *portTable) take(id string, k portKey) error {
	if o, ok := t.owner[k]; ok {
		return fmt.Errorf("cni: host port %s: %w (by %s)", k, ErrPortAllocated, o)
	}
	h, err := hold(k)
	if err != nil {
		if inUse(err) {
			return fmt.Errorf("cni: host port %s: %w (in use on the host)", k, ErrPortAllocated)
		}
		return fmt.Errorf("cni: hold host port %s: %w", k, err)
	}
	t.owner[k] = id
	t.holders[k] = h
	t.byID[id] = append(t.byID[id], k)
	return nil
}

// dynamicBlock books n contiguous free ports of proto from the dynamic range for id and
// returns the first.
func (t *portTable) dynamicBlock(id, proto string, n int) (uint16, error) {
	lo, hi := int(t.dynamic[0]), int(t.dynamic[1])
	size := hi - lo + 1
	if n > size {
		return 0, fmt.Errorf("cni: %d %s ports: %w", n, proto, ErrNoFreePorts)
	}
	start := int(t.cursor)
	if start < lo || start > hi {
		start = lo
	}
	for tried := 0; tried < size; {
		if start+n-1 > hi {
			tried += hi - start + 1
			start = lo
			continue
		}
		ok := true
		var taken []portKey
		for p := start; p < start+n; p++ {
			k := portKey{proto, uint16(p)}
			if t.reserved[k] || t.owner[k] != "" {
				ok = false
			} else if err := t.take(id, k); err != nil {
				ok = false
			} else {
				taken = append(taken, k)
			}
			if !ok {
				t.unbook(id, taken)
				tried += p - start + 1
				start = p + 1
				break
			}
		}
		if ok {
			next := start + n
			if next > hi {
				next = lo
			}
			t.cursor = uint16(next)
			return uint16(start), nil
		}
		if start > hi {
			start = lo
		}
	}
	return 0, fmt.Errorf("cni: %d %s port(s) in %d-%d: %w", n, proto, lo, hi, ErrNoFreePorts)
}

// unbook releases keys of id (roll back of a partial allocation).
func (t *portTable) unbook(id string, keys []portKey) {
	for _, k := range keys {
		if t.owner[k] != id {
			continue
		}
		delete(t.owner, k)
		if h := t.holders[k]; h != nil {
			h.Close()
			delete(t.holders, k)
		}
	}
	rest := t.byID[id][:0]
	for _, k := range t.byID[id] {
		if t.owner[k] == id {
			rest = append(rest, k)
		}
	}
	if len(rest) == 0 {
		delete(t.byID, id)
	} else {
		t.byID[id] = rest
	}
}

// release frees every port of id.
func (t *portTable) release(id string) { t.unbook(id, t.byID[id]) }

// closeAll closes the holders but keeps the bookings (Manager.Close).
func (t *portTable) closeAll() {
	for k, h := range t.holders {
		h.Close()
		delete(t.holders, k)
	}
}

// allocatePorts books host ports for every mapping of id and returns portmap's runtime config
// (ranges expanded) and the ECS bindings. On error nothing stays booked.
func (m *Manager) allocatePorts(id string, mappings []PortMapping) ([]portMap, []Binding, error) {
	if len(mappings) == 0 {
		return nil, nil, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var maps []portMap
	var binds []Binding
	err := m.inHost(func() error {
		for _, pm := range mappings {
			proto := strings.ToLower(pm.Protocol)
			if proto == "" {
				proto = "tcp"
			}
			if proto != "tcp" && proto != "udp" {
				return fmt.Errorf("cni: protocol %q: %w", pm.Protocol, ErrInvalidRequest)
			}
			if pm.ContainerPortRange != "" {
				a, b, err := parseRange(pm.ContainerPortRange)
				if err != nil {
					return err
				}
				if pm.ContainerPort != 0 || pm.HostPort != 0 {
					return fmt.Errorf("cni: container port range %s with a single port: %w", pm.ContainerPortRange, ErrInvalidRequest)
				}
				n := int(b) - int(a) + 1
				h, err := m.ports.dynamicBlock(id, proto, n)
				if err != nil {
					return err
				}
				for i := range n {
					maps = append(maps, portMap{HostPort: int(h) + i, ContainerPort: int(a) + i, Protocol: proto})
				}
				binds = append(binds, Binding{HostIP: "0.0.0.0", ContainerPortRange: pm.ContainerPortRange,
					HostPortRange: fmt.Sprintf("%d-%d", h, int(h)+n-1), Protocol: proto})
				continue
			}
			if pm.ContainerPort == 0 {
				return fmt.Errorf("cni: container port 0: %w", ErrInvalidRequest)
			}
			host := pm.HostPort
			if host != 0 {
				k := portKey{proto, host}
				if m.ports.reserved[k] {
					return fmt.Errorf("cni: host port %s: %w", k, ErrPortReserved)
				}
				if err := m.ports.take(id, k); err != nil {
					return err
				}
			} else {
				h, err := m.ports.dynamicBlock(id, proto, 1)
				if err != nil {
					return err
				}
				host = h
			}
			maps = append(maps, portMap{HostPort: int(host), ContainerPort: int(pm.ContainerPort), Protocol: proto})
			binds = append(binds, Binding{HostIP: "0.0.0.0", ContainerPort: pm.ContainerPort, HostPort: host, Protocol: proto})
		}
		return nil
	})
	if err != nil {
		m.ports.release(id)
		return nil, nil, err
	}
	return maps, binds, nil
}

func parseRange(s string) (uint16, uint16, error) {
	as, bs, ok := strings.Cut(s, "-")
	a, err1 := strconv.ParseUint(strings.TrimSpace(as), 10, 16)
	b, err2 := strconv.ParseUint(strings.TrimSpace(bs), 10, 16)
	if !ok || err1 != nil || err2 != nil || a == 0 || b < a {
		return 0, 0, fmt.Errorf("cni: port range %q: %w", s, ErrInvalidRequest)
	}
	return uint16(a), uint16(b), nil
}

// kernelPortRange reads net.ipv4.ip_local_port_range of the calling thread's namespace.
func kernelPortRange() ([2]uint16, bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return [2]uint16{}, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return [2]uint16{}, false
	}
	lo, err1 := strconv.ParseUint(f[0], 10, 16)
	hi, err2 := strconv.ParseUint(f[1], 10, 16)
	if err1 != nil || err2 != nil || lo == 0 || lo > hi {
		return [2]uint16{}, false
	}
	return [2]uint16{uint16(lo), uint16(hi)}, true
}
