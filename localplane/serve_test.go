package localplane

import (
	"errors"
	"testing"
)

func TestLoopbackListenAddr(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:51690":        "127.0.0.1:51690",
		"127.0.0.2:0":            "127.0.0.2:0",
		"localhost:51690":        "127.0.0.1:51690",
		"[::1]:51690":            "[::1]:51690",
		"[::ffff:127.0.0.1]:123": "127.0.0.1:123",
	} {
		if got, err := LoopbackListenAddr(in); err != nil || got != want {
			t.Errorf("LoopbackListenAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{":51690", "0.0.0.0:51690", "[::]:51690", "10.0.0.1:51690", "example.com:80", "127.0.0.1", ""} {
		if got, err := LoopbackListenAddr(in); err == nil {
			t.Errorf("LoopbackListenAddr(%q) = %q, want an error", in, got)
		} else if in != "127.0.0.1" && in != "" && !errors.Is(err, ErrNotLoopback) {
			t.Errorf("LoopbackListenAddr(%q): %v, want ErrNotLoopback", in, err)
		}
	}
}
