package payload

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

// TestToObjectsMapping covers the first-class member mappings, one case per member.
func TestToObjectsMapping(t *testing.T) {
	type result struct {
		task *v1alpha1.Task
		cs   []*v1alpha1.Container
	}
	web := func(r result) v1alpha1.ContainerSpec { return r.cs[0].Spec }
	// The check closures are each case's test body, run once inside its subtest; Helper()
	// would report failures at tc.check instead of at the assertion that failed.
	//nolint:thelper // table check closures are subtest bodies, not helpers
	for _, tc := range []struct {
		name   string
		opts   Options
		mutate func(*Task)
		check  func(t *testing.T, r result)
	}{
		{"names and order", Options{}, nil, func(t *testing.T, r result) {
			if r.task.Name != testTaskID || !reflect.DeepEqual(r.task.Spec.Containers, []string{"web", "sidecar"}) {
				t.Fatalf("task %s containers %v", r.task.Name, r.task.Spec.Containers)
			}
			for i, c := range r.cs {
				if c.Name != v1alpha1.ContainerName(testTaskID, r.task.Spec.Containers[i]) || c.Spec.TaskName != testTaskID ||
					c.Namespace != v1alpha1.Namespace || c.Kind != "Container" || c.APIVersion != "ecs.ecsd.io/v1alpha1" {
					t.Fatalf("container %d: %+v", i, c.ObjectMeta)
				}
				ref := c.OwnerReferences[0]
				if ref.Name != testTaskID || ref.Kind != "Task" || ref.UID != "" || ref.Controller == nil || !*ref.Controller {
					t.Fatalf("owner ref %+v", ref)
				}
			}
		}},
		{"desired STOPPED", Options{}, func(t *Task) { t.DesiredStatus = "STOPPED" }, func(t *testing.T, r result) {
			if r.task.Spec.DesiredStatus != v1alpha1.TaskStatusStopped {
				t.Fatal(r.task.Spec.DesiredStatus)
			}
		}},
		{"cluster from options", Options{ClusterARN: "c1", SeqNum: 11}, nil, func(t *testing.T, r result) {
			if r.task.Spec.ClusterARN != "c1" || r.task.Labels[v1alpha1.LabelCluster] != "c1" || r.task.Spec.SeqNum != 11 ||
				r.cs[1].Labels[v1alpha1.LabelCluster] != "c1" {
				t.Fatalf("%+v %v", r.task.Spec, r.task.Labels)
			}
		}},
		{"task cluster wins", Options{ClusterARN: "c1"}, func(t *Task) { t.TaskClusterArn = "c2" }, func(t *testing.T, r result) {
			if r.task.Spec.ClusterARN != "c2" {
				t.Fatal(r.task.Spec.ClusterARN)
			}
		}},
		{"no cluster label when unknown", Options{}, nil, func(t *testing.T, r result) {
			if _, ok := r.task.Labels[v1alpha1.LabelCluster]; ok {
				t.Fatal(r.task.Labels)
			}
		}},
		{"task-level members", Options{}, func(t *Task) {
			t.CPU, t.Memory, t.PIDMode, t.IPCMode, t.ServiceName, t.Group, t.LaunchType = 1.5, 2048, "task", "host", "svc", "service:svc", "EXTERNAL"
		}, func(t *testing.T, r result) {
			s := r.task.Spec
			if s.CPU != 1.5 || s.Memory != 2048 || s.PIDMode != "task" || s.IPCMode != "host" || s.ServiceName != "svc" ||
				s.Group != "service:svc" || s.LaunchType != "EXTERNAL" {
				t.Fatalf("%+v", s)
			}
		}},
		{"credentials ids only", Options{}, func(t *Task) {
			t.RoleCredentials = &IAMRoleCredentials{CredentialsID: "r1", SecretAccessKey: "very-secret-1", SessionToken: "token-1", AccessKeyID: "AKIDEXAMPLE1"}
			t.ExecutionRoleCredentials = &IAMRoleCredentials{CredentialsID: "e1", SecretAccessKey: "very-secret-2"}
		}, func(t *testing.T, r result) {
			if r.task.Spec.RoleCredentialsID != "r1" || r.task.Spec.ExecutionCredentialsID != "e1" {
				t.Fatalf("%+v", r.task.Spec)
			}
			checkNoSecrets(t, []string{"very-secret-1", "token-1", "AKIDEXAMPLE1", "very-secret-2"}, r.task, r.cs)
		}},
		{"volumes", Options{}, func(t *Task) {
			t.Volumes = []Volume{
				{Name: "h", Host: &HostVolumeProperties{SourcePath: "/var/h"}},
				{Name: "empty"},
				{Name: "d", Type: "docker", DockerVolumeConfiguration: &DockerVolumeConfiguration{Autoprovision: true, Driver: "local", Labels: map[string]string{"a": "b"}}},
				{Name: "d2", Type: "docker", DockerVolumeConfiguration: &DockerVolumeConfiguration{Scope: "task"}},
				{Name: "d3", Type: "docker"},
			}
		}, func(t *testing.T, r result) {
			want := []v1alpha1.Volume{
				{Name: "h", Type: "host", HostSourcePath: "/var/h"},
				{Name: "empty", Type: "host"},
				{Name: "d", Type: "docker", Scope: "task", Autoprovision: true, Driver: "local", Labels: map[string]string{"a": "b"}},
				{Name: "d2", Type: "docker", Scope: "task"},
				{Name: "d3", Type: "docker", Scope: "task"},
			}
			if !reflect.DeepEqual(r.task.Spec.Volumes, want) {
				t.Fatalf("%+v", r.task.Spec.Volumes)
			}
		}},
		{"enis", Options{}, func(t *Task) {
			t.NetworkMode = "awsvpc"
			t.ElasticNetworkInterfaces = []ElasticNetworkInterface{
				{AttachmentArn: "arn:aws:ecs:us-west-2:1:attachment/a1", MacAddress: "0a:00:00:00:00:01"},
				{AttachmentArn: "arn:aws:ecs:us-west-2:1:attachment/a2", MacAddress: "0a:00:00:00:00:02"},
			}
		}, func(t *testing.T, r result) {
			if !reflect.DeepEqual(r.task.Spec.ENIs, []string{"a1", "a2"}) {
				t.Fatal(r.task.Spec.ENIs)
			}
		}},
		{"container basics", Options{}, func(t *Task) {
			c := &t.Containers[0]
			c.Command, c.EntryPoint = []string{"-c", "x"}, []string{"/bin/sh"}
			c.Environment = map[string]string{"A": "1"}
			c.EnvironmentFiles = []EnvironmentFile{{Value: "arn:aws:s3:::b/k.env", Type: "s3"}}
			c.StartTimeout, c.StopTimeout = 60, 10
			c.Privileged = Ptr(true)
		}, func(t *testing.T, r result) {
			s := web(r)
			if !reflect.DeepEqual(s.Command, []string{"-c", "x"}) || !reflect.DeepEqual(s.EntryPoint, []string{"/bin/sh"}) ||
				s.CPU != 256 || s.Memory != 512 || !s.Essential || s.Environment["A"] != "1" ||
				!reflect.DeepEqual(s.EnvironmentFiles, []v1alpha1.EnvironmentFile{{Value: "arn:aws:s3:::b/k.env", Type: "s3"}}) ||
				s.StartTimeout != 60 || s.StopTimeout != 10 || !s.Privileged || r.cs[1].Spec.Essential {
				t.Fatalf("%+v", s)
			}
		}},
		{"links mounts volumesFrom dependsOn", Options{}, func(t *Task) {
			c := &t.Containers[0]
			c.Links = []string{"sidecar", "sidecar:alias"}
			c.MountPoints = []MountPoint{{SourceVolume: "data", ContainerPath: "/d", ReadOnly: true}}
			c.VolumesFrom = []VolumeFrom{{SourceContainer: "sidecar", ReadOnly: true}}
			c.DependsOn = []ContainerDependency{{ContainerName: "sidecar", Condition: "HEALTHY"}}
		}, func(t *testing.T, r result) {
			s := web(r)
			if !reflect.DeepEqual(s.Links, []string{"sidecar", "sidecar:alias"}) ||
				!reflect.DeepEqual(s.MountPoints, []v1alpha1.MountPoint{{SourceVolume: "data", ContainerPath: "/d", ReadOnly: true}}) ||
				!reflect.DeepEqual(s.VolumesFrom, []v1alpha1.VolumeFrom{{SourceContainer: "sidecar", ReadOnly: true}}) ||
				!reflect.DeepEqual(s.DependsOn, []v1alpha1.Dependency{{ContainerName: "sidecar", Condition: v1alpha1.ConditionHealthy}}) {
				t.Fatalf("%+v", s)
			}
		}},
		{"port mappings", Options{}, func(t *Task) {
			t.Containers[0].PortMappings = []PortMapping{{ContainerPort: 53, HostPort: 53, Protocol: "udp"}, {ContainerPort: 80}, {ContainerPortRange: "7000-7000"}}
		}, func(t *testing.T, r result) {
			want := []v1alpha1.PortMapping{{ContainerPort: 53, HostPort: 53, Protocol: "udp"}, {ContainerPort: 80, Protocol: "tcp"}, {ContainerPortRange: "7000-7000", Protocol: "tcp"}}
			if !reflect.DeepEqual(web(r).PortMappings, want) {
				t.Fatalf("%+v", web(r).PortMappings)
			}
		}},
		{"restart policy", Options{}, func(t *Task) {
			t.Containers[0].RestartPolicy = &RestartPolicy{Enabled: true, IgnoredExitCodes: []int64{0, -1}, RestartAttemptPeriod: 300}
		}, func(t *testing.T, r result) {
			want := &v1alpha1.RestartPolicy{Enabled: true, IgnoredExitCodes: []int32{0, -1}, RestartAttemptPeriod: 300}
			if !reflect.DeepEqual(web(r).RestartPolicy, want) {
				t.Fatalf("%+v", web(r).RestartPolicy)
			}
		}},
		{"linux parameters", Options{}, func(t *Task) {
			t.Containers[0].LinuxParameters = &LinuxParameters{
				Capabilities:       &KernelCapabilities{Add: []string{"NET_ADMIN"}, Drop: []string{"ALL"}},
				Devices:            []Device{{HostPath: "/dev/kvm", ContainerPath: "/dev/kvm", Permissions: []string{"read", "write", "mknod"}}},
				InitProcessEnabled: Ptr(true),
				SharedMemorySize:   Ptr(int64(256)),
			}
		}, func(t *testing.T, r result) {
			want := &v1alpha1.LinuxParameters{CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"ALL"}, InitProcessEnabled: true, SharedMemorySize: 256,
				Devices: []v1alpha1.Device{{HostPath: "/dev/kvm", ContainerPath: "/dev/kvm", Permissions: []string{"read", "write", "mknod"}}}}
			if !reflect.DeepEqual(web(r).LinuxParameters, want) {
				t.Fatalf("%+v", web(r).LinuxParameters)
			}
		}},
		{"empty linux parameters dropped", Options{}, func(t *Task) {
			t.Containers[0].LinuxParameters = &LinuxParameters{InitProcessEnabled: Ptr(false), Capabilities: &KernelCapabilities{}}
		}, func(t *testing.T, r result) {
			if web(r).LinuxParameters != nil {
				t.Fatalf("%+v", web(r).LinuxParameters)
			}
		}},
		{"registry auth asm", Options{}, func(t *Task) {
			t.Containers[0].RegistryAuthentication = &RegistryAuthenticationData{Type: "asm", ASMAuthData: &ASMAuthData{CredentialsParameter: "arn:aws:secretsmanager:us-west-2:1:secret:r", Region: "us-west-2"}}
		}, func(t *testing.T, r result) {
			want := &v1alpha1.RegistryAuth{Type: "asm", CredentialsParameter: "arn:aws:secretsmanager:us-west-2:1:secret:r", Region: "us-west-2"}
			if !reflect.DeepEqual(web(r).RegistryAuth, want) {
				t.Fatalf("%+v", web(r).RegistryAuth)
			}
		}},
		{"registry auth ecr without data", Options{}, func(t *Task) {
			t.Containers[0].RegistryAuthentication = &RegistryAuthenticationData{Type: "ecr"}
		}, func(t *testing.T, r result) {
			if !reflect.DeepEqual(web(r).RegistryAuth, &v1alpha1.RegistryAuth{Type: "ecr"}) {
				t.Fatalf("%+v", web(r).RegistryAuth)
			}
		}},
		{"empty registry auth", Options{}, func(t *Task) { t.Containers[0].RegistryAuthentication = &RegistryAuthenticationData{} }, func(t *testing.T, r result) {
			if web(r).RegistryAuth != nil {
				t.Fatal(web(r).RegistryAuth)
			}
		}},
		{"ignored members", Options{}, func(t *Task) {
			c := &t.Containers[0]
			c.ManagedAgents = []ManagedAgent{{Name: "ExecuteCommandAgent"}}
			c.NetworkInterfaceNames = []string{"eth1"}
			c.LogsAuthStrategy = "ExecutionRole"
			c.HealthCheckType = "docker"
			t.EnableFaultInjection = true
			t.Overrides = Ptr(EmbeddedJSON(`{"anything":1}`))
			t.TrustedExecutionConfiguration = &TrustedExecutionConfiguration{IsolationMode: "SHARED"}
			t.Zone, t.TaskDefinitionAccountID, t.AgentConfiguration = "z", "1", "{}"
		}, func(t *testing.T, r result) {}},
		{"container arn", Options{}, func(t *Task) { t.Containers[0].ContainerArn = "arn:aws:ecs:us-west-2:1:container/x" }, func(t *testing.T, r result) {
			if got := web(r).ARN; got != "arn:aws:ecs:us-west-2:1:container/x" {
				t.Fatalf("ARN = %q", got)
			}
		}},
		{"overrides command", Options{}, func(t *Task) {
			t.Containers[0].Command = []string{"old"}
			t.Containers[0].Overrides = Ptr(EmbeddedJSON(`{"command":["new","arg"]}`))
		}, func(t *testing.T, r result) {
			if !reflect.DeepEqual(web(r).Command, []string{"new", "arg"}) {
				t.Fatal(web(r).Command)
			}
		}},
		{"overrides without command", Options{}, func(t *Task) {
			t.Containers[0].Command = []string{"old"}
			t.Containers[0].Overrides = Ptr(EmbeddedJSON(`{"command":null}`))
			t.Containers[1].Overrides = Ptr(EmbeddedJSON(""))
		}, func(t *testing.T, r result) {
			if !reflect.DeepEqual(web(r).Command, []string{"old"}) {
				t.Fatal(web(r).Command)
			}
		}},
		{"overrides empty command clears", Options{}, func(t *Task) {
			t.Containers[0].Command = []string{"old"}
			t.Containers[0].Overrides = Ptr(EmbeddedJSON(`{"Command":[]}`))
		}, func(t *testing.T, r result) {
			if len(web(r).Command) != 0 {
				t.Fatal(web(r).Command)
			}
		}},
		{"dockerConfig over overrides", Options{}, func(t *Task) {
			t.Containers[0].Overrides = Ptr(EmbeddedJSON(`{"command":["override"]}`))
			t.Containers[0].DockerConfig = containerConfig(`{"Cmd":"backend"}`)
		}, func(t *testing.T, r result) {
			if !reflect.DeepEqual(web(r).Command, []string{"backend"}) {
				t.Fatal(web(r).Command)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := baseTask()
			if tc.mutate != nil {
				tc.mutate(task)
			}
			before, _ := json.Marshal(task)
			obj, cs, err := ToObjects(task, tc.opts)
			if err != nil {
				t.Fatalf("ToObjects: %v", err)
			}
			after, _ := json.Marshal(task)
			if string(before) != string(after) {
				t.Fatal("ToObjects modified its input")
			}
			tc.check(t, result{obj, cs})
		})
	}
}

