package dualtls

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPlainAndTLSOnOnePort(t *testing.T) {
	dir := t.TempDir()
	cert, certPEM, err := LoadOrCreate(filepath.Join(dir, "api.crt"), filepath.Join(dir, "api.key"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.URL.Path)
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(Listener{Listener: ln, Config: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	t.Cleanup(func() { srv.Close() })

	get := func(c *http.Client, url string) string {
		t.Helper()
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	addr := ln.Addr().String()
	if got := get(http.DefaultClient, "http://"+addr+"/plain"); got != "hello /plain" {
		t.Errorf("plain: %q", got)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	tc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for _, host := range []string{addr, "localhost:" + addr[len("127.0.0.1:"):]} {
		if got := get(tc, "https://"+host+"/secure"); got != "hello /secure" {
			t.Errorf("TLS to %s: %q", host, got)
		}
	}
	// A client that does not trust the certificate fails the handshake.
	if _, err := http.Get("https://" + addr + "/"); err == nil {
		t.Error("an untrusting client got through")
	}
}

func TestLoadOrCreateKeepsAndRenews(t *testing.T) {
	dir := t.TempDir()
	cp, kp := filepath.Join(dir, "api.crt"), filepath.Join(dir, "api.key")
	now := time.Now()
	_, first, err := LoadOrCreate(cp, kp, now)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(kp); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %04o, want 0600", fi.Mode().Perm())
	}
	_, again, err := LoadOrCreate(cp, kp, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) {
		t.Error("a valid certificate was replaced")
	}
	_, renewed, err := LoadOrCreate(cp, kp, now.Add(validity-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(first, renewed) {
		t.Error("an expiring certificate was kept")
	}
	if err := os.WriteFile(cp, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreate(cp, kp, now); err != nil {
		t.Errorf("a damaged certificate is not replaced: %v", err)
	}
}
