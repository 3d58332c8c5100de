package payload

import (
	"reflect"
	"testing"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

// TestToObjectsRejects covers every validation error ToObjects returns.
func TestToObjectsRejects(t *testing.T) {
	c0 := func(f func(c *Container)) func(*Task) { return func(t *Task) { f(&t.Containers[0]) } }
	eni := func(f func(e *ElasticNetworkInterface)) func(*Task) {
		return func(t *Task) {
			e := ElasticNetworkInterface{
				AttachmentArn: "arn:aws:ecs:us-west-2:111122223333:attachment/abc-123",
				MacAddress:    "0a:1b:2c:3d:4e:5f",
			}
			f(&e)
			t.NetworkMode = "awsvpc"
			t.ElasticNetworkInterfaces = []ElasticNetworkInterface{e}
		}
	}
	for _, tc := range []struct {
		name     string
		mutate   func(*Task)
		sentinel error
		substr   string
	}{
		// Task identity and status.
		{"missing arn", func(t *Task) { t.Arn = "" }, ErrMissing, "arn: missing"},
		{"not an arn", func(t *Task) { t.Arn = "6a1b" }, ErrInvalidValue, `arn: invalid value "6a1b"`},
		{"not a task arn", func(t *Task) { t.Arn = "arn:aws:ecs:us-west-2:1:container-instance/x" }, ErrInvalidValue, "arn: invalid value"},
		{"bad task id", func(t *Task) { t.Arn = "arn:aws:ecs:us-west-2:1:task/prod/a.b" }, ErrInvalidValue, "bad task ID"},
		{"empty task id", func(t *Task) { t.Arn = "arn:aws:ecs:us-west-2:1:task/prod/" }, ErrInvalidValue, "bad task ID"},
		{"missing desired status", func(t *Task) { t.DesiredStatus = "" }, ErrMissing, "desiredStatus: missing"},
		{"bad desired status", func(t *Task) { t.DesiredStatus = "PENDING" }, ErrInvalidValue, `desiredStatus: invalid value "PENDING"`},
		{"lower-case desired status", func(t *Task) { t.DesiredStatus = "running" }, ErrInvalidValue, "desiredStatus"},
		{"no containers", func(t *Task) { t.Containers = nil }, ErrMissing, "containers: missing"},
		{"negative task cpu", func(t *Task) { t.CPU = -0.25 }, ErrInvalidValue, "cpu: invalid value -0.25"},
		{"negative task memory", func(t *Task) { t.Memory = -1 }, ErrInvalidValue, "memory: invalid value -1"},
		{"unknown network mode", func(t *Task) { t.NetworkMode = "nat" }, ErrUnsupported, `networkMode "nat"`},
		{"bad pid mode", func(t *Task) { t.PIDMode = "container" }, ErrInvalidValue, "pidMode"},
		{"bad ipc mode", func(t *Task) { t.IPCMode = "shareable" }, ErrInvalidValue, "ipcMode"},
		{"associations", func(t *Task) { t.Associations = []Association{{Type: "gpu", Name: "0"}} }, ErrUnsupported, `associations (type "gpu")`},
		{"proxy configuration", func(t *Task) { t.ProxyConfiguration = &ProxyConfiguration{Type: "APPMESH"} }, ErrUnsupported, "proxyConfiguration"},
		{"service connect", func(t *Task) { t.Attachments = []Attachment{{AttachmentType: "serviceconnectdetail"}} }, ErrUnsupported, "attachments"},
		{"isolation", func(t *Task) {
			t.TrustedExecutionConfiguration = &TrustedExecutionConfiguration{IsolationMode: "EXCLUSIVE"}
		}, ErrUnsupported, "isolationMode"},
		{"role credentials without id", func(t *Task) { t.RoleCredentials = &IAMRoleCredentials{SecretAccessKey: "s"} }, ErrMissing, "roleCredentials.credentialsId"},
		{"execution credentials without id", func(t *Task) { t.ExecutionRoleCredentials = &IAMRoleCredentials{} }, ErrMissing, "executionRoleCredentials.credentialsId"},

		// Volumes.
		{"volume without name", func(t *Task) { t.Volumes = append(t.Volumes, Volume{}) }, ErrMissing, "volumes[1].name: missing"},
		{"duplicate volume", func(t *Task) { t.Volumes = append(t.Volumes, Volume{Name: "data"}) }, ErrDuplicate, `volumes[1].name "data": duplicate`},
		{"efs volume without file system", func(t *Task) { t.Volumes = []Volume{{Name: "e", Type: "efs"}} }, ErrMissing, `volume e: efsVolumeConfiguration.fileSystemId`},
		{"efs volume bad file system id", efs(EFSVolumeConfiguration{FileSystemID: "fs-1;rm"}), ErrInvalidValue, "fileSystemId"},
		{"efs volume bad transit encryption", efs(EFSVolumeConfiguration{FileSystemID: "fs-12345678", TransitEncryption: "YES"}), ErrInvalidValue, "transitEncryption"},
		{"efs volume bad port", efs(EFSVolumeConfiguration{FileSystemID: "fs-12345678", TransitEncryptionPort: 70000}), ErrInvalidValue, "transitEncryptionPort"},
		{"efs volume root with comma", efs(EFSVolumeConfiguration{FileSystemID: "fs-12345678", RootDirectory: "/a,b"}), ErrInvalidValue, "rootDirectory"},
		{"efs volume root escaping", efs(EFSVolumeConfiguration{FileSystemID: "fs-12345678", RootDirectory: "/a/.."}), ErrInvalidValue, "rootDirectory"},
		{"efs iam without tls", efs(EFSVolumeConfiguration{FileSystemID: "fs-12345678", AuthorizationConfig: &EFSAuthorizationConfig{IAM: "ENABLED"}}), ErrInvalidValue, "needs transitEncryption ENABLED"},
		{"efs iam", efs(EFSVolumeConfiguration{FileSystemID: "fs-12345678", TransitEncryption: "ENABLED", AuthorizationConfig: &EFSAuthorizationConfig{IAM: "ENABLED"}}), ErrUnsupported, "authorizationConfig.iam"},
		{"efs access point", efs(EFSVolumeConfiguration{FileSystemID: "fs-12345678", TransitEncryption: "ENABLED", AuthorizationConfig: &EFSAuthorizationConfig{AccessPointID: "fsap-1"}}), ErrUnsupported, "accessPointId"},
		{"fsx volume", func(t *Task) { t.Volumes = []Volume{{Name: "f", Type: "fsxWindowsFileServer"}} }, ErrUnsupported, "fsxWindowsFileServer"},
		{"ebs volume", func(t *Task) { t.Volumes = []Volume{{Name: "b", Type: "ebs"}} }, ErrUnsupported, `"ebs"`},
		{"unknown volume type", func(t *Task) { t.Volumes = []Volume{{Name: "x", Type: "nfs"}} }, ErrUnsupported, `"nfs"`},
		{"unknown docker volume scope", docker(DockerVolumeConfiguration{Scope: "global"}), ErrInvalidValue, `scope: invalid value "global"`},
		{"docker volume plugin", docker(DockerVolumeConfiguration{Driver: "rexray/ebs"}), ErrUnsupported, `driver "rexray/ebs"`},
		{"docker volume unknown driver opt", docker(DockerVolumeConfiguration{DriverOpts: map[string]string{"size": "1g"}}), ErrInvalidValue, `driverOpts: invalid value "size"`},
		{"docker volume type without device", docker(DockerVolumeConfiguration{DriverOpts: map[string]string{"type": "nfs"}}), ErrMissing, "driverOpts.device"},
		{"docker volume device without type", docker(DockerVolumeConfiguration{DriverOpts: map[string]string{"device": "/srv"}}), ErrMissing, "need a type"},
		{"relative host path", func(t *Task) { t.Volumes[0].Host.SourcePath = "srv" }, ErrInvalidValue, "host.sourcePath"},

		// ENIs.
		{"eni without attachment arn", eni(func(e *ElasticNetworkInterface) { e.AttachmentArn = "" }), ErrMissing, "elasticNetworkInterfaces[0]: attachmentArn: missing"},
		{"eni bad attachment arn", eni(func(e *ElasticNetworkInterface) { e.AttachmentArn = "attachment" }), ErrInvalidValue, "attachmentArn"},
		{"eni without mac", eni(func(e *ElasticNetworkInterface) { e.MacAddress = "" }), ErrMissing, "macAddress: missing"},
		{"eni bad mac", eni(func(e *ElasticNetworkInterface) { e.MacAddress = "zz:zz" }), ErrInvalidValue, "macAddress"},
		{"eni bad ipv4", eni(func(e *ElasticNetworkInterface) {
			e.IPv4Addresses = []IPv4AddressAssignment{{PrivateAddress: "::1"}}
		}), ErrInvalidValue, "ipv4Addresses[0]"},
		{"eni bad ipv6", eni(func(e *ElasticNetworkInterface) { e.IPv6Addresses = []IPv6AddressAssignment{{Address: "10.0.0.1"}} }), ErrInvalidValue, "ipv6Addresses[0]"},
		{"eni bad gateway", eni(func(e *ElasticNetworkInterface) { e.SubnetGatewayIPv4Address = "10.0.0.1" }), ErrInvalidValue, "subnetGatewayIpv4Address"},
		{"eni trunk", eni(func(e *ElasticNetworkInterface) { e.InterfaceAssociationProtocol = "vlan" }), ErrUnsupported, "interfaceAssociationProtocol"},

		// Container identity.
		{"container without name", func(t *Task) { t.Containers[1].Name = "" }, ErrMissing, "containers[1].name: missing"},
		{"bad container name", func(t *Task) { t.Containers[1].Name = "side car" }, ErrInvalidValue, `containers[1].name: invalid value "side car"`},
		{"duplicate container name", func(t *Task) { t.Containers[1].Name = "web" }, ErrDuplicate, `containers[1].name "web": duplicate`},
		{"container without image", c0(func(c *Container) { c.Image = "" }), ErrMissing, "container web: image: missing"},

		// Resources and timeouts.
		{"negative cpu", c0(func(c *Container) { c.CPU = -1 }), ErrInvalidValue, "container web: cpu: invalid value -1"},
		{"negative memory", c0(func(c *Container) { c.Memory = -512 }), ErrInvalidValue, "container web: memory: invalid value -512"},
		{"negative start timeout", c0(func(c *Container) { c.StartTimeout = -1 }), ErrInvalidValue, "startTimeout"},
		{"negative stop timeout", c0(func(c *Container) { c.StopTimeout = -1 }), ErrInvalidValue, "stopTimeout"},
		{"reservation above limit", c0(func(c *Container) { c.DockerConfig = hostConfig(`{"MemoryReservation":1073741824}`) }), ErrInvalidValue, "memoryReservation: invalid value 1024 MiB"},

		// Environment.
		{"env name with =", c0(func(c *Container) { c.Environment = map[string]string{"A=B": "c"} }), ErrInvalidValue, "environment"},
		{"empty env name", c0(func(c *Container) { c.Environment = map[string]string{"": "c"} }), ErrInvalidValue, "empty variable name"},
		{"env file without value", c0(func(c *Container) { c.EnvironmentFiles = []EnvironmentFile{{Type: "s3"}} }), ErrMissing, "environmentFiles[0].value"},

		// References.
		{"dependsOn unknown container", c0(func(c *Container) {
			c.DependsOn = []ContainerDependency{{ContainerName: "db", Condition: "START"}}
		}), ErrUnknownReference, `container web: dependsOn[0]: containerName "db": unknown reference`},
		{"dependsOn without name", c0(func(c *Container) { c.DependsOn = []ContainerDependency{{Condition: "START"}} }), ErrMissing, "dependsOn[0]: containerName: missing"},
		{"dependsOn without condition", c0(func(c *Container) {
			c.DependsOn = []ContainerDependency{{ContainerName: "sidecar"}}
		}), ErrMissing, "dependsOn[0]: condition: missing"},
		{"dependsOn bad condition", c0(func(c *Container) {
			c.DependsOn = []ContainerDependency{{ContainerName: "sidecar", Condition: "READY"}}
		}), ErrInvalidValue, `condition: invalid value "READY"`},
		{"mountPoint unknown volume", c0(func(c *Container) {
			c.MountPoints = []MountPoint{{SourceVolume: "logs", ContainerPath: "/logs"}}
		}), ErrUnknownReference, `container web: mountPoints[0].sourceVolume "logs": unknown reference`},
		{"mountPoint without volume", c0(func(c *Container) { c.MountPoints = []MountPoint{{ContainerPath: "/x"}} }), ErrMissing, "mountPoints[0].sourceVolume"},
		{"mountPoint without path", c0(func(c *Container) { c.MountPoints = []MountPoint{{SourceVolume: "data"}} }), ErrMissing, "mountPoints[0].containerPath"},
		{"mountPoint relative path", c0(func(c *Container) {
			c.MountPoints = []MountPoint{{SourceVolume: "data", ContainerPath: "data"}}
		}), ErrInvalidValue, "mountPoints[0].containerPath"},
		{"volumesFrom unknown", c0(func(c *Container) { c.VolumesFrom = []VolumeFrom{{SourceContainer: "db"}} }), ErrUnknownReference, "volumesFrom[0].sourceContainer"},
		{"volumesFrom missing", c0(func(c *Container) { c.VolumesFrom = []VolumeFrom{{}} }), ErrMissing, "volumesFrom[0].sourceContainer"},
		{"link unknown", c0(func(c *Container) { c.Links = []string{"db:database"} }), ErrUnknownReference, `links[0]: "db": unknown reference`},
		{"link too many colons", c0(func(c *Container) { c.Links = []string{"sidecar:a:b"} }), ErrInvalidValue, "links[0]"},
		{"link empty name", c0(func(c *Container) { c.Links = []string{":alias"} }), ErrInvalidValue, "links[0]"},
		{"link empty alias", c0(func(c *Container) { c.Links = []string{"sidecar:"} }), ErrInvalidValue, "links[0]"},
		{"link to self", c0(func(c *Container) { c.Links = []string{"web"} }), ErrInvalidValue, "link to itself"},

		// Dependency cycles, explicit and implicit.
		{"depends on itself", c0(func(c *Container) {
			c.DependsOn = []ContainerDependency{{ContainerName: "web", Condition: "START"}}
		}), ErrDependencyCycle, "cycle web -> web"},
		{"two-way dependsOn", func(t *Task) {
			t.Containers[0].DependsOn = []ContainerDependency{{ContainerName: "sidecar", Condition: "START"}}
			t.Containers[1].DependsOn = []ContainerDependency{{ContainerName: "web", Condition: "HEALTHY"}}
		}, ErrDependencyCycle, "TaskDependencyError: Task dependencies cannot be resolved, taskArn: " + testTaskARN + ": cycle web -> sidecar -> web"},
		{"cycle through link", func(t *Task) {
			t.Containers[0].Links = []string{"sidecar:s"}
			t.Containers[1].DependsOn = []ContainerDependency{{ContainerName: "web", Condition: "COMPLETE"}}
		}, ErrDependencyCycle, "cycle web -> sidecar -> web"},
		{"cycle through volumesFrom", func(t *Task) {
			t.Containers[0].VolumesFrom = []VolumeFrom{{SourceContainer: "sidecar"}}
			t.Containers[1].VolumesFrom = []VolumeFrom{{SourceContainer: "web"}}
		}, ErrDependencyCycle, "cycle web -> sidecar -> web"},
		{"three-container cycle", func(t *Task) {
			t.Containers = append(t.Containers, Container{Name: "db", Image: "postgres",
				DependsOn: []ContainerDependency{{ContainerName: "web", Condition: "SUCCESS"}}})
			t.Containers[0].DependsOn = []ContainerDependency{{ContainerName: "sidecar", Condition: "START"}}
			t.Containers[1].Links = []string{"db"}
		}, ErrDependencyCycle, "cycle web -> sidecar -> db -> web"},

		// Port mappings.
		{"container port zero", c0(func(c *Container) { c.PortMappings = []PortMapping{{}} }), ErrInvalidValue, "portMappings[0]: containerPort: invalid value 0"},
		{"container port too large", c0(func(c *Container) { c.PortMappings = []PortMapping{{ContainerPort: 65536}} }), ErrInvalidValue, "containerPort: invalid value 65536"},
		{"host port negative", c0(func(c *Container) { c.PortMappings = []PortMapping{{ContainerPort: 80, HostPort: -1}} }), ErrInvalidValue, "hostPort: invalid value -1"},
		{"host port too large", c0(func(c *Container) { c.PortMappings = []PortMapping{{ContainerPort: 80, HostPort: 70000}} }), ErrInvalidValue, "hostPort: invalid value 70000"},
		{"bad protocol", c0(func(c *Container) { c.PortMappings = []PortMapping{{ContainerPort: 80, Protocol: "sctp"}} }), ErrInvalidValue, `protocol: invalid value "sctp"`},
		{"upper-case protocol", c0(func(c *Container) { c.PortMappings = []PortMapping{{ContainerPort: 80, Protocol: "TCP"}} }), ErrInvalidValue, "protocol"},
		{"range without dash", c0(func(c *Container) { c.PortMappings = []PortMapping{{ContainerPortRange: "9000"}} }), ErrInvalidValue, `containerPortRange: invalid value "9000"`},
		{"range reversed", c0(func(c *Container) { c.PortMappings = []PortMapping{{ContainerPortRange: "9010-9000"}} }), ErrInvalidValue, "containerPortRange"},
		{"range from zero", c0(func(c *Container) { c.PortMappings = []PortMapping{{ContainerPortRange: "0-10"}} }), ErrInvalidValue, "containerPortRange"},
		{"range too high", c0(func(c *Container) { c.PortMappings = []PortMapping{{ContainerPortRange: "65000-65536"}} }), ErrInvalidValue, "containerPortRange"},
		{"range not numbers", c0(func(c *Container) { c.PortMappings = []PortMapping{{ContainerPortRange: "a-b"}} }), ErrInvalidValue, "containerPortRange"},
		{"range and port", c0(func(c *Container) {
			c.PortMappings = []PortMapping{{ContainerPort: 80, ContainerPortRange: "9000-9001"}}
		}), ErrInvalidValue, "set one, not both"},
		{"range with host port", c0(func(c *Container) {
			c.PortMappings = []PortMapping{{HostPort: 80, ContainerPortRange: "9000-9001"}}
		}), ErrInvalidValue, "hostPort with containerPortRange"},

		// Restart policy and Linux parameters.
		{"negative restart period", c0(func(c *Container) {
			c.RestartPolicy = &RestartPolicy{Enabled: true, RestartAttemptPeriod: -1}
		}), ErrInvalidValue, "restartPolicy: restartAttemptPeriod: invalid value -1"},
		{"exit code overflow", c0(func(c *Container) { c.RestartPolicy = &RestartPolicy{IgnoredExitCodes: []int64{1 << 40}} }), ErrInvalidValue, "ignoredExitCodes[0]"},
		{"negative shm", c0(func(c *Container) { c.LinuxParameters = &LinuxParameters{SharedMemorySize: Ptr(int64(-1))} }), ErrInvalidValue, "sharedMemorySize"},
		{"device without host path", c0(func(c *Container) { c.LinuxParameters = &LinuxParameters{Devices: []Device{{ContainerPath: "/dev/x"}}} }), ErrMissing, "devices[0].hostPath"},
		{"device bad permission", c0(func(c *Container) {
			c.LinuxParameters = &LinuxParameters{Devices: []Device{{HostPath: "/dev/x", Permissions: []string{"rw"}}}}
		}), ErrInvalidValue, "devices[0].permissions"},

		// Pull auth, health check type, unsupported container features.
		{"unknown registry auth", c0(func(c *Container) { c.RegistryAuthentication = &RegistryAuthenticationData{Type: "basic"} }), ErrUnsupported, `registryAuthentication: type "basic"`},
		{"asm without parameter", c0(func(c *Container) { c.RegistryAuthentication = &RegistryAuthenticationData{Type: "asm"} }), ErrMissing, "asmAuthData.credentialsParameter"},
		{"auth data without type", c0(func(c *Container) {
			c.RegistryAuthentication = &RegistryAuthenticationData{ECRAuthData: &ECRAuthData{Region: "us-west-2"}}
		}), ErrMissing, "registryAuthentication: type: missing"},
		{"health check type", c0(func(c *Container) { c.HealthCheckType = "ecs" }), ErrUnsupported, `healthCheckType "ecs"`},
		{"secret without name", c0(func(c *Container) { c.Secrets = []Secret{{ValueFrom: "/p"}} }), ErrMissing, "container web: secrets[0]: name: missing"},
		{"secret without valueFrom", c0(func(c *Container) { c.Secrets = []Secret{{Name: "P"}} }), ErrMissing, "secrets[0]: valueFrom: missing"},
		{"secret bad provider", c0(func(c *Container) { c.Secrets = []Secret{{Name: "P", ValueFrom: "/p", Provider: "vault"}} }), ErrUnsupported, `secrets[0]: provider "vault"`},
		{"asm secret by name", c0(func(c *Container) { c.Secrets = []Secret{{Name: "P", ValueFrom: "db-password", Provider: "asm"}} }), ErrInvalidValue, "named by its ARN"},
		{"secret mount point", c0(func(c *Container) {
			c.Secrets = []Secret{{Name: "P", ValueFrom: "/p", Type: "MOUNT_POINT", ContainerPath: "/run/p"}}
		}), ErrUnsupported, `type "MOUNT_POINT"`},
		{"secret bad target", c0(func(c *Container) { c.Secrets = []Secret{{Name: "P", ValueFrom: "/p", Target: "FILE"}} }), ErrInvalidValue, `target "FILE"`},
		{"secret bad env name", c0(func(c *Container) { c.Secrets = []Secret{{Name: "A=B", ValueFrom: "/p"}} }), ErrInvalidValue, "secrets[0]: name"},
		{"log secret without log config", c0(func(c *Container) {
			c.Secrets = []Secret{{Name: "token", ValueFrom: "/p", Target: "LOG_DRIVER"}}
		}), ErrInvalidValue, "without a log configuration"},
		{"firelens", c0(func(c *Container) { c.FirelensConfiguration = &FirelensConfiguration{Type: "fluentbit"} }), ErrUnsupported, "firelensConfiguration"},
		{"credential specs", c0(func(c *Container) { c.CredentialSpecs = []string{"credentialspec:file://x.json"} }), ErrUnsupported, "credentialSpecs"},

		// Overrides.
		{"overrides invalid JSON", c0(func(c *Container) { c.Overrides = Ptr(EmbeddedJSON(`{"command":`)) }), ErrInvalidJSON, "container web: overrides: invalid JSON"},
		{"overrides not an object", c0(func(c *Container) { c.Overrides = Ptr(EmbeddedJSON(`["a"]`)) }), ErrInvalidJSON, "overrides: invalid JSON"},
		{"overrides bad command", c0(func(c *Container) { c.Overrides = Ptr(EmbeddedJSON(`{"command":"ls"}`)) }), ErrInvalidJSON, "overrides.command"},
		{"overrides unknown member", c0(func(c *Container) { c.Overrides = Ptr(EmbeddedJSON(`{"command":["a"],"memory":5,"cpu":1}`)) }), ErrUnsupported, "overrides: cpu, memory: not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := baseTask()
			tc.mutate(task)
			obj, cs, err := ToObjects(task, Options{})
			wantErr(t, err, tc.sentinel, tc.substr)
			wantErr(t, err, ErrInvalidTask, "")
			if obj != nil || cs != nil {
				t.Fatal("objects returned along with an error")
			}
		})
	}
	if _, _, err := ToObjects(nil, Options{}); !errorsIs(err, ErrMissing) || !errorsIs(err, ErrInvalidTask) {
		t.Fatalf("nil task: %v", err)
	}
}

