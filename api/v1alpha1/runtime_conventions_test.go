package v1alpha1

import (
	"regexp"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const testARN = "arn:aws:ecs:us-west-2:111122223333:task/prod/6a1b2c3d4e5f"

// TestRuntimeIDIsStableAndDockerShaped pins the derivation: a change here would give every
// running container a new ID after an upgrade, and the agent would create duplicates.
func TestRuntimeIDIsStableAndDockerShaped(t *testing.T) {
	id := RuntimeID(testARN, "app")
	if id != RuntimeID(testARN, "app") {
		t.Fatal("RuntimeID is not deterministic")
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) || !IsRuntimeID(id) {
		t.Fatalf("RuntimeID = %q, want 64 lowercase hex characters", id)
	}
	const golden = "2de77074eaafe393bcc5924925ab2ffbafcb01758ba43ce4df6429ca7d9f0d2c" // sha256("ecsd.container-id.v1\x00" + "58:" + testARN + "3:app")
	if id != golden {
		t.Fatalf("RuntimeID(%q, app) = %s, want %s", testARN, id, golden)
	}
}

// TestRuntimeIDSeparatesInputs: no two (task, container) pairs share an ID, including pairs
// whose plain concatenations are equal.
func TestRuntimeIDSeparatesInputs(t *testing.T) {
	seen := map[string][2]string{}
	for _, in := range [][2]string{
		{testARN, "app"}, {testARN, "App"}, {testARN, "app2"}, {testARN + "a", "pp"},
		{testARN + "-", "app"}, {testARN, "-app"}, {"arn:aws:ecs:us-west-2:111122223333:task/prod/other", "app"},
		{"", ""}, {"a", ""}, {"", "a"}, {"1:a", ""}, {"", "1:a"},
	} {
		id := RuntimeID(in[0], in[1])
		if prev, dup := seen[id]; dup {
			t.Fatalf("RuntimeID(%q) = RuntimeID(%q) = %s", in, prev, id)
		}
		seen[id] = in
	}
}

func TestIsRuntimeID(t *testing.T) {
	for id, want := range map[string]bool{
		RuntimeID(testARN, "app"): true,
		"6a1b2c3d4e5f-app":        false,
		"":                        false,
		"ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789": false,
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef": true,
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde":  false,
	} {
		if got := IsRuntimeID(id); got != want {
			t.Errorf("IsRuntimeID(%q) = %v, want %v", id, got, want)
		}
	}
}

// TestDockerName: the reference agent's Docker name shape, deterministic, with the
// container name stripped to [A-Za-z0-9-] and a suffix that is the ID's prefix.
func TestDockerName(t *testing.T) {
	task := &Task{ObjectMeta: metav1.ObjectMeta{Name: "6a1b2c3d4e5f"}, Spec: TaskSpec{ARN: testARN, Family: "web_app", Version: "12"}}
	c := &Container{ObjectMeta: metav1.ObjectMeta{Name: ContainerName("6a1b2c3d4e5f", "log_router.v2")}, Spec: ContainerSpec{Name: "log_router.v2"}}
	got := DockerName(task, c)
	want := "ecs-web_app-12-logrouterv2-" + RuntimeID(testARN, "log_router.v2")[:20]
	if got != want {
		t.Fatalf("DockerName = %q, want %q", got, want)
	}
	if !regexp.MustCompile(`^ecs-[A-Za-z0-9_-]+-[0-9]+-[A-Za-z0-9-]+-[0-9a-f]{20}$`).MatchString(got) {
		t.Fatalf("DockerName %q is not in the reference agent's form", got)
	}
	// The old-form ID a container created by an older ecsd keeps does not change its name.
	c.Status.RuntimeID = LegacyRuntimeID(c)
	if again := DockerName(task, c); again != got {
		t.Fatalf("DockerName changed with the recorded ID: %q, then %q", got, again)
	}
}
