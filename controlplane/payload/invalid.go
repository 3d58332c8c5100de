package payload

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

// InvalidReasonPrefix starts the STOPPED reason of a task that could not be loaded. The
// misspelling is the reference agent's and is kept on purpose: ECS users and tooling
// match on it.
const InvalidReasonPrefix = "UnrecogniedTaskError: Error loading task - "

// InvalidReason is the STOPPED reason for a task ToObjects rejected with err.
func InvalidReason(err error) string {
	if err == nil {
		return InvalidReasonPrefix + "unknown error"
	}
	return InvalidReasonPrefix + err.Error()
}

// InvalidTaskObject builds a minimal Task object for a task ToObjects rejected, so that
// the rejection is stored and reported STOPPED (with Spec.Invalid as the reason) instead
// of the task being dropped, which would leave ECS waiting for it forever. It carries no
// containers and no credentials.
//
// The name is the task ID when the ARN yields one; otherwise it is "invalid-" plus a hash
// of the ARN (or, without an ARN, of the task's JSON), so that a re-sent payload maps to
// the same object instead of piling up new ones.
func InvalidTaskObject(t *Task, err error) *v1alpha1.Task {
	if t == nil {
		t = &Task{}
	}
	name, idErr := TaskID(t.Arn)
	if idErr != nil {
		name = invalidName(t)
	}
	spec := v1alpha1.TaskSpec{
		ARN:           t.Arn,
		ClusterARN:    t.TaskClusterArn,
		Family:        t.Family,
		Version:       t.Version,
		DesiredStatus: v1alpha1.TaskStatusStopped,
		NetworkMode:   t.NetworkMode,
		LaunchType:    t.LaunchType,
		Containers:    []string{},
		Invalid:       InvalidReason(err),
	}
	labels := map[string]string{v1alpha1.LabelTaskName: name}
	if t.Arn != "" {
		labels[v1alpha1.LabelTaskARN] = t.Arn
	}
	if t.Family != "" {
		labels[v1alpha1.LabelFamily] = t.Family
	}
	if t.Version != "" {
		labels[v1alpha1.LabelRevision] = t.Version
	}
	if t.TaskClusterArn != "" {
		labels[v1alpha1.LabelCluster] = t.TaskClusterArn
	}
	return &v1alpha1.Task{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Task"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: v1alpha1.Namespace, Labels: labels},
		Spec:       spec,
	}
}

// invalidName derives a stable name for a task without a usable ARN. Credentials are left
// out of the hash input so that a credentials rotation does not change the name.
func invalidName(t *Task) string {
	var in []byte
	if t.Arn != "" {
		in = []byte(t.Arn)
	} else {
		c := *t
		c.RoleCredentials, c.ExecutionRoleCredentials = nil, nil
		in, _ = json.Marshal(&c)
	}
	sum := sha256.Sum256(in)
	return "invalid-" + hex.EncodeToString(sum[:10])
}
