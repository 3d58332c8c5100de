package main

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// t0 is when the seeded tasks started; histories are relative to it.
var t0 = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

func at(sec int) metav1.Time { return metav1.NewTime(t0.Add(time.Duration(sec) * time.Second)) }

func atp(sec int) *metav1.Time { t := at(sec); return &t }

func taskARN(id string) string {
	return "arn:aws:ecs:local:000000000000:task/" + testCluster + "/" + id
}

func objMeta(name string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: api.Namespace, Labels: labels}
}

func taskLabels(id, family string) map[string]string {
	return map[string]string{api.LabelTaskName: id, api.LabelFamily: family}
}

func newTask(id, family, version, mode string, containers ...string) *api.Task {
	return &api.Task{
		ObjectMeta: objMeta(id, taskLabels(id, family)),
		Spec: api.TaskSpec{
			ARN: taskARN(id), ClusterARN: "arn:aws:ecs:local:000000000000:cluster/" + testCluster,
			Family: family, Version: version, DesiredStatus: api.TaskStatusRunning,
			NetworkMode: mode, LaunchType: "EC2", CPU: 0.5, Memory: 512, Containers: containers,
		},
	}
}

func seedObjects() []client.Object {
	web := newTask("web1", "web", "3", "bridge", "app", "sidecar")
	web.Status = api.TaskStatus{
		KnownStatus: api.TaskStatusRunning, KnownStatusTime: atp(3), SentStatus: api.TaskStatusRunning,
		PullStartedAt: atp(0), PullStoppedAt: atp(1),
		History: []api.Transition{
			{Time: at(1), From: "NONE", To: "PULLED", Reason: "images pulled"},
			{Time: at(2), From: "PULLED", To: "CREATED"},
			{Time: at(3), From: "CREATED", To: "RUNNING", Reason: "all essential containers running"},
		},
	}
	app := &api.Container{
		ObjectMeta: objMeta(api.ContainerName("web1", "app"), taskLabels("web1", "web")),
		Spec: api.ContainerSpec{
			TaskName: "web1", Name: "app", Image: "127.0.0.1:5000/ecsd/web:latest", Essential: true,
			CPU: 256, Memory: 128, MemoryReservation: 64, Command: []string{"httpd", "-f"},
			PortMappings: []api.PortMapping{{ContainerPort: 80, HostPort: 8080, Protocol: "tcp"}},
			HealthCheck:  &api.HealthCheck{Test: []string{"CMD-SHELL", "wget -q localhost"}, Retries: 3},
		},
		Status: api.ContainerStatus{
			KnownStatus: api.ContainerStatusRunning, DesiredStatus: api.ContainerStatusRunning,
			SentStatus: api.ContainerStatusRunning, RuntimeID: "rt-web1-app", ImageDigest: "sha256:aaaa",
			Health:          &api.Health{Status: api.HealthHealthy, Since: atp(10)},
			NetworkBindings: []api.NetworkBinding{{BindIP: "0.0.0.0", ContainerPort: 80, HostPort: 8080, Protocol: "tcp"}},
			Network:         &api.NetworkStatus{Mode: "bridge", ID: "rt-web1-app", IPv4Address: "172.17.0.5", IPv4Gateway: "172.17.0.1"},
			StartedAt:       atp(3),
			History: []api.Transition{
				{Time: at(1), From: "NONE", To: "PULLED", Reason: "pulled sha256:aaaa"},
				{Time: at(2), From: "PULLED", To: "CREATED"},
				{Time: at(3), From: "CREATED", To: "RUNNING", Reason: "started"},
			},
		},
	}
	sidecar := &api.Container{
		ObjectMeta: objMeta(api.ContainerName("web1", "sidecar"), taskLabels("web1", "web")),
		Spec:       api.ContainerSpec{TaskName: "web1", Name: "sidecar", Image: "127.0.0.1:5000/ecsd/busybox:latest"},
		Status: api.ContainerStatus{
			KnownStatus: api.ContainerStatusRunning, DesiredStatus: api.ContainerStatusRunning,
			History: []api.Transition{{Time: at(3), From: "CREATED", To: "RUNNING", Reason: "sidecar started"}},
		},
	}

	batch := newTask("batch1", "batch", "1", "awsvpc", "job")
	batch.Spec.ENIs = []string{"eni-attach-1"}
	batch.Status = api.TaskStatus{
		KnownStatus: api.TaskStatusStopped, SentStatus: api.TaskStatusRunning, DesiredStatus: api.TaskStatusStopped,
		StoppedReason: "Essential container in task exited", ExecutionStoppedAt: atp(60),
		Network: &api.NetworkStatus{Mode: "awsvpc", ID: "batch1", IPv4Address: "10.199.0.9",
			IPv4Gateway: "10.199.0.1", IPv4SubnetCIDR: "10.199.0.0/24", InterfaceName: "eth1"},
		History: []api.Transition{
			{Time: at(5), From: "NONE", To: "RUNNING", Reason: "started"},
			{Time: at(60), From: "RUNNING", To: "STOPPED", Reason: "Essential container in task exited"},
		},
	}
	exit := int32(3)
	job := &api.Container{
		ObjectMeta: objMeta(api.ContainerName("batch1", "job"), taskLabels("batch1", "batch")),
		Spec:       api.ContainerSpec{TaskName: "batch1", Name: "job", Image: "127.0.0.1:5000/ecsd/busybox:latest", Essential: true},
		Status: api.ContainerStatus{
			KnownStatus: api.ContainerStatusStopped, DesiredStatus: api.ContainerStatusStopped,
			ExitCode: &exit, Reason: "exit status 3", FinishedAt: atp(60),
			History: []api.Transition{
				{Time: at(5), From: "CREATED", To: "RUNNING"},
				{Time: at(60), From: "RUNNING", To: "STOPPED", Reason: "exited with code 3"},
			},
		},
	}
	image := &api.Image{
		ObjectMeta: objMeta("sha256-aaaa", nil),
		Spec:       api.ImageSpec{Digest: "sha256:aaaa"},
		Status:     api.ImageStatus{References: []string{"127.0.0.1:5000/ecsd/web:latest"}, Size: 4096},
	}
	return []client.Object{web, app, sidecar, batch, job, image}
}