// TestObjectsIndependentOfInput checks that the objects share no memory with the task.
func TestObjectsIndependentOfInput(t *testing.T) {
	task := baseTask()
	task.Containers[0].Command = []string{"a"}
	task.Containers[0].Environment = map[string]string{"K": "v"}
	_, cs := mustObjects(t, task)
	task.Containers[0].Command[0] = "changed"
	task.Containers[0].Environment["K"] = "changed"
	if cs[0].Spec.Command[0] != "a" || cs[0].Spec.Environment["K"] != "v" {
		t.Fatal("objects alias the input task")
	}
}

// TestOverridesInline checks that overrides and dockerConfig may arrive as inline JSON
// objects instead of strings, as the reference agent tolerates.
func TestOverridesInline(t *testing.T) {
	raw := `{"arn":"` + testTaskARN + `","desiredStatus":"RUNNING","containers":[{"name":"web","image":"nginx",
		"overrides":{"command":["x"]},"dockerConfig":{"config":{"User":"nobody"},"hostConfig":null}}]}`
	var task Task
	if err := json.Unmarshal([]byte(raw), &task); err != nil {
		t.Fatal(err)
	}
	_, cs := mustObjects(t, &task)
	if !reflect.DeepEqual(cs[0].Spec.Command, []string{"x"}) || cs[0].Spec.User != "nobody" {
		t.Fatalf("%+v", cs[0].Spec)
	}
	out, err := json.Marshal(task.Containers[0].Overrides)
	if err != nil || string(out) != `"{\"command\":[\"x\"]}"` {
		t.Fatalf("overrides re-encode as %s (%v)", out, err)
	}
	var bad Task
	if err := json.Unmarshal([]byte(`{"containers":[{"overrides":12}]}`), &bad); !errorsIs(err, ErrInvalidJSON) {
		t.Fatalf("numeric overrides: %v", err)
	}
}

