package controllers

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

func unitRecordTask() (*api.Task, map[string]*api.Container) {
	task := unitTask("app", "side")
	task.Labels = map[string]string{api.LabelTaskARN: task.Spec.ARN}
	task.Spec.RoleCredentialsID = "cred-1"
	owner := []metav1.OwnerReference{{APIVersion: api.GroupVersion.String(), Kind: "Task", Name: task.Name, Controller: ptr.To(true)}}
	app := unitContainer("app", api.ContainerStatusRunning, api.ContainerStatusRunning, func(c *api.Container) {
		c.Labels = map[string]string{api.LabelContainerName: "app"}
		c.OwnerReferences = owner
		c.Spec.Environment = map[string]string{"MODE": "prod"}
		c.Spec.Secrets = []api.SecretRef{{Name: "DB_PASSWORD", ValueFrom: "arn:aws:ssm:us-west-2:1:parameter/db", Provider: api.SecretProviderSSM, Target: api.SecretTargetContainer}}
	})
	side := unitContainer("side", api.ContainerStatusPulled, api.ContainerStatusRunning, unitNotEssential)
	return task, unitSiblings(app, side)
}

// TestAdoptionRecordEncodeDecodeRoundTrip: what the create step keeps with a runtime container is
// enough to rebuild the task's objects, and holds references to secrets, never values.
func TestAdoptionRecordEncodeDecodeRoundTrip(t *testing.T) {
	task, sib := unitRecordTask()
	b, err := encodeAdoptionRecord(task, sib)
	if err != nil {
		t.Fatal(err)
	}
	r, err := decodeAdoptionRecord(b, task.Name, task.Spec.ARN)
	if err != nil {
		t.Fatal(err)
	}
	if r.Task.Name != task.Name || r.Task.Spec.ARN != task.Spec.ARN || r.Task.Spec.RoleCredentialsID != "cred-1" || r.Task.Labels[api.LabelTaskARN] != task.Spec.ARN {
		t.Errorf("task %+v", r.Task)
	}
	if len(r.Containers) != 2 {
		t.Fatalf("%d containers, want 2", len(r.Containers))
	}
	app := r.container("app")
	if app == nil || app.Name != sib["app"].Name || app.Spec.Environment["MODE"] != "prod" || len(app.OwnerReferences) != 1 || app.Labels[api.LabelContainerName] != "app" {
		t.Errorf("app %+v", app)
	}
	if side := r.container("side"); side == nil || side.Spec.Essential {
		t.Errorf("side %+v", side)
	}
	if r.container("ghost") != nil {
		t.Error("a container not in the record was found")
	}
	if strings.Contains(string(b), "status") && strings.Contains(string(b), "knownStatus") {
		t.Errorf("the record carries status, which the runtime knows better: %s", b)
	}
}

func TestAdoptionRecordSkipsContainersNotCreatedAsObjects(t *testing.T) {
	task, sib := unitRecordTask()
	delete(sib, "side")
	b, err := encodeAdoptionRecord(task, sib)
	if err != nil {
		t.Fatal(err)
	}
	r, err := decodeAdoptionRecord(b, task.Name, task.Spec.ARN)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Containers) != 1 || r.container("app") == nil {
		t.Fatalf("containers %+v, want app only", r.Containers)
	}
}

// TestAdoptionRecordSizeBound: a record larger than the runtime keeps is refused at create
// (the container is then created without one) rather than truncated.
func TestAdoptionRecordSizeBound(t *testing.T) {
	task, sib := unitRecordTask()
	sib["app"].Spec.Environment = map[string]string{"BIG": strings.Repeat("x", runtime.MaxRecordSize)}
	if _, err := encodeAdoptionRecord(task, sib); err == nil || !strings.Contains(err.Error(), "larger than the runtime keeps") {
		t.Fatalf("err = %v, want the size bound", err)
	}
}

// TestDecodeAdoptionRecordRefusesWhatCannotRebuildTheTask covers every way a record can be
// unusable; each is errBadRecord, so the task is stopped with AgentStateLostError instead.
func TestDecodeAdoptionRecordRefusesWhatCannotRebuildTheTask(t *testing.T) {
	task, sib := unitRecordTask()
	good, err := encodeAdoptionRecord(task, sib)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(*adoptionRecord)) []byte {
		var r adoptionRecord
		if err := json.Unmarshal(good, &r); err != nil {
			t.Fatal(err)
		}
		f(&r)
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name      string
		b         []byte
		task, arn string
		want      string
	}{
		{"no record (an older agent's container)", nil, task.Name, task.Spec.ARN, "the container has none"},
		{"corrupt JSON", good[:len(good)/2], task.Name, task.Spec.ARN, "unusable adoption record"},
		{"not JSON at all", []byte("\x00\x01garbage"), task.Name, task.Spec.ARN, "unusable adoption record"},
		{"another version", edit(func(r *adoptionRecord) { r.Version = 2 }), task.Name, task.Spec.ARN, "version 2, this agent reads 1"},
		{"another task's name", good, "fedcba9876543210", task.Spec.ARN, "the container's labels say \"fedcba9876543210\""},
		{"another task's ARN", good, task.Name, "arn:aws:ecs:us-west-2:123456789012:task/default/other", "it describes task"},
		{"a container of another task", edit(func(r *adoptionRecord) { r.Containers[0].Spec.TaskName = "other" }), task.Name, task.Spec.ARN, "does not belong to task"},
		{"a container whose object name does not match", edit(func(r *adoptionRecord) { r.Containers[0].Name = "x-app" }), task.Name, task.Spec.ARN, "does not belong to task"},
		{"a container listed twice", edit(func(r *adoptionRecord) { r.Containers = append(r.Containers, r.Containers[0]) }), task.Name, task.Spec.ARN, "is not listed once in the task"},
		{"a container the task does not list", edit(func(r *adoptionRecord) { r.Task.Spec.Containers = []string{"side"} }), task.Name, task.Spec.ARN, `container "app" is not listed once`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := decodeAdoptionRecord(tc.b, tc.task, tc.arn)
			if r != nil || !errors.Is(err, errBadRecord) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("decode = %v, %v; want errBadRecord saying %q", r, err, tc.want)
			}
		})
	}
}
