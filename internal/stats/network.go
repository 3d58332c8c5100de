package stats

import (
	"encoding/binary"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ecsd/ecsd/internal/netns"
	"github.com/ecsd/ecsd/runtime"
)

// ReadNetworkStats returns the counters of every interface in the network namespace at
// path, except loopback interfaces (Docker lists only a container's endpoints, never lo).
//
// It asks the kernel over rtnetlink from inside the namespace, as Docker's libnetwork does,
// so the numbers are the kernel's rtnl_link_stats64: /proc/net/dev would merge rx_dropped
// with missed errors, and /proc/net and /sys/class/net name the namespace of the process or
// of the sysfs mount rather than of the calling thread.
func ReadNetworkStats(path string) (map[string]NetworkStats, error) {
	var out map[string]NetworkStats
	err := netns.Do(path, func() error {
		// The netlink socket is created on this thread and so lives in the namespace.
		rib, err := syscall.NetlinkRIB(syscall.RTM_GETLINK, syscall.AF_UNSPEC)
		if err != nil {
			return fmt.Errorf("netlink dump links: %w", err)
		}
		out, err = parseLinks(rib)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("network stats of %s: %w", path, err)
	}
	// An awsvpc task's leg to the agent carries only its metadata requests, not task
	// traffic; the reference agent counts the ENI alone.
	delete(out, runtime.EndpointsIfName)
	return out, nil
}

// parseLinks decodes an RTM_GETLINK dump into per-interface counters.
func parseLinks(rib []byte) (map[string]NetworkStats, error) {
	msgs, err := syscall.ParseNetlinkMessage(rib)
	if err != nil {
		return nil, fmt.Errorf("parse netlink: %w", err)
	}
	out := map[string]NetworkStats{}
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Type == syscall.NLMSG_DONE {
			break
		}
		if m.Header.Type != syscall.RTM_NEWLINK || len(m.Data) < syscall.SizeofIfInfomsg {
			continue
		}
		// struct ifinfomsg: family, pad, type (u16), index (i32), flags (u32), change.
		if binary.NativeEndian.Uint32(m.Data[8:12])&syscall.IFF_LOOPBACK != 0 {
			continue
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(m)
		if err != nil {
			return nil, fmt.Errorf("parse link attributes: %w", err)
		}
		var name string
		var st NetworkStats
		var have64, have32 bool
		for _, a := range attrs {
			switch a.Attr.Type {
			case syscall.IFLA_IFNAME:
				name = cString(a.Value)
			case unix.IFLA_STATS64:
				st, have64 = linkStats(a.Value, 8), true
			case syscall.IFLA_STATS:
				if !have64 {
					st, have32 = linkStats(a.Value, 4), true
				}
			}
		}
		if name != "" && (have64 || have32) {
			out[name] = st
		}
	}
	return out, nil
}

// linkStats decodes the leading counters of rtnl_link_stats64 (size 8) or the older
// rtnl_link_stats (size 4), which share their field order: rx_packets, tx_packets, rx_bytes,
// tx_bytes, rx_errors, tx_errors, rx_dropped, tx_dropped.
func linkStats(b []byte, size int) NetworkStats {
	field := func(i int) uint64 {
		off := i * size
		if off+size > len(b) {
			return 0
		}
		if size == 8 {
			return binary.NativeEndian.Uint64(b[off:])
		}
		return uint64(binary.NativeEndian.Uint32(b[off:]))
	}
	return NetworkStats{
		RxPackets: field(0), TxPackets: field(1),
		RxBytes: field(2), TxBytes: field(3),
		RxErrors: field(4), TxErrors: field(5),
		RxDropped: field(6), TxDropped: field(7),
	}
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
