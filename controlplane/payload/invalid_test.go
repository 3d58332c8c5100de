package payload

import (
	"errors"
	"strings"
	"testing"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

func TestInvalidTaskObject(t *testing.T) {
	task := baseTask()
	task.Containers[0].Image = ""
	task.TaskClusterArn = testClusterARN
	task.RoleCredentials = &IAMRoleCredentials{CredentialsID: "c", SecretAccessKey: "secret-value-xyz"}
	_, _, err := ToObjects(task, Options{})
	if err == nil {
		t.Fatal("want error")
	}
	obj := InvalidTaskObject(task, err)
	if obj.Name != testTaskID || obj.Namespace != v1alpha1.Namespace || obj.Kind != "Task" {
		t.Fatalf("meta %+v", obj.ObjectMeta)
	}
	want := "UnrecogniedTaskError: Error loading task - container web: image: missing"
	if obj.Spec.Invalid != want || InvalidReason(err) != want {
		t.Fatalf("reason %q", obj.Spec.Invalid)
	}
	if obj.Spec.DesiredStatus != v1alpha1.TaskStatusStopped || obj.Spec.ARN != testTaskARN || obj.Spec.Family != "web" ||
		obj.Spec.ClusterARN != testClusterARN || len(obj.Spec.Containers) != 0 || obj.Spec.RoleCredentialsID != "" {
		t.Fatalf("spec %+v", obj.Spec)
	}
	if obj.Labels[v1alpha1.LabelTaskARN] != testTaskARN || obj.Labels[v1alpha1.LabelTaskName] != testTaskID {
		t.Fatalf("labels %v", obj.Labels)
	}
	checkNoSecrets(t, []string{"secret-value-xyz"}, obj)
}

func TestInvalidTaskObjectNames(t *testing.T) {
	err := errors.New("boom")
	a := InvalidTaskObject(&Task{Arn: "garbage"}, err)
	b := InvalidTaskObject(&Task{Arn: "garbage", Family: "other"}, err)
	c := InvalidTaskObject(&Task{Arn: "other garbage"}, err)
	if !strings.HasPrefix(a.Name, "invalid-") || a.Name != b.Name || a.Name == c.Name || !validName(a.Name) {
		t.Fatalf("names %q %q %q", a.Name, b.Name, c.Name)
	}
	// Without an ARN the name comes from the content, credentials excluded.
	d := InvalidTaskObject(&Task{Family: "f", RoleCredentials: &IAMRoleCredentials{CredentialsID: "1"}}, err)
	e := InvalidTaskObject(&Task{Family: "f", RoleCredentials: &IAMRoleCredentials{CredentialsID: "2"}}, err)
	f := InvalidTaskObject(&Task{Family: "g"}, err)
	if d.Name != e.Name || d.Name == f.Name || d.Name == a.Name {
		t.Fatalf("names %q %q %q", d.Name, e.Name, f.Name)
	}
	if _, ok := d.Labels[v1alpha1.LabelTaskARN]; ok {
		t.Fatal("empty ARN label")
	}
	n := InvalidTaskObject(nil, nil)
	if n.Name == "" || n.Spec.Invalid != InvalidReasonPrefix+"unknown error" || n.Spec.DesiredStatus != v1alpha1.TaskStatusStopped {
		t.Fatalf("%+v", n)
	}
}
