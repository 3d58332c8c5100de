package payload

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

// Options carries what ToObjects needs from outside the task.
type Options struct {
	// ClusterARN is recorded when the task has no taskClusterArn of its own; pass the
	// payload's clusterArn (PayloadMessage.Options does).
	ClusterARN string
	// SeqNum is the payload's seqNum, recorded in TaskSpec.SeqNum.
	SeqNum int64
}

// ToObjects converts one ACS task into its Task object and one Container object per
// container, in definition order. Nothing is shared with t: the objects can be stored and
// t reused.
//
// The objects carry no credentials, only their IDs; hand Credentials(t) to the credentials
// manager. TaskSpec.ENIs lists the names of the task's ENI attachments; build those
// Attachment objects with ENIAttachment. Each Container has an OwnerReference to its Task by name with an empty UID: the
// Task does not exist in the store yet, so the store fills the UID when it creates the
// Task (or readers resolve the owner by name, which is unique since it is the task ID).
//
// Any error wraps ErrInvalidTask plus a more specific sentinel, and its text is meant for
// the STOPPED reason: record the task with InvalidTaskObject and report InvalidReason(err).
func ToObjects(t *Task, opts Options) (*v1alpha1.Task, []*v1alpha1.Container, error) {
	task, containers, err := toObjects(t, opts)
	if err != nil {
		return nil, nil, rejectTask(err)
	}
	return task, containers, nil
}

func toObjects(t *Task, opts Options) (*v1alpha1.Task, []*v1alpha1.Container, error) {
	if t == nil {
		return nil, nil, fmt.Errorf("task: %w", ErrMissing)
	}
	taskID, err := TaskID(t.Arn)
	if err != nil {
		return nil, nil, err
	}
	spec, err := taskSpec(t, opts)
	if err != nil {
		return nil, nil, err
	}
	volumes := make(map[string]bool, len(spec.Volumes))
	for _, v := range spec.Volumes {
		volumes[v.Name] = true
	}
	names, err := containerNames(t.Containers)
	if err != nil {
		return nil, nil, err
	}
	specs := make([]v1alpha1.ContainerSpec, len(t.Containers))
	for i := range t.Containers {
		cs, err := containerSpec(&t.Containers[i], taskContext{
			taskID: taskID, volumes: volumes, containers: names,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("container %s: %w", t.Containers[i].Name, err)
		}
		specs[i] = cs
	}
	if err := checkDependencies(t.Arn, specs); err != nil {
		return nil, nil, err
	}

	labels := taskLabels(taskID, spec)
	task := &v1alpha1.Task{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Task"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      taskID,
			Namespace: v1alpha1.Namespace,
			Labels:    labels,
		},
		Spec: spec,
	}
	containers := make([]*v1alpha1.Container, len(specs))
	for i := range specs {
		task.Spec.Containers = append(task.Spec.Containers, specs[i].Name)
		cl := make(map[string]string, len(labels)+1)
		for k, v := range labels {
			cl[k] = v
		}
		cl[v1alpha1.LabelContainerName] = specs[i].Name
		containers[i] = &v1alpha1.Container{
			TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Container"},
			ObjectMeta: metav1.ObjectMeta{
				Name:            v1alpha1.ContainerName(taskID, specs[i].Name),
				Namespace:       v1alpha1.Namespace,
				Labels:          cl,
				OwnerReferences: []metav1.OwnerReference{TaskOwnerReference(taskID)},
			},
			Spec: specs[i],
		}
	}
	return task, containers, nil
}

// TaskOwnerReference is the owner reference of a Container (or other per-task object) to
// the Task named taskID. UID is left empty because the Task's UID is assigned by the store;
// see ToObjects.
func TaskOwnerReference(taskID string) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion:         v1alpha1.GroupVersion.String(),
		Kind:               "Task",
		Name:               taskID,
		Controller:         Ptr(true),
		BlockOwnerDeletion: Ptr(true),
	}
}

// taskLabels are the labels shared by a task's objects, so that they can be selected by
// task ARN, family or cluster without reading specs.
func taskLabels(taskID string, spec v1alpha1.TaskSpec) map[string]string {
	l := map[string]string{
		v1alpha1.LabelTaskARN:  spec.ARN,
		v1alpha1.LabelTaskName: taskID,
	}
	if spec.Family != "" {
		l[v1alpha1.LabelFamily] = spec.Family
	}
	if spec.Version != "" {
		l[v1alpha1.LabelRevision] = spec.Version
	}
	if spec.ClusterARN != "" {
		l[v1alpha1.LabelCluster] = spec.ClusterARN
	}
	return l
}

