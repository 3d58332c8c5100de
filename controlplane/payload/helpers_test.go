package payload

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

const (
	testTaskARN    = "arn:aws:ecs:us-west-2:111122223333:task/prod/6a1b2c3d4e5f60718293a4b5c6d7e8f9"
	testTaskID     = "6a1b2c3d4e5f60718293a4b5c6d7e8f9"
	testClusterARN = "arn:aws:ecs:us-west-2:111122223333:cluster/prod"
)

// baseTask is a minimal valid two-container task that test cases mutate.
func baseTask() *Task {
	return &Task{
		Arn:           testTaskARN,
		Family:        "web",
		Version:       "3",
		DesiredStatus: "RUNNING",
		NetworkMode:   "bridge",
		Volumes:       []Volume{{Name: "data", Type: "host", Host: &HostVolumeProperties{SourcePath: "/srv/data"}}},
		Containers: []Container{
			{Name: "web", Image: "nginx:1.27", CPU: 256, Memory: 512, Essential: true},
			{Name: "sidecar", Image: "busybox", Memory: 64},
		},
	}
}

// hostConfig returns a DockerConfig with the given hostConfig JSON.
func hostConfig(s string) *DockerConfig { return &DockerConfig{HostConfig: Ptr(EmbeddedJSON(s))} }

// containerConfig returns a DockerConfig with the given config JSON.
func containerConfig(s string) *DockerConfig { return &DockerConfig{Config: Ptr(EmbeddedJSON(s))} }

// mustObjects translates t and fails the test on error.
func mustObjects(t *testing.T, task *Task) (*v1alpha1.Task, []*v1alpha1.Container) {
	t.Helper()
	obj, cs, err := ToObjects(task, Options{ClusterARN: testClusterARN, SeqNum: 7})
	if err != nil {
		t.Fatalf("ToObjects: %v", err)
	}
	return obj, cs
}

// wantErr checks err against a sentinel and a substring of its text.
func wantErr(t *testing.T, err error, sentinel error, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error %v containing %q, got nil", sentinel, substr)
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		t.Fatalf("error %q does not wrap %v", err, sentinel)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Fatalf("error %q does not contain %q", err, substr)
	}
}

// readFixture returns a testdata file.
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodePayload decodes a fixture frame into its PayloadMessage.
func decodePayload(t testing.TB, data []byte) *PayloadMessage {
	t.Helper()
	f, err := DecodeFrame(data)
	if err != nil {
		t.Fatalf("DecodeFrame: %v", err)
	}
	m, err := DecodeMessage(f)
	if err != nil {
		t.Fatalf("DecodeMessage: %v", err)
	}
	p, ok := m.(*PayloadMessage)
	if !ok {
		t.Fatalf("DecodeMessage returned %T, want *PayloadMessage", m)
	}
	return p
}

// secretsOf lists the secret strings of a task's credentials.
func secretsOf(task *Task) []string {
	var out []string
	for _, c := range []*IAMRoleCredentials{task.RoleCredentials, task.ExecutionRoleCredentials} {
		if c == nil {
			continue
		}
		for _, s := range []string{c.AccessKeyID, c.SecretAccessKey, c.SessionToken} {
			if s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// checkNoSecrets fails if any secret appears in the JSON of the objects.
func checkNoSecrets(t testing.TB, secrets []string, objs ...any) {
	t.Helper()
	b, err := json.Marshal(objs)
	if err != nil {
		t.Fatalf("marshal objects: %v", err)
	}
	for _, s := range secrets {
		if strings.Contains(string(b), s) {
			t.Fatalf("secret %q found in objects", s)
		}
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