// TestToObjectsAcceptsDependencies checks orderings that look cyclic but are not.
func TestToObjectsAcceptsDependencies(t *testing.T) {
	task := baseTask()
	task.Containers = append(task.Containers,
		Container{Name: "db", Image: "postgres", VolumesFrom: []VolumeFrom{{SourceContainer: "sidecar"}}},
		Container{Name: "init", Image: "busybox"})
	// Diamond: web → sidecar, web → db, db → sidecar, everything → init.
	task.Containers[0].DependsOn = []ContainerDependency{{ContainerName: "sidecar", Condition: "START"}, {ContainerName: "init", Condition: "SUCCESS"}}
	task.Containers[0].Links = []string{"db:database", "sidecar"}
	task.Containers[1].DependsOn = []ContainerDependency{{ContainerName: "init", Condition: "COMPLETE"}}
	task.Containers[2].DependsOn = []ContainerDependency{{ContainerName: "init", Condition: "CREATE"}}
	_, cs := mustObjects(t, task)
	if got := cs[2].Spec.DependsOn[0].Condition; got != "CREATE" {
		t.Fatalf("CREATE condition = %q", got)
	}
}

func efs(c EFSVolumeConfiguration) func(*Task) {
	return func(t *Task) { t.Volumes = []Volume{{Name: "e", Type: "efs", EFSVolumeConfiguration: &c}} }
}