func TestStoppedFirst(t *testing.T) {
	tasks := []Task{{Arn: "a", DesiredStatus: "RUNNING"}, {Arn: "b", DesiredStatus: "STOPPED"}, {Arn: "c", DesiredStatus: "RUNNING"}, {Arn: "d", DesiredStatus: "STOPPED"}}
	var got []string
	for _, t := range StoppedFirst(tasks) {
		got = append(got, t.Arn)
	}
	if !reflect.DeepEqual(got, []string{"b", "d", "a", "c"}) {
		t.Fatal(got)
	}
}

func TestNames(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:ecs:us-west-2:1:task/6a1b":                      "6a1b",
		"arn:aws:ecs:us-west-2:1:task/prod/6a1b":                 "6a1b",
		"arn:aws-cn:ecs:cn-north-1:1:task/c/1234-5678_ab":        "1234-5678_ab",
		"arn:aws:ecs:us-west-2:123456789012:task/x-circular-dep": "x-circular-dep",
	} {
		if got, err := TaskID(arn); err != nil || got != want {
			t.Errorf("TaskID(%q) = %q, %v", arn, got, err)
		}
	}
	for _, arn := range []string{"", "task/x", "arn:aws:ecs:r:1:service/x", "arn::ecs:r:1:task/x", "arn:aws:ecs:r:1:task/a/b c"} {
		if _, err := TaskID(arn); err == nil {
			t.Errorf("TaskID(%q) succeeded", arn)
		}
	}
	if got, err := AttachmentName("arn:aws:ecs:us-west-2:1:attachment/abc"); err != nil || got != "abc" {
		t.Errorf("AttachmentName = %q, %v", got, err)
	}
	for _, arn := range []string{"", "abc", "arn:aws:ecs:r:1:attachment", "arn:aws:ecs:r:1:attachment/"} {
		if _, err := AttachmentName(arn); err == nil {
			t.Errorf("AttachmentName(%q) succeeded", arn)
		}
	}
}