// taskSpec converts and checks the task-level members.
func taskSpec(t *Task, opts Options) (v1alpha1.TaskSpec, error) {
	spec := v1alpha1.TaskSpec{
		ARN:         t.Arn,
		ClusterARN:  t.TaskClusterArn,
		Family:      t.Family,
		Version:     t.Version,
		NetworkMode: t.NetworkMode,
		LaunchType:  t.LaunchType,
		CPU:         t.CPU,
		Memory:      t.Memory,
		PIDMode:     t.PIDMode,
		IPCMode:     t.IPCMode,
		ServiceName: t.ServiceName,
		Group:       t.Group,
		SeqNum:      opts.SeqNum,
	}
	if spec.ClusterARN == "" {
		spec.ClusterARN = opts.ClusterARN
	}
	ds, err := desiredStatus(t.DesiredStatus)
	if err != nil {
		return spec, err
	}
	spec.DesiredStatus = ds
	if len(t.Containers) == 0 {
		return spec, fmt.Errorf("containers: %w", ErrMissing)
	}
	if t.CPU < 0 {
		return spec, fmt.Errorf("cpu: %w %v (want >= 0)", ErrInvalidValue, t.CPU)
	}
	if t.Memory < 0 {
		return spec, fmt.Errorf("memory: %w %d (want >= 0)", ErrInvalidValue, t.Memory)
	}
	if err := checkTaskModes(t); err != nil {
		return spec, err
	}
	if err := checkTaskUnsupported(t); err != nil {
		return spec, err
	}
	if c := t.RoleCredentials; c != nil {
		if c.CredentialsID == "" {
			return spec, fmt.Errorf("roleCredentials.credentialsId: %w", ErrMissing)
		}
		spec.RoleCredentialsID = c.CredentialsID
	}
	if c := t.ExecutionRoleCredentials; c != nil {
		if c.CredentialsID == "" {
			return spec, fmt.Errorf("executionRoleCredentials.credentialsId: %w", ErrMissing)
		}
		spec.ExecutionCredentialsID = c.CredentialsID
	}
	if spec.Volumes, err = volumes(t.Volumes); err != nil {
		return spec, err
	}
	for i := range t.ElasticNetworkInterfaces {
		eni := &t.ElasticNetworkInterfaces[i]
		if err := checkENI(eni); err != nil {
			return spec, fmt.Errorf("elasticNetworkInterfaces[%d]: %w", i, err)
		}
		name, _ := AttachmentName(eni.AttachmentArn) // checked by checkENI
		spec.ENIs = append(spec.ENIs, name)
	}
	return spec, nil
}

// desiredStatus maps the wire string. Only RUNNING and STOPPED are meaningful desired
// statuses for a task; anything else is a backend bug we should not guess about.
func desiredStatus(s string) (v1alpha1.TaskState, error) {
	switch s {
	case DesiredRunning:
		return v1alpha1.TaskStatusRunning, nil
	case DesiredStopped:
		return v1alpha1.TaskStatusStopped, nil
	case "":
		return "", fmt.Errorf("desiredStatus: %w", ErrMissing)
	}
	return "", fmt.Errorf("desiredStatus: %w %q (want RUNNING or STOPPED)", ErrInvalidValue, s)
}

// checkTaskModes checks the task's network, PID and IPC modes.
func checkTaskModes(t *Task) error {
	switch t.NetworkMode {
	case "", "bridge", "host", "awsvpc", "none":
	default:
		return fmt.Errorf("networkMode %q: %w", t.NetworkMode, ErrUnsupported)
	}
	switch t.PIDMode {
	case "", "host", "task":
	default:
		return fmt.Errorf("pidMode: %w %q (want host or task)", ErrInvalidValue, t.PIDMode)
	}
	switch t.IPCMode {
	case "", "host", "task", "none":
	default:
		return fmt.Errorf("ipcMode: %w %q (want host, task or none)", ErrInvalidValue, t.IPCMode)
	}
	return nil
}

// checkTaskUnsupported rejects task-level features ecsd does not implement. Each of them
// changes what runs (GPUs, proxies, Service Connect, isolation), so running without them
// would be running a different task.
func checkTaskUnsupported(t *Task) error {
	if len(t.Associations) > 0 {
		return fmt.Errorf("associations (type %q): %w", t.Associations[0].Type, ErrUnsupported)
	}
	if t.ProxyConfiguration != nil {
		return fmt.Errorf("proxyConfiguration (type %q): %w", t.ProxyConfiguration.Type, ErrUnsupported)
	}
	if len(t.Attachments) > 0 {
		return fmt.Errorf("attachments (type %q): %w", t.Attachments[0].AttachmentType, ErrUnsupported)
	}
	if tec := t.TrustedExecutionConfiguration; tec != nil && tec.IsolationMode != "" && tec.IsolationMode != "SHARED" {
		return fmt.Errorf("trustedExecutionConfiguration.isolationMode %q: %w", tec.IsolationMode, ErrUnsupported)
	}
	return nil
}

// containerNames checks that every container has a valid, unique name.
func containerNames(cs []Container) (map[string]bool, error) {
	names := make(map[string]bool, len(cs))
	for i := range cs {
		n := cs[i].Name
		switch {
		case n == "":
			return nil, fmt.Errorf("containers[%d].name: %w", i, ErrMissing)
		case !validName(n):
			return nil, fmt.Errorf("containers[%d].name: %w %q (want 1-255 letters, digits, '-' or '_')", i, ErrInvalidValue, n)
		case names[n]:
			return nil, fmt.Errorf("containers[%d].name %q: %w", i, n, ErrDuplicate)
		}
		names[n] = true
	}
	return names, nil
}
