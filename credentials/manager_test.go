package credentials

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestManagerRefreshReplacesOldID(t *testing.T) {
	m := NewManager()
	a := Entry{ID: "a", TaskARN: "t1", RoleType: TaskApplication, SecretAccessKey: "s3cret"}
	if err := m.Set(a); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(Entry{ID: "x", TaskARN: "t1", RoleType: TaskExecution}); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(Entry{ID: "b", TaskARN: "t1", RoleType: TaskApplication}); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Get("a"); ok {
		t.Error("refreshed credentials a still served")
	}
	if e, ok := m.ForTask("t1", TaskApplication); !ok || e.ID != "b" {
		t.Errorf("ForTask(application) = %v, %v; want b", e, ok)
	}
	if e, ok := m.ForTask("t1", TaskExecution); !ok || e.ID != "x" {
		t.Errorf("ForTask(execution) = %v, %v; want x", e, ok)
	}
	m.RemoveTask("t1")
	if m.Len() != 0 {
		t.Errorf("after RemoveTask, %d entries left", m.Len())
	}
	if err := m.Set(Entry{TaskARN: "t2"}); err == nil {
		t.Error("Set without ID succeeded")
	}
}

func TestEntryNeverPrintsSecrets(t *testing.T) {
	e := Entry{ID: "id", AccessKeyID: "AKIDSECRET", SecretAccessKey: "s3cret", SessionToken: "tok3n", Expiration: time.Unix(1, 0)}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(f, e)
		for _, s := range []string{"AKIDSECRET", "s3cret", "tok3n"} {
			if strings.Contains(out, s) {
				t.Errorf("%s printed %q: %s", f, s, out)
			}
		}
	}
	if !e.Expired(time.Unix(2, 0)) || e.Expired(time.Unix(0, 0)) || (Entry{}).Expired(time.Now()) {
		t.Error("Expired wrong")
	}
}
