package metadata

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/store"
)

func TestTime(t *testing.T) {
	if Time(nil) != nil || Time(&metav1.Time{}) != nil {
		t.Fatal("nil or zero time must be nil so omitempty drops it")
	}
	in := metav1.NewTime(time.Date(2026, 7, 1, 14, 0, 0, 123456789, time.FixedZone("CEST", 7200)))
	got := Time(&in)
	if got.Location() != time.UTC || !got.Equal(in.Time) {
		t.Fatalf("Time = %v, want the same instant in UTC", got)
	}
}

func TestStatusNames(t *testing.T) {
	for in, want := range map[api.TaskState]string{"": "NONE", api.TaskStatusPulled: "PULLED", api.TaskStatusZombie: "STOPPED", api.TaskStatusRunning: "RUNNING"} {
		if got := TaskStatus(in); got != want {
			t.Errorf("TaskStatus(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[api.ContainerState]string{"": "NONE", api.ContainerStatusResourcesProvisioned: "RESOURCES_PROVISIONED", api.ContainerStatusZombie: "STOPPED"} {
		if got := ContainerStatus(in); got != want {
			t.Errorf("ContainerStatus(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPorts(t *testing.T) {
	bridge := &api.Task{}
	awsvpc := &api.Task{Spec: api.TaskSpec{NetworkMode: "awsvpc"}}
	c := &api.Container{Spec: api.ContainerSpec{PortMappings: []api.PortMapping{{ContainerPort: 80, HostPort: 8080, Protocol: "udp"}, {ContainerPort: 81}}}}
	if got := Ports(bridge, c, PortOptions{}); got != nil {
		t.Errorf("no bindings, no fallback: %v", got)
	}
	want := []PortResponse{{ContainerPort: 80, Protocol: "udp", HostPort: 8080}, {ContainerPort: 81, Protocol: "tcp"}}
	if got := Ports(bridge, c, PortOptions{DefinitionFallback: true}); !reflect.DeepEqual(got, want) {
		t.Errorf("fallback = %v, want %v", got, want)
	}
	want = []PortResponse{{ContainerPort: 80, Protocol: "udp", HostPort: 80}, {ContainerPort: 81, Protocol: "tcp", HostPort: 81}}
	if got := Ports(awsvpc, c, PortOptions{DefinitionFallback: true}); !reflect.DeepEqual(got, want) {
		t.Errorf("awsvpc fallback = %v, want %v", got, want)
	}
	c.Status.NetworkBindings = []api.NetworkBinding{{BindIP: "::", ContainerPort: 80, HostPort: 32768, Protocol: "tcp"}}
	want = []PortResponse{{ContainerPort: 80, Protocol: "tcp", HostPort: 32768, HostIP: "::"}}
	if got := Ports(bridge, c, PortOptions{DefinitionFallback: true, HostIP: true}); !reflect.DeepEqual(got, want) {
		t.Errorf("bindings = %v, want %v", got, want)
	}
}

func TestSubnetCIDRs(t *testing.T) {
	if got := ipv4SubnetCIDR("10.0.1.1/24"); got != "10.0.1.0/24" {
		t.Errorf("ipv4SubnetCIDR = %q", got)
	}
	if got := ipv4SubnetCIDR("bogus"); got != "" {
		t.Errorf("ipv4SubnetCIDR(bogus) = %q", got)
	}
	if got := ipv6SubnetCIDR([]string{"2600:1f14:abc:de01::5"}); got != "2600:1f14:abc:de01::/64" {
		t.Errorf("ipv6SubnetCIDR = %q", got)
	}
	if got := ipv6SubnetCIDR(nil); got != "" {
		t.Errorf("ipv6SubnetCIDR(nil) = %q", got)
	}
}

func TestLoadTaskByARN(t *testing.T) {
	scheme := k8sruntime.NewScheme()
	if err := api.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	st, err := store.New(context.Background(), scheme)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	const id = "abc"
	if err := st.Create(ctx, &api.Task{ObjectMeta: metav1.ObjectMeta{Name: id, Namespace: api.Namespace},
		Spec: api.TaskSpec{ARN: "arn:aws:ecs:us-west-2:1:task/prod/abc", Containers: []string{"a", "missing"}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Create(ctx, &api.Container{ObjectMeta: metav1.ObjectMeta{Name: api.ContainerName(id, "a"), Namespace: api.Namespace},
		Spec: api.ContainerSpec{TaskName: id, Name: "a"}}); err != nil {
		t.Fatal(err)
	}
	v, err := LoadTaskByARN(ctx, st, "arn:aws:ecs:us-west-2:1:task/prod/abc")
	if err != nil || len(v.Containers) != 1 || v.Containers[0].Spec.Name != "a" {
		t.Fatalf("LoadTaskByARN = %+v, %v; want the task with its one stored container", v, err)
	}
	if _, err := LoadTaskByARN(ctx, st, "arn:aws:ecs:us-west-2:1:task/other/abc"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("same ID, other cluster: err = %v, want ErrNotFound", err)
	}
	if _, err := ContainerByEndpointID(ctx, st, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty endpoint ID: err = %v, want ErrNotFound", err)
	}
}
