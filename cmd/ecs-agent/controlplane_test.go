package main

import "testing"

func TestLoopbackListenAddr(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:51680":        "127.0.0.1:51680",
		"127.0.0.2:0":            "127.0.0.2:0",
		"localhost:51680":        "127.0.0.1:51680",
		"[::1]:51680":            "[::1]:51680",
		"[::ffff:127.0.0.1]:123": "127.0.0.1:123",
	} {
		if got, err := loopbackListenAddr(in); err != nil || got != want {
			t.Errorf("loopbackListenAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{":51680", "0.0.0.0:51680", "[::]:51680", "10.0.0.1:51680", "example.com:80", "127.0.0.1", ""} {
		if got, err := loopbackListenAddr(in); err == nil {
			t.Errorf("loopbackListenAddr(%q) = %q, want an error", in, got)
		}
	}
}
