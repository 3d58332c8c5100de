package localplane

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/controlplane/payload"
)

// TestPayloadTranslation registers a definition using most container settings, runs it
// with overrides, and checks that the payload task the agent receives translates (with
// the agent's own controlplane/payload) into the container specs the definition asks for.
func TestPayloadTranslation(t *testing.T) {
	p := newPlane(t, Options{HeartbeatInterval: time.Hour, ManifestInterval: time.Hour})
	ctx := context.Background()
	instance := p.setup(t, "prod")
	_, err := p.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String("rich"),
		NetworkMode: types.NetworkModeHost,
		Cpu:         aws.String("512"),
		Memory:      aws.String("512"),
		Volumes: []types.Volume{
			{Name: aws.String("data"), Host: &types.HostVolumeProperties{SourcePath: aws.String("/srv/data")}},
			{Name: aws.String("scratch"), DockerVolumeConfiguration: &types.DockerVolumeConfiguration{Scope: types.ScopeTask}},
		},
		ContainerDefinitions: []types.ContainerDefinition{
			{
				Name: aws.String("app"), Image: aws.String("busybox:1"), Cpu: 256, Memory: aws.Int32(256), MemoryReservation: aws.Int32(128),
				Command: []string{"sleep", "1"}, EntryPoint: []string{"/bin/sh", "-c"},
				Environment:  []types.KeyValuePair{{Name: aws.String("A"), Value: aws.String("a")}, {Name: aws.String("B"), Value: aws.String("b")}},
				PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}},
				MountPoints:  []types.MountPoint{{SourceVolume: aws.String("data"), ContainerPath: aws.String("/data"), ReadOnly: aws.Bool(true)}},
				VolumesFrom:  []types.VolumeFrom{{SourceContainer: aws.String("init"), ReadOnly: aws.Bool(true)}},
				DependsOn:    []types.ContainerDependency{{ContainerName: aws.String("init"), Condition: types.ContainerConditionSuccess}},
				StopTimeout:  aws.Int32(5), StartTimeout: aws.Int32(7),
				RestartPolicy: &types.ContainerRestartPolicy{Enabled: aws.Bool(true), IgnoredExitCodes: []int32{0}, RestartAttemptPeriod: aws.Int32(60)},
				Hostname:      aws.String("apphost"), User: aws.String("1000:1000"), WorkingDirectory: aws.String("/work"),
				DnsServers: []string{"10.0.0.2"}, DnsSearchDomains: []string{"example.com"},
				ExtraHosts:             []types.HostEntry{{Hostname: aws.String("db"), IpAddress: aws.String("10.0.0.5")}},
				DockerLabels:           map[string]string{"team": "a"},
				Ulimits:                []types.Ulimit{{Name: types.UlimitNameNofile, SoftLimit: 1024, HardLimit: 4096}},
				LogConfiguration:       &types.LogConfiguration{LogDriver: types.LogDriverJsonFile, Options: map[string]string{"max-size": "10m"}},
				HealthCheck:            &types.HealthCheck{Command: []string{"CMD-SHELL", "true"}, Interval: aws.Int32(10), Retries: aws.Int32(2)},
				SystemControls:         []types.SystemControl{{Namespace: aws.String("net.core.somaxconn"), Value: aws.String("1024")}},
				ReadonlyRootFilesystem: aws.Bool(true),
				LinuxParameters: &types.LinuxParameters{
					Capabilities:       &types.KernelCapabilities{Add: []string{"NET_ADMIN"}, Drop: []string{"MKNOD"}},
					InitProcessEnabled: aws.Bool(true), SharedMemorySize: aws.Int32(64),
					Tmpfs: []types.Tmpfs{{ContainerPath: aws.String("/tmp"), Size: 32, MountOptions: []string{"noexec"}}},
				},
			},
			{
				Name: aws.String("init"), Image: aws.String("busybox:1"), Essential: aws.Bool(false), Memory: aws.Int32(32),
				MountPoints: []types.MountPoint{{SourceVolume: aws.String("scratch"), ContainerPath: aws.String("/scratch")}},
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	a := p.connect(t, "prod", instance, false)
	_, err = p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String("rich"),
		Overrides: &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{{
			Name: aws.String("app"), Command: []string{"echo", "hi"}, Cpu: aws.Int32(300),
			Environment: []types.KeyValuePair{{Name: aws.String("B"), Value: aws.String("override")}, {Name: aws.String("C"), Value: aws.String("c")}},
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	msg := a.payload()

	// Decode the wire form the way the agent does.
	var task payload.Task
	raw, err := json.Marshal(msg.Tasks[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &task); err != nil {
		t.Fatal(err)
	}
	if task.Family != "rich" || task.Version != "1" || task.NetworkMode != "host" || task.CPU != 0.5 || task.Memory != 512 ||
		task.LaunchType != "EC2" || len(task.Volumes) != 2 || task.Volumes[1].Type != "docker" {
		t.Fatalf("task members: %+v", task)
	}
	obj, containers, err := payload.ToObjects(&task, msg.Options())
	if err != nil {
		t.Fatalf("ToObjects: %v", err)
	}
	if obj.Spec.DesiredStatus != v1alpha1.TaskStatusRunning || len(containers) != 2 || obj.Spec.Volumes[0].HostSourcePath != "/srv/data" {
		t.Fatalf("task spec %+v", obj.Spec)
	}
	app, init := containers[0].Spec, containers[1].Spec
	checks := []struct {
		name string
		ok   bool
	}{
		{"command override", slices.Equal(app.Command, []string{"echo", "hi"})},
		{"entryPoint", slices.Equal(app.EntryPoint, []string{"/bin/sh", "-c"})},
		{"cpu override", app.CPU == 300},
		{"memory", app.Memory == 256 && app.MemoryReservation == 128},
		{"environment merged", app.Environment["A"] == "a" && app.Environment["B"] == "override" && app.Environment["C"] == "c"},
		{"host port = container port in host mode", len(app.PortMappings) == 1 && app.PortMappings[0].HostPort == 8080 && app.PortMappings[0].Protocol == "tcp"},
		{"mount point", len(app.MountPoints) == 1 && app.MountPoints[0].ReadOnly},
		{"dependsOn", len(app.DependsOn) == 1 && app.DependsOn[0].Condition == v1alpha1.ConditionSuccess},
		{"timeouts", app.StopTimeout == 5 && app.StartTimeout == 7},
		{"restart policy", app.RestartPolicy != nil && app.RestartPolicy.Enabled && app.RestartPolicy.RestartAttemptPeriod == 60},
		{"hostname, user, workdir", app.Hostname == "apphost" && app.User == "1000:1000" && app.WorkingDir == "/work"},
		{"dns", slices.Equal(app.DNSServers, []string{"10.0.0.2"}) && slices.Equal(app.DNSSearch, []string{"example.com"})},
		{"extra hosts", slices.Equal(app.ExtraHosts, []string{"db:10.0.0.5"})},
		{"labels", app.Labels["team"] == "a"},
		{"ulimits", len(app.Ulimits) == 1 && app.Ulimits[0].Name == "nofile" && app.Ulimits[0].Soft == 1024 && app.Ulimits[0].Hard == 4096},
		{"log configuration", app.LogConfig != nil && app.LogConfig.Driver == "json-file" && app.LogConfig.Options["max-size"] == "10m"},
		{"health check", app.HealthCheck != nil && slices.Equal(app.HealthCheck.Test, []string{"CMD-SHELL", "true"}) &&
			app.HealthCheck.Interval.Duration == 10*time.Second && app.HealthCheck.Timeout.Duration == 5*time.Second && app.HealthCheck.Retries == 2},
		{"sysctls", app.Sysctls["net.core.somaxconn"] == "1024"},
		{"read-only root", app.ReadonlyRootFS},
		{"capabilities", app.LinuxParameters != nil && slices.Equal(app.LinuxParameters.CapAdd, []string{"NET_ADMIN"}) &&
			slices.Equal(app.LinuxParameters.CapDrop, []string{"MKNOD"})},
		{"init, shm, tmpfs", app.LinuxParameters != nil && app.LinuxParameters.InitProcessEnabled && app.LinuxParameters.SharedMemorySize == 64 &&
			len(app.LinuxParameters.Tmpfs) == 1 && app.LinuxParameters.Tmpfs[0].Size == 32 && slices.Equal(app.LinuxParameters.Tmpfs[0].MountOptions, []string{"noexec"})},
		{"essential", app.Essential && !init.Essential},
		{"volumesFrom", len(app.VolumesFrom) == 1 && app.VolumesFrom[0].SourceContainer == "init" && app.VolumesFrom[0].ReadOnly},
		{"init mount", len(init.MountPoints) == 1 && init.MountPoints[0].SourceVolume == "scratch"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: not as defined; spec %+v", c.name, app)
		}
	}
}

func TestEcrImage(t *testing.T) {
	for _, tc := range []struct {
		image, registry, region string
		ok                      bool
	}{
		{"123456789012.dkr.ecr.us-west-2.amazonaws.com/app:1", "123456789012", "us-west-2", true},
		{"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/app", "123456789012", "us-gov-west-1", true},
		{"busybox", "", "", false},
		{"public.ecr.aws/nginx/nginx:1", "", "", false},
	} {
		reg, region, ok := ecrImage(tc.image)
		if reg != tc.registry || region != tc.region || ok != tc.ok {
			t.Errorf("ecrImage(%q) = %q %q %v", tc.image, reg, region, ok)
		}
	}
}

func TestTimestampJSON(t *testing.T) {
	ts := At(time.Unix(1782900000, 123456789))
	b, err := json.Marshal(struct {
		T Timestamp `json:"t,omitzero"`
		Z Timestamp `json:"z,omitzero"`
	}{T: ts})
	if err != nil || string(b) != `{"t":1782900000.123}` {
		t.Fatalf("marshal = %s %v", b, err)
	}
	var back struct{ T Timestamp }
	if err := json.Unmarshal([]byte(`{"T":1782900000.123}`), &back); err != nil || !back.T.Equal(ts.Time) {
		t.Fatalf("unmarshal = %v %v, want %v", back.T, err, ts)
	}
}