func TestENIAttachment(t *testing.T) {
	eni := &ElasticNetworkInterface{
		AttachmentArn: "arn:aws:ecs:us-west-2:1:attachment/att-1",
		MacAddress:    "0a:00:00:00:00:01",
		IPv4Addresses: []IPv4AddressAssignment{{PrivateAddress: "10.0.0.5"}, {PrivateAddress: "10.0.0.4", Primary: true}},
	}
	exp := metav1.NewTime(time.Unix(1782900300, 0))
	att, err := ENIAttachment(eni, "", &exp)
	if err != nil {
		t.Fatal(err)
	}
	if att.Name != "att-1" || att.Labels != nil || att.Spec.TaskARN != "" || !att.Spec.ExpiresAt.Equal(&exp) ||
		!reflect.DeepEqual(att.Spec.IPv4Addresses, []string{"10.0.0.4", "10.0.0.5"}) || att.Kind != "Attachment" {
		t.Fatalf("%+v", att)
	}
	exp.Time = exp.Add(time.Hour)
	if att.Spec.ExpiresAt.Equal(&exp) {
		t.Fatal("ExpiresAt aliases the argument")
	}
	if _, err := ENIAttachment(nil, "", nil); !errorsIs(err, ErrMissing) {
		t.Fatal(err)
	}
	eni.MacAddress = "bad"
	if _, err := ENIAttachment(eni, testTaskARN, nil); !errorsIs(err, ErrInvalidValue) {
		t.Fatal(err)
	}
}

