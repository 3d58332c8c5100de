package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testenv"
)

// TestLogRotationThroughTheAgent: a container's json-file max-size/max-file bound what its
// output leaves on the host's disk, the default bounds one without options, `none` keeps
// nothing, and the object API's full read still returns the newest output across the
// rotated files.
func TestLogRotationThroughTheAgent(t *testing.T) {
	t.Parallel()
	h := newAgentHost(t)
	// 64 MiB of numbered lines, then a marker; the container then waits to be stopped.
	script := `i=0; while [ $i -lt 65536 ]; do printf '%01017d\n' $i; i=$((i+1)); done; echo done-writing; sleep 600`
	task := func(id, logConfig string) {
		hc := ""
		if logConfig != "" {
			hc = fmt.Sprintf(`,"dockerConfig":{"hostConfig":%q}`, `{"LogConfig":`+logConfig+`}`)
		}
		h.addTask(id, fmt.Sprintf(`[{"name":"app","image":%q,"essential":true,"command":["sh","-c",%q]%s}]`,
			testenv.BusyboxImage(), script, hc))
	}
	task("rot", `{"Type":"json-file","Config":{"max-size":"1m","max-file":"3"}}`)
	task("dflt", "")
	task("none", `{"Type":"none"}`)
	h.start()
	defer h.kill(syscall.SIGTERM)
	objects := newObjectClient(h)

	logDir := func(id string) string { return filepath.Join(h.dir, "data", "tasks", id, "logs") }
	usage := func(id string) (total int64, files []string) {
		entries, _ := os.ReadDir(logDir(id))
		for _, e := range entries {
			if fi, err := e.Info(); err == nil && strings.HasPrefix(e.Name(), "app.log") && !strings.HasSuffix(e.Name(), ".status") {
				total += fi.Size()
				files = append(files, fmt.Sprintf("%s=%d", e.Name(), fi.Size()))
			}
		}
		return total, files
	}
	finished := func(id string) bool {
		b, _ := os.ReadFile(filepath.Join(logDir(id), "app.log"))
		return strings.Contains(string(b), "done-writing")
	}
	waitUntil(t, h, "both logging containers finished writing", 3*time.Minute, func() bool { return finished("rot") && finished("dflt") })

	if total, files := usage("rot"); total > 3<<20 || len(files) != 3 {
		t.Errorf("max-size=1m,max-file=3 left %d bytes in %v, want at most 3 MiB in 3 files", total, files)
	}
	if total, files := usage("dflt"); total > 50<<20 || total < 40<<20 {
		t.Errorf("the default bound (10m x 5) left %d bytes in %v of 64 MiB written", total, files)
	}
	var ctr api.Container
	waitUntil(t, h, "the none container running", time.Minute, func() bool {
		ctr = api.Container{}
		return objects.get(t, "/containers/none-app", &ctr) && ctr.Status.KnownStatus == api.ContainerStatusRunning
	})
	if total, files := usage("none"); total != 0 || len(files) != 0 {
		t.Errorf("logDriver none left %v", files)
	}
	// A full read spans the rotated files and ends with the newest output.
	body := objects.raw(t, "/containers/rot-app/log")
	if !strings.HasSuffix(body, "done-writing\n") || len(body) < 2<<20 {
		t.Errorf("full read of a rotated log: %d bytes ending %q", len(body), tail([]byte(body), 40))
	}
}

// raw reads path under the object API as bytes (at most 16 MiB), failing the test unless
// it answers 200.
func (o *objectClient) raw(t *testing.T, path string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, objectAPI+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+o.h.apiToken())
	c := *o.c
	c.Timeout = time.Minute
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v: %s", path, resp.Status, err, tail(body, 300))
	}
	return string(body)
}
