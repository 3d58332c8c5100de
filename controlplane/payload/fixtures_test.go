package payload

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

// TestFixtureRoundTrip decodes every valid fixture, translates it, re-encodes the decoded
// message and checks that the second decode and translation are identical to the first.
func TestFixtureRoundTrip(t *testing.T) {
	for _, name := range []string{"payload_bridge.json", "payload_depends_on.json", "payload_awsvpc.json"} {
		t.Run(name, func(t *testing.T) {
			p1 := decodePayload(t, readFixture(t, name))
			if err := p1.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			data, err := EncodeMessage(p1)
			if err != nil {
				t.Fatalf("EncodeMessage: %v", err)
			}
			// Encoding is a fixpoint after one decode (an empty list and an absent one both
			// encode as absent, so the structs themselves may differ in nil vs empty).
			p2 := decodePayload(t, data)
			data2, err := EncodeMessage(p2)
			if err != nil {
				t.Fatalf("EncodeMessage: %v", err)
			}
			if string(data) != string(data2) {
				t.Fatalf("wire round trip differs:\n%s\n%s", data, data2)
			}
			for i := range p1.Tasks {
				task1, cs1, err := ToObjects(&p1.Tasks[i], p1.Options())
				if err != nil {
					t.Fatalf("ToObjects: %v", err)
				}
				task2, cs2, err := ToObjects(&p2.Tasks[i], p2.Options())
				if err != nil {
					t.Fatalf("ToObjects after round trip: %v", err)
				}
				if !reflect.DeepEqual(task1, task2) || !reflect.DeepEqual(cs1, cs2) {
					t.Fatal("objects differ after round trip")
				}
				checkNoSecrets(t, secretsOf(&p1.Tasks[i]), task1, cs1)
				// Objects survive their own JSON round trip (what the store persists).
				b, err := json.Marshal(cs1[0])
				if err != nil {
					t.Fatal(err)
				}
				var back v1alpha1.Container
				if err := json.Unmarshal(b, &back); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(back.Spec, cs1[0].Spec) {
					t.Fatalf("container spec JSON round trip differs:\n%+v\n%+v", back.Spec, cs1[0].Spec)
				}
			}
		})
	}
}

