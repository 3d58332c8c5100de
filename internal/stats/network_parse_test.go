package stats

import (
	"encoding/binary"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// rtattr encodes one netlink route attribute, padded to 4 bytes.
func rtattr(typ uint16, val []byte) []byte {
	b := make([]byte, 4, 4+len(val)+3)
	binary.NativeEndian.PutUint16(b[0:], uint16(4+len(val)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// linkMsg encodes an RTM_NEWLINK message with the given flags and attributes.
func linkMsg(flags uint32, attrs ...[]byte) []byte {
	body := make([]byte, syscall.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(body[8:], flags)
	for _, a := range attrs {
		body = append(body, a...)
	}
	h := make([]byte, syscall.NLMSG_HDRLEN)
	binary.NativeEndian.PutUint32(h[0:], uint32(len(h)+len(body)))
	binary.NativeEndian.PutUint16(h[4:], syscall.RTM_NEWLINK)
	return append(h, body...)
}

func counters(size int, n int) []byte {
	b := make([]byte, size*n)
	for i := range n {
		if size == 8 {
			binary.NativeEndian.PutUint64(b[i*8:], uint64(i+1))
		} else {
			binary.NativeEndian.PutUint32(b[i*4:], uint32(i+1))
		}
	}
	return b
}

// TestParseLinks checks the field order of rtnl_link_stats64 and the older 32-bit struct
// with distinct values (a veth carries no errors or drops, so the namespace test cannot),
// and that loopback interfaces are left out.
func TestParseLinks(t *testing.T) {
	want := NetworkStats{RxPackets: 1, TxPackets: 2, RxBytes: 3, TxBytes: 4, RxErrors: 5, TxErrors: 6, RxDropped: 7, TxDropped: 8}
	var rib []byte
	rib = append(rib, linkMsg(syscall.IFF_LOOPBACK|syscall.IFF_UP, rtattr(syscall.IFLA_IFNAME, []byte("lo\x00")), rtattr(unix.IFLA_STATS64, counters(8, 24)))...)
	rib = append(rib, linkMsg(syscall.IFF_UP, rtattr(syscall.IFLA_IFNAME, []byte("eth0\x00")),
		rtattr(syscall.IFLA_STATS, make([]byte, 4*23)), rtattr(unix.IFLA_STATS64, counters(8, 24)))...)
	rib = append(rib, linkMsg(0, rtattr(syscall.IFLA_IFNAME, []byte("old\x00")), rtattr(syscall.IFLA_STATS, counters(4, 23)))...)
	rib = append(rib, linkMsg(0, rtattr(syscall.IFLA_IFNAME, []byte("nostats\x00")))...)
	got, err := parseLinks(rib)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["eth0"] != want || got["old"] != want {
		t.Errorf("parsed %+v, want eth0 and old with %+v", got, want)
	}
}