// TestSecretReferences: secrets become references with provider, region and target
// filled in the way ACS means them; no value exists at this point.
func TestSecretReferences(t *testing.T) {
	task := baseTask()
	task.Containers[0].DockerConfig = hostConfig(`{"LogConfig":{"Type":"json-file","Config":{}}}`)
	task.Containers[0].Secrets = []Secret{
		{Name: "DB", ValueFrom: "/app/db", Provider: "ssm", Region: "eu-west-1", Type: "ENVIRONMENT_VARIABLE", Target: "CONTAINER"},
		{Name: "API", ValueFrom: "arn:aws:secretsmanager:us-east-2:111122223333:secret:api-AbCdEf:key::"},
		{Name: "P2", ValueFrom: "arn:aws:ssm:ap-south-1:111122223333:parameter/p2"},
		{Name: "token", ValueFrom: "/logs/token", Target: "LOG_DRIVER"},
	}
	_, cs := mustObjects(t, task)
	want := []v1alpha1.SecretRef{
		{Name: "DB", ValueFrom: "/app/db", Provider: "ssm", Region: "eu-west-1", Target: "CONTAINER"},
		{Name: "API", ValueFrom: "arn:aws:secretsmanager:us-east-2:111122223333:secret:api-AbCdEf:key::", Provider: "asm", Region: "us-east-2", Target: "CONTAINER"},
		{Name: "P2", ValueFrom: "arn:aws:ssm:ap-south-1:111122223333:parameter/p2", Provider: "ssm", Region: "ap-south-1", Target: "CONTAINER"},
		{Name: "token", ValueFrom: "/logs/token", Provider: "ssm", Target: "LOG_DRIVER"},
	}
	if !reflect.DeepEqual(cs[0].Spec.Secrets, want) {
		t.Fatalf("secrets\n%+v\nwant\n%+v", cs[0].Spec.Secrets, want)
	}
}