func TestFixtureBridge(t *testing.T) {
	p := decodePayload(t, readFixture(t, "payload_bridge.json"))
	if len(p.Tasks) != 1 {
		t.Fatalf("tasks = %d", len(p.Tasks))
	}
	if p.SeqNum != 7 || p.MessageID != "pm-42" || p.GeneratedAt != 1782900000 {
		t.Fatalf("envelope = %+v", p)
	}
	task, cs := mustObjects(t, &p.Tasks[0])

	wantTask := v1alpha1.TaskSpec{
		ARN:                    testTaskARN,
		ClusterARN:             testClusterARN,
		Family:                 "web",
		Version:                "3",
		DesiredStatus:          v1alpha1.TaskStatusRunning,
		NetworkMode:            "bridge",
		LaunchType:             "EC2",
		Volumes:                []v1alpha1.Volume{{Name: "data", Type: "host", HostSourcePath: "/srv/data"}, {Name: "scratch", Type: "host"}},
		Containers:             []string{"web"},
		RoleCredentialsID:      "c0ffee-1",
		ExecutionCredentialsID: "c0ffee-2",
		SeqNum:                 7,
	}
	if !reflect.DeepEqual(task.Spec, wantTask) {
		t.Fatalf("task spec:\n got %+v\nwant %+v", task.Spec, wantTask)
	}
	if task.Name != testTaskID || task.Namespace != v1alpha1.Namespace {
		t.Fatalf("task name %s/%s", task.Namespace, task.Name)
	}
	wantLabels := map[string]string{
		v1alpha1.LabelTaskARN:  testTaskARN,
		v1alpha1.LabelTaskName: testTaskID,
		v1alpha1.LabelFamily:   "web",
		v1alpha1.LabelRevision: "3",
		v1alpha1.LabelCluster:  testClusterARN,
	}
	if !reflect.DeepEqual(task.Labels, wantLabels) {
		t.Fatalf("task labels %v", task.Labels)
	}

	c := cs[0]
	if c.Name != testTaskID+"-web" || c.Labels[v1alpha1.LabelContainerName] != "web" || c.Labels[v1alpha1.LabelTaskARN] != testTaskARN {
		t.Fatalf("container meta %+v", c.ObjectMeta)
	}
	if len(c.OwnerReferences) != 1 || c.OwnerReferences[0].Name != testTaskID || c.OwnerReferences[0].Kind != "Task" ||
		c.OwnerReferences[0].APIVersion != v1alpha1.GroupVersion.String() {
		t.Fatalf("owner refs %+v", c.OwnerReferences)
	}
	want := v1alpha1.ContainerSpec{
		TaskName:          testTaskID,
		Name:              "web",
		Image:             "public.ecr.aws/nginx/nginx:1.27",
		Command:           []string{"nginx", "-g", "daemon off;"},
		CPU:               256,
		Memory:            512,
		MemoryReservation: 256,
		Essential:         true,
		Environment:       map[string]string{"AWS_EXECUTION_ENV": "AWS_ECS_EC2", "MODE": "docker-config", "EXTRA": "1"},
		PortMappings: []v1alpha1.PortMapping{
			{ContainerPort: 80, Protocol: "tcp"},
			{ContainerPort: 8443, HostPort: 443, Protocol: "tcp"},
			{ContainerPortRange: "9000-9010", Protocol: "udp"},
		},
		MountPoints: []v1alpha1.MountPoint{
			{SourceVolume: "data", ContainerPath: "/usr/share/nginx/html", ReadOnly: true},
			{SourceVolume: "scratch", ContainerPath: "/scratch"},
		},
		StopTimeout:   30,
		RestartPolicy: &v1alpha1.RestartPolicy{Enabled: true, IgnoredExitCodes: []int32{0, 143}, RestartAttemptPeriod: 60},
		LinuxParameters: &v1alpha1.LinuxParameters{
			CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"MKNOD"}, InitProcessEnabled: true, SharedMemorySize: 128,
			Tmpfs: []v1alpha1.Tmpfs{{ContainerPath: "/run", Size: 64, MountOptions: []string{"rw", "noexec"}}},
		},
		HealthCheck: &v1alpha1.HealthCheck{
			Test:        []string{"CMD-SHELL", "curl -f http://localhost/ || exit 1"},
			Interval:    metav1.Duration{Duration: 30 * time.Second},
			Timeout:     metav1.Duration{Duration: 5 * time.Second},
			StartPeriod: metav1.Duration{Duration: 10 * time.Second},
			Retries:     3,
		},
		User:           "101:101",
		WorkingDir:     "/usr/share/nginx",
		Hostname:       "web-1",
		DNSServers:     []string{"10.0.0.2"},
		DNSSearch:      []string{"corp.example"},
		ExtraHosts:     []string{"db.internal:10.0.0.9"},
		ReadonlyRootFS: true,
		// The fixture's dockerSecurityOptions, from hostConfig.SecurityOpt.
		SecurityOptions: &v1alpha1.SecurityOptions{NoNewPrivileges: true},
		Labels:          map[string]string{"team": "a", "tier": "frontend"},
		Ulimits:         []v1alpha1.Ulimit{{Name: "nofile", Soft: 1024, Hard: 4096}},
		Sysctls:         map[string]string{"net.core.somaxconn": "1024"},
		LogConfig:       &v1alpha1.LogConfig{Driver: "awslogs", Options: map[string]string{"awslogs-group": "/ecs/web", "awslogs-region": "us-west-2"}},
		RegistryAuth:    &v1alpha1.RegistryAuth{Type: "ecr", RegistryID: "111122223333", Region: "us-west-2", UseExecutionRole: true},
	}
	if !reflect.DeepEqual(c.Spec, want) {
		gotJ, _ := json.MarshalIndent(c.Spec, "", " ")
		wantJ, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("container spec:\n got %s\nwant %s", gotJ, wantJ)
	}

	creds := Credentials(&p.Tasks[0])
	if len(creds) != 2 || creds[0].RoleType != RoleTypeTaskApplication || creds[0].Credentials.CredentialsID != "c0ffee-1" ||
		creds[1].RoleType != RoleTypeTaskExecution || creds[1].Credentials.SecretAccessKey != "fixture-secret-access-key-exec" {
		t.Fatalf("credentials %v", creds)
	}
}

func TestFixtureDependsOn(t *testing.T) {
	p := decodePayload(t, readFixture(t, "payload_depends_on.json"))
	task, cs := mustObjects(t, &p.Tasks[0])
	if !reflect.DeepEqual(task.Spec.Containers, []string{"app", "db", "migrate"}) {
		t.Fatalf("containers %v", task.Spec.Containers)
	}
	app := cs[0].Spec
	if !reflect.DeepEqual(app.Command, []string{"/app", "--serve"}) {
		t.Fatalf("overrides command not applied: %v", app.Command)
	}
	wantDeps := []v1alpha1.Dependency{{ContainerName: "db", Condition: v1alpha1.ConditionHealthy}, {ContainerName: "migrate", Condition: v1alpha1.ConditionSuccess}}
	if !reflect.DeepEqual(app.DependsOn, wantDeps) || !reflect.DeepEqual(app.Links, []string{"db:database"}) || app.StartTimeout != 120 {
		t.Fatalf("app spec %+v", app)
	}
	// "CapAdd":[] present in hostConfig: no capabilities, and nothing else set.
	if app.LinuxParameters != nil {
		t.Fatalf("app linuxParameters %+v", app.LinuxParameters)
	}
	db := cs[1].Spec
	if db.HealthCheck == nil || !reflect.DeepEqual(db.HealthCheck.Test, []string{"CMD", "pg_isready"}) || db.HealthCheck.Retries != 5 ||
		db.HealthCheck.Interval.Duration != 5*time.Second {
		t.Fatalf("db health check %+v", db.HealthCheck)
	}
	if cs[2].Spec.Essential || cs[2].Name != "0b9a8c7d6e5f40312233445566778899-migrate" {
		t.Fatalf("migrate %+v", cs[2])
	}
}

