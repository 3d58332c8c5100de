package metadatafile

import (
	"encoding/json"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

func testInstance() Instance {
	return Instance{
		Cluster:                "prod",
		ContainerInstanceARN:   "arn:aws:ecs:us-west-2:111122223333:container-instance/prod/0f1e",
		AvailabilityZone:       "us-west-2a",
		HostPrivateIPv4Address: "10.0.1.23",
		HostPublicIPv4Address:  "54.1.2.3",
	}
}

func testTask(mode string) *api.Task {
	return &api.Task{Spec: api.TaskSpec{
		ARN:         "arn:aws:ecs:us-west-2:111122223333:task/prod/6a1b2c",
		Family:      "web",
		Version:     "3",
		NetworkMode: mode,
	}}
}

func testContainer() *api.Container {
	return &api.Container{
		Spec: api.ContainerSpec{
			TaskName:     "6a1b2c",
			Name:         "app",
			Image:        "nginx:1.27",
			PortMappings: []api.PortMapping{{ContainerPort: 80, Protocol: "tcp"}},
		},
		Status: api.ContainerStatus{
			RuntimeID: "c3e608fe9951ec374c52b8fc2df98b903c50faa190ea3ec7f96ce32ea2a85961", // api.RuntimeID of the task ARN and "app"
			ImageID:   "sha256:9b2f",
		},
	}
}

// The INITIAL write has no MetadataFileStatus key and nothing the runtime only knows later.
const initialJSON = `{
	"Cluster": "prod",
	"ContainerInstanceARN": "arn:aws:ecs:us-west-2:111122223333:container-instance/prod/0f1e",
	"TaskARN": "arn:aws:ecs:us-west-2:111122223333:task/prod/6a1b2c",
	"TaskDefinitionFamily": "web",
	"TaskDefinitionRevision": "3",
	"ContainerName": "app",
	"AvailabilityZone": "us-west-2a",
	"HostPrivateIPv4Address": "10.0.1.23",
	"HostPublicIPv4Address": "54.1.2.3"
}`

func TestBuildBytes(t *testing.T) {
	tests := []struct {
		name  string
		task  func() *api.Task
		c     func() *api.Container
		in    Instance
		ready bool
		want  string
	}{{
		name: "bridge initial",
		task: func() *api.Task { return testTask("") },
		c: func() *api.Container {
			// Even a container with runtime details gets none of them in the first write.
			c := testContainer()
			c.Status.NetworkBindings = []api.NetworkBinding{{BindIP: "0.0.0.0", ContainerPort: 80, HostPort: 49170, Protocol: "tcp"}}
			c.Status.Network = &api.NetworkStatus{Mode: "bridge", IPv4Address: "172.17.0.3"}
			return c
		},
		in:   testInstance(),
		want: initialJSON,
	}, {
		name: "bridge ready",
		task: func() *api.Task { return testTask("") },
		c: func() *api.Container {
			c := testContainer()
			c.Status.NetworkBindings = []api.NetworkBinding{{BindIP: "0.0.0.0", ContainerPort: 80, HostPort: 49170, Protocol: "tcp"}}
			c.Status.Network = &api.NetworkStatus{Mode: "bridge", IPv4Address: "172.17.0.3"}
			return c
		},
		in:    testInstance(),
		ready: true,
		want: `{
	"Cluster": "prod",
	"ContainerInstanceARN": "arn:aws:ecs:us-west-2:111122223333:container-instance/prod/0f1e",
	"TaskARN": "arn:aws:ecs:us-west-2:111122223333:task/prod/6a1b2c",
	"TaskDefinitionFamily": "web",
	"TaskDefinitionRevision": "3",
	"ContainerID": "c3e608fe9951ec374c52b8fc2df98b903c50faa190ea3ec7f96ce32ea2a85961",
	"ContainerName": "app",
	"DockerContainerName": "/ecs-web-3-app-c3e608fe9951ec374c52",
	"ImageID": "sha256:9b2f",
	"ImageName": "nginx:1.27",
	"PortMappings": [
		{
			"ContainerPort": 80,
			"ContainerPortRange": "",
			"HostPort": 49170,
			"BindIp": "0.0.0.0",
			"Protocol": "tcp"
		}
	],
	"Networks": [
		{
			"NetworkMode": "bridge",
			"IPv4Addresses": [
				"172.17.0.3"
			]
		}
	],
	"MetadataFileStatus": "READY",
	"AvailabilityZone": "us-west-2a",
	"HostPrivateIPv4Address": "10.0.1.23",
	"HostPublicIPv4Address": "54.1.2.3"
}`,
	}, {
		name: "awsvpc ready: task definition ports with HostPort = ContainerPort, ENI address",
		task: func() *api.Task {
			t := testTask("awsvpc")
			t.Status.Network = &api.NetworkStatus{Mode: "awsvpc", IPv4Address: "10.0.5.9"}
			return t
		},
		c: func() *api.Container {
			c := testContainer()
			c.Spec.PortMappings = []api.PortMapping{{ContainerPort: 8080, HostPort: 9999, Protocol: "UDP"}}
			return c
		},
		in:    Instance{Cluster: "prod", HostIPv6Address: "2600:1f14::1"},
		ready: true,
		want: `{
	"Cluster": "prod",
	"TaskARN": "arn:aws:ecs:us-west-2:111122223333:task/prod/6a1b2c",
	"TaskDefinitionFamily": "web",
	"TaskDefinitionRevision": "3",
	"ContainerID": "c3e608fe9951ec374c52b8fc2df98b903c50faa190ea3ec7f96ce32ea2a85961",
	"ContainerName": "app",
	"DockerContainerName": "/ecs-web-3-app-c3e608fe9951ec374c52",
	"ImageID": "sha256:9b2f",
	"ImageName": "nginx:1.27",
	"PortMappings": [
		{
			"ContainerPort": 8080,
			"ContainerPortRange": "",
			"HostPort": 8080,
			"BindIp": "",
			"Protocol": "udp"
		}
	],
	"Networks": [
		{
			"NetworkMode": "awsvpc",
			"IPv4Addresses": [
				"10.0.5.9"
			]
		}
	],
	"MetadataFileStatus": "READY",
	"HostIPv6Address": "2600:1f14::1"
}`,
	}, {
		name: "host ready: no address, no bindings, nothing unknown",
		task: func() *api.Task { return testTask("host") },
		c: func() *api.Container {
			c := testContainer()
			c.Status.ImageID = ""
			return c
		},
		in:    Instance{},
		ready: true,
		want: `{
	"TaskARN": "arn:aws:ecs:us-west-2:111122223333:task/prod/6a1b2c",
	"TaskDefinitionFamily": "web",
	"TaskDefinitionRevision": "3",
	"ContainerID": "c3e608fe9951ec374c52b8fc2df98b903c50faa190ea3ec7f96ce32ea2a85961",
	"ContainerName": "app",
	"DockerContainerName": "/ecs-web-3-app-c3e608fe9951ec374c52",
	"ImageName": "nginx:1.27",
	"Networks": [
		{
			"NetworkMode": "host"
		}
	],
	"MetadataFileStatus": "READY"
}`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := encode(Build(tc.task(), tc.c(), tc.in, tc.ready))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// keys decodes a file into its top-level keys.
func keys(t *testing.T, f File) map[string]json.RawMessage {
	t.Helper()
	b, err := encode(f)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestBuildKeys(t *testing.T) {
	task := testTask("")
	c := testContainer()
	c.Status.NetworkBindings = []api.NetworkBinding{{BindIP: "::", ContainerPort: 80, HostPort: 32768, Protocol: "tcp"}}
	c.Status.Network = &api.NetworkStatus{Mode: "bridge", IPv4Address: "172.17.0.3"}

	runtimeOnly := []string{"ContainerID", "DockerContainerName", "ImageID", "ImageName", "PortMappings", "Networks", "MetadataFileStatus"}
	tests := []struct {
		name    string
		ready   bool
		present map[string]string // key → exact raw JSON value
		absent  []string
	}{{
		name:    "initial",
		ready:   false,
		present: map[string]string{"TaskARN": `"arn:aws:ecs:us-west-2:111122223333:task/prod/6a1b2c"`, "ContainerName": `"app"`},
		absent:  runtimeOnly,
	}, {
		name:  "ready",
		ready: true,
		present: map[string]string{
			"MetadataFileStatus":  `"READY"`,
			"DockerContainerName": `"/ecs-web-3-app-c3e608fe9951ec374c52"`,
			"ContainerID":         `"c3e608fe9951ec374c52b8fc2df98b903c50faa190ea3ec7f96ce32ea2a85961"`,
			"ImageID":             `"sha256:9b2f"`,
		},
		absent: []string{"HostIPv6Address"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := keys(t, Build(task, c, testInstance(), tc.ready))
			for k, v := range tc.present {
				if got, ok := m[k]; !ok || string(got) != v {
					t.Errorf("%s = %s (present %v), want %s", k, got, ok, v)
				}
			}
			for _, k := range tc.absent {
				if v, ok := m[k]; ok {
					t.Errorf("%s present (%s), want absent", k, v)
				}
			}
		})
	}

	// Every port mapping carries all five keys, BindIp in the reference agent's casing.
	var pms []map[string]json.RawMessage
	if err := json.Unmarshal(keys(t, Build(task, c, testInstance(), true))["PortMappings"], &pms); err != nil {
		t.Fatal(err)
	}
	if len(pms) != 1 {
		t.Fatalf("PortMappings = %v, want one", pms)
	}
	want := map[string]string{"ContainerPort": "80", "ContainerPortRange": `""`, "HostPort": "32768", "BindIp": `"::"`, "Protocol": `"tcp"`}
	if len(pms[0]) != len(want) {
		t.Errorf("port mapping keys = %v, want %v", pms[0], want)
	}
	for k, v := range want {
		if got := string(pms[0][k]); got != v {
			t.Errorf("port mapping %s = %s, want %s", k, got, v)
		}
	}
}

func TestBuildPortMappings(t *testing.T) {
	tests := []struct {
		name     string
		mode     string
		bindings []api.NetworkBinding
		spec     []api.PortMapping
		want     []PortMapping
	}{{
		name: "bridge range expanded per port, as Docker lists it",
		bindings: []api.NetworkBinding{
			{BindIP: "0.0.0.0", ContainerPortRange: "8000-8002", HostPortRange: "40000-40002", Protocol: "udp"},
			{BindIP: "0.0.0.0", ContainerPort: 80, HostPort: 49170},
		},
		want: []PortMapping{
			{ContainerPort: 8000, HostPort: 40000, BindIP: "0.0.0.0", Protocol: "udp"},
			{ContainerPort: 8001, HostPort: 40001, BindIP: "0.0.0.0", Protocol: "udp"},
			{ContainerPort: 8002, HostPort: 40002, BindIP: "0.0.0.0", Protocol: "udp"},
			{ContainerPort: 80, HostPort: 49170, BindIP: "0.0.0.0", Protocol: "tcp"},
		},
	}, {
		name:     "bridge range without a matching host range kept whole",
		bindings: []api.NetworkBinding{{BindIP: "0.0.0.0", ContainerPortRange: "8000-8002", HostPortRange: "40000-40001", Protocol: "tcp"}},
		want:     []PortMapping{{ContainerPortRange: "8000-8002", BindIP: "0.0.0.0", Protocol: "tcp"}},
	}, {
		name: "bridge without bindings: none, the task definition is not a binding",
		spec: []api.PortMapping{{ContainerPort: 80}},
	}, {
		name: "awsvpc range from the task definition",
		mode: "awsvpc",
		spec: []api.PortMapping{{ContainerPortRange: "9000-9001", Protocol: "tcp"}},
		want: []PortMapping{
			{ContainerPort: 9000, HostPort: 9000, Protocol: "tcp"},
			{ContainerPort: 9001, HostPort: 9001, Protocol: "tcp"},
		},
	}, {
		name:     "awsvpc recorded bindings win over the task definition",
		mode:     "awsvpc",
		bindings: []api.NetworkBinding{{BindIP: "10.0.5.9", ContainerPort: 443, HostPort: 1, Protocol: "tcp"}},
		spec:     []api.PortMapping{{ContainerPort: 80}},
		want:     []PortMapping{{ContainerPort: 443, HostPort: 443, BindIP: "10.0.5.9", Protocol: "tcp"}},
	}, {
		name: "host without bindings",
		mode: "host",
		spec: []api.PortMapping{{ContainerPort: 80, HostPort: 80}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testContainer()
			c.Spec.PortMappings = tc.spec
			c.Status.NetworkBindings = tc.bindings
			got := Build(testTask(tc.mode), c, Instance{}, true).PortMappings
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("[%d] = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestBuildNetworks(t *testing.T) {
	released := metav1.Now()
	tests := []struct {
		name string
		mode string
		task *api.NetworkStatus
		c    *api.NetworkStatus
		want Network
	}{
		{name: "bridge", c: &api.NetworkStatus{IPv4Address: "172.17.0.3"}, want: Network{NetworkMode: "bridge", IPv4Addresses: []string{"172.17.0.3"}}},
		{name: "explicit bridge", mode: "bridge", c: &api.NetworkStatus{IPv4Address: "172.17.0.4"}, want: Network{NetworkMode: "bridge", IPv4Addresses: []string{"172.17.0.4"}}},
		{name: "bridge not set up", want: Network{NetworkMode: "bridge"}},
		{name: "bridge released", c: &api.NetworkStatus{IPv4Address: "172.17.0.3", ReleasedAt: &released}, want: Network{NetworkMode: "bridge"}},
		{name: "awsvpc uses the task's ENI", mode: "awsvpc", task: &api.NetworkStatus{IPv4Address: "10.0.5.9"}, c: &api.NetworkStatus{IPv4Address: "172.17.0.9"}, want: Network{NetworkMode: "awsvpc", IPv4Addresses: []string{"10.0.5.9"}}},
		{name: "host", mode: "host", want: Network{NetworkMode: "host"}},
		{name: "none", mode: "none", want: Network{NetworkMode: "none"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			task := testTask(tc.mode)
			task.Status.Network = tc.task
			c := testContainer()
			c.Status.Network = tc.c
			got := Build(task, c, Instance{}, true).Networks
			if len(got) != 1 || got[0].NetworkMode != tc.want.NetworkMode || !slices.Equal(got[0].IPv4Addresses, tc.want.IPv4Addresses) || got[0].IPv6Addresses != nil {
				t.Errorf("got %+v, want [%+v]", got, tc.want)
			}
		})
	}
}
