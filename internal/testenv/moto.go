package testenv

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// EnvMoto names the moto_server binary (default: moto_server on PATH, then pyenv's shims).
const EnvMoto = "ECSD_TEST_MOTO"

// MotoRegion is the region tests create their AWS resources in.
const MotoRegion = "us-east-1"

// MotoBinary finds moto_server, the AWS emulator the tests use as the AWS side
// (CloudWatch Logs, SSM, Secrets Manager, S3, STS, ECR).
func MotoBinary() (string, error) {
	if v := os.Getenv(EnvMoto); v != "" {
		return v, nil
	}
	if p, err := exec.LookPath("moto_server"); err == nil {
		return p, nil
	}
	home, _ := os.UserHomeDir()
	p := filepath.Join(home, ".pyenv", "shims", "moto_server")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("moto_server not found on PATH or in ~/.pyenv/shims (set %s): install moto[server] 5.2.1", EnvMoto)
}

// Moto starts a fresh moto_server on a free loopback port for the test and returns its
// URL ("http://127.0.0.1:PORT"). It fails the test (never skips) when moto is missing,
// and stops the server, by its PID, when the test ends.
func Moto(t testing.TB) string {
	t.Helper()
	bin, err := MotoBinary()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	logf, err := os.CreateTemp(t.TempDir(), "moto-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		// The pyenv shim execs python: the process group holds whatever it became.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
		logf.Close()
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get(url + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return url
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("moto_server on %s did not answer in 30 s: %v\n%s", url, err, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