func TestFixtureAWSVPC(t *testing.T) {
	p := decodePayload(t, readFixture(t, "payload_awsvpc.json"))
	task, cs := mustObjects(t, &p.Tasks[0])
	if !reflect.DeepEqual(task.Spec.ENIs, []string{"9e0c1d2b-3a4f-4b5c-8d6e-7f8091a2b3c4"}) {
		t.Fatalf("ENIs %v", task.Spec.ENIs)
	}
	if task.Spec.ClusterARN != "arn:aws:ecs:us-west-2:111122223333:cluster/other" || task.Spec.CPU != 0.5 || task.Spec.Memory != 1024 {
		t.Fatalf("task spec %+v", task.Spec)
	}
	wantLP := &v1alpha1.LinuxParameters{
		CapAdd: []string{"SYS_PTRACE"}, InitProcessEnabled: true, SharedMemorySize: 64,
		Devices: []v1alpha1.Device{{HostPath: "/dev/fuse", Permissions: []string{"read", "write"}}},
	}
	if !reflect.DeepEqual(cs[0].Spec.LinuxParameters, wantLP) {
		t.Fatalf("linux parameters %+v", cs[0].Spec.LinuxParameters)
	}
	att, err := ENIAttachment(&p.Tasks[0].ElasticNetworkInterfaces[0], p.Tasks[0].Arn, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := v1alpha1.AttachmentSpec{
		AttachmentARN:     "arn:aws:ecs:us-west-2:111122223333:attachment/9e0c1d2b-3a4f-4b5c-8d6e-7f8091a2b3c4",
		TaskARN:           p.Tasks[0].Arn,
		MACAddress:        "0a:1b:2c:3d:4e:5f",
		IPv4Addresses:     []string{"10.0.1.23"},
		IPv6Addresses:     []string{"2600:1f14:abc:de00::17"},
		SubnetGatewayIPv4: "10.0.1.1/24",
		DomainNameServers: []string{"10.0.0.2"},
		DomainName:        []string{"us-west-2.compute.internal"},
		PrivateDNSName:    "ip-10-0-1-23.us-west-2.compute.internal",
	}
	if att.Name != task.Spec.ENIs[0] || !reflect.DeepEqual(att.Spec, want) || att.Labels[v1alpha1.LabelTaskName] != task.Name {
		t.Fatalf("attachment %+v", att)
	}
}

func TestFixtureMalformed(t *testing.T) {
	for _, tc := range []struct {
		file     string
		sentinel error
		substr   string
	}{
		{"malformed_hostconfig.json", ErrInvalidJSON, "container web: dockerConfig.hostConfig: invalid JSON: "},
		{"malformed_cycle.json", ErrDependencyCycle, "TaskDependencyError: Task dependencies cannot be resolved, taskArn: arn:aws:ecs:us-west-2:111122223333:task/prod/0b9a8c7d6e5f40312233445566778899: cycle app -> db -> app"},
		{"malformed_efs_volume.json", ErrUnsupported, `volume shared: efsVolumeConfiguration.authorizationConfig.accessPointId: not supported by ecsd`},
		{"malformed_port.json", ErrInvalidValue, "container web: portMappings[0]: containerPort: invalid value 70000"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			p := decodePayload(t, readFixture(t, tc.file))
			task, cs, err := ToObjects(&p.Tasks[0], p.Options())
			wantErr(t, err, tc.sentinel, tc.substr)
			wantErr(t, err, ErrInvalidTask, "")
			if task != nil || cs != nil {
				t.Fatal("objects returned with an error")
			}
			inv := InvalidTaskObject(&p.Tasks[0], err)
			if inv.Spec.DesiredStatus != v1alpha1.TaskStatusStopped || inv.Spec.Invalid != InvalidReason(err) {
				t.Fatalf("invalid object %+v", inv.Spec)
			}
			checkNoSecrets(t, secretsOf(&p.Tasks[0]), inv)
		})
	}
	if _, err := DecodeFrame(readFixture(t, "malformed_frame.json")); !errorsIs(err, ErrMalformedFrame) {
		t.Fatalf("truncated frame: %v", err)
	}
}