func docker(c DockerVolumeConfiguration) func(*Task) {
	return func(t *Task) { t.Volumes = []Volume{{Name: "d", Type: "docker", DockerVolumeConfiguration: &c}} }
}

// TestVolumesAccepted: the volumes ecsd mounts come through with every member.
func TestVolumesAccepted(t *testing.T) {
	got, err := volumes([]Volume{
		{Name: "e", Type: "efs", EFSVolumeConfiguration: &EFSVolumeConfiguration{FileSystemID: "fs-0123456789abcdef0",
			RootDirectory: "data", TransitEncryption: "ENABLED", TransitEncryptionPort: 20100}},
		{Name: "n", Type: "docker", DockerVolumeConfiguration: &DockerVolumeConfiguration{Scope: "shared", Autoprovision: true,
			Driver: "local", DriverOpts: map[string]string{"type": "nfs", "o": "addr=10.0.0.1,nfsvers=4", "device": ":/export"},
			Labels: map[string]string{"team": "a"}}},
		{Name: "t", Type: "docker"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []v1alpha1.Volume{
		{Name: "e", Type: "efs", EFS: &v1alpha1.EFSVolume{FileSystemID: "fs-0123456789abcdef0", RootDirectory: "/data",
			TransitEncryption: true, TransitEncryptionPort: 20100}},
		{Name: "n", Type: "docker", Scope: "shared", Autoprovision: true, Driver: "local",
			DriverOpts: map[string]string{"type": "nfs", "o": "addr=10.0.0.1,nfsvers=4", "device": ":/export"}, Labels: map[string]string{"team": "a"}},
		{Name: "t", Type: "docker", Scope: "task"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}
