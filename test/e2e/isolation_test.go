package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/testenv"
)

// Secrets of the victim task that no other task may read.
const (
	victimEnvSecret = "hunter2-victim-db-pass"
	victimLogSecret = "victim-printed-its-password"
)

// probeScript asks the agent's introspection port at addr for the victim's container, its
// log and every container as a Table, and for /v1/tasks, and prints one PROBE line with the
// HTTP status per request, then what came back. (busybox nc: the static busybox's wget
// crashes in glibc's NSS.)
func probeScript(addr string) string {
	apis := "/apis/ecs.ecsd.io/v1alpha1/namespaces/ecs"
	table := "Accept: application/json;as=Table;v=v1;g=meta.k8s.io"
	return fmt.Sprintf(`probe() {
  printf 'GET %%s HTTP/1.0\r\nHost: %[1]s\r\n%%s\r\n\r\n' "$2" "$3" | nc -w 5 %[1]s 51678 > /tmp/body
  code=$(head -n 1 /tmp/body | cut -d' ' -f2)
  echo "PROBE $1 ${code:-none}"
  head -c 4000 /tmp/body; echo
}
while true; do
  probe object %[2]s/containers/victim-app "Accept: application/json"
  probe log %[2]s/containers/victim-app/log "Accept: */*"
  probe table %[2]s/containers "%[3]s"
  probe tables %[2]s/tasks "%[3]s"
  probe v1tasks /v1/tasks "Accept: application/json"
  echo PROBES-DONE
  sleep 1
done`, addr, apis, table)
}

// From inside tasks in bridge and host network mode, another task's container object, log,
// environment and even its Table rows are refused; /v1/tasks keeps the reference agent's
// exposure without environment or output. From the host, a root process without the token
// gets Tables and task objects (kubectl's view) but never container objects or logs; with
// the token, everything.
func TestObjectAPIRefusesTasks(t *testing.T) {
	t.Parallel()
	h := newAgentHost(t)
	h.hostSetup(t)
	victim := fmt.Sprintf(`{"arn":"%[1]svictim","family":"victim","version":"1","desiredStatus":"RUNNING","networkMode":"bridge",
"containers":[{"name":"app","image":%[2]q,"essential":true,"environment":{"DB_PASS":%[3]q},
"command":["sh","-c","echo %[4]s; trap 'exit 0' TERM; while true; do sleep 0.2; done"]}]}`,
		taskARNPrefix, testenv.BusyboxImage(), victimEnvSecret, victimLogSecret)
	if err := os.WriteFile(filepath.Join(h.tasks, "victim.json"), []byte(victim), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ id, mode, addr string }{
		{"bridgeprobe", "bridge", "172.17.0.1"},
		{"hostprobe", "host", "127.0.0.1"},
	} {
		js := fmt.Sprintf(`{"arn":"%s%s","family":"probe","version":"1","desiredStatus":"RUNNING","networkMode":%q,
"containers":[{"name":"probe","image":%q,"essential":true,"command":["sh","-c",%q]}]}`,
			taskARNPrefix, p.id, p.mode, testenv.BusyboxImage(), probeScript(p.addr))
		if err := os.WriteFile(filepath.Join(h.tasks, p.id+".json"), []byte(js), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h.start()
	defer h.kill(syscall.SIGTERM)

	// The victim runs and has printed its secret, so there is something to steal.
	h.taskLog(t, "victim", "app", victimLogSecret)
	for _, id := range []string{"bridgeprobe", "hostprobe"} {
		// Wait for a round of probes that started after the victim printed its line.
		log := h.taskLog(t, id, "probe", "PROBES-DONE")
		for strings.Count(log, "PROBES-DONE") < 2 {
			log = h.taskLog(t, id, "probe", "PROBES-DONE")
		}
		last := log[strings.LastIndex(log[:strings.LastIndex(log, "PROBES-DONE")], "PROBES-DONE"):]
		for probe, want := range map[string]string{"object": "401", "log": "401", "table": "401", "tables": "401", "v1tasks": "200"} {
			if got := logValue(last, "PROBE "+probe+" "); got != want {
				t.Errorf("%s: %s answered %q, want %s\n%s", id, probe, got, want, last)
			}
		}
		for _, secret := range []string{victimEnvSecret, victimLogSecret} {
			if strings.Contains(log, secret) {
				t.Errorf("%s read the victim's %q:\n%s", id, secret, log)
			}
		}
	}

	// From the host, root outside any task without the token: container objects and logs
	// are refused, Tables and task objects are not; with the token, the container objects
	// (secret-looking values still redacted) and logs.
	anon := h.objectAPIClient(false)
	if out := getObject(anon, objectAPI+"/tasks/victim", "", nil); !strings.HasPrefix(out, "200 ") {
		t.Errorf("host root without the token, the victim's task object: %.300s", out)
	}
	for _, path := range []string{"/containers/victim-app", "/containers/victim-app/log", "/containers", "/containers?watch=true"} {
		if out := getObject(anon, objectAPI+path, "", nil); !strings.HasPrefix(out, "401 ") {
			t.Errorf("host without the token, GET %s: %s", path, out)
		}
	}
	var tbl metav1.Table
	if out := getObject(anon, objectAPI+"/containers", "application/json;as=Table;v=v1;g=meta.k8s.io", &tbl); !strings.HasPrefix(out, "200 ") ||
		strings.Contains(out, victimEnvSecret) {
		t.Errorf("host root without the token, containers as a Table: %s", out)
	}
	authed := h.objectAPIClient(true)
	var c api.Container
	if out := getObject(authed, objectAPI+"/containers/victim-app", "", &c); !strings.HasPrefix(out, "200 ") || c.Spec.Environment["DB_PASS"] == "" {
		t.Errorf("with the token, the victim's container: %s", out)
	}
	if out := getObject(authed, objectAPI+"/containers/victim-app/log", "", nil); !strings.Contains(out, victimLogSecret) {
		t.Errorf("with the token, the victim's log: %s", out)
	}
}
