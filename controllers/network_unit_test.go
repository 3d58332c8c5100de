package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
	"github.com/ecsd/ecsd/runtime/fake"
)

func TestSplitGateway(t *testing.T) {
	for _, tc := range []struct {
		in      string
		gw      string
		bits    int
		wantErr bool
	}{
		{"10.0.1.1/24", "10.0.1.1", 24, false},
		{"172.31.0.1/20", "172.31.0.1", 20, false},
		{"10.0.1.1", "", 0, true},
		{"", "", 0, true},
		{"not-an-ip/24", "", 0, true},
	} {
		gw, bits, err := splitGateway(tc.in)
		if (err != nil) != tc.wantErr || gw != tc.gw || bits != tc.bits {
			t.Errorf("splitGateway(%q) = %q, %d, %v; want %q, %d, error %v", tc.in, gw, bits, err, tc.gw, tc.bits, tc.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.in)) {
			t.Errorf("error %q does not name the value", err)
		}
	}
}

// TestNetworkError: setup failures that are the definition's fault stop the task as a
// definition error; the others say "network setup" and keep their cause.
func TestNetworkError(t *testing.T) {
	for _, tc := range []struct {
		err        error
		definition bool
	}{
		{fmt.Errorf("host port 8080: %w", runtime.ErrPortAllocated), true},
		{fmt.Errorf("host port 22: %w", runtime.ErrPortReserved), true},
		{runtime.ErrNoFreePorts, true},
		{fmt.Errorf("mode x: %w", runtime.ErrInvalidNetworkRequest), true},
		{fmt.Errorf("mac 02:00: %w", runtime.ErrENINotFound), true},
		{errors.New("netlink: operation not permitted"), false},
	} {
		got := networkError(tc.err)
		if errors.Is(got, errInvalidDefinition) != tc.definition {
			t.Errorf("networkError(%v) = %v, definition error %v, want %v", tc.err, got, !tc.definition, tc.definition)
		}
		if !strings.Contains(got.Error(), tc.err.Error()) {
			t.Errorf("networkError(%v) = %v lost the cause", tc.err, got)
		}
		if !tc.definition && (!errors.Is(got, tc.err) || !strings.HasPrefix(got.Error(), "network setup: ")) {
			t.Errorf("networkError(%v) = %v, want a wrapped network setup error", tc.err, got)
		}
	}
}

func TestNetworkStatusAndBindings(t *testing.T) {
	res := &runtime.NetworkResult{
		NetNSPath: "/run/netns/x", Interface: "eth1",
		IPv4: netip.MustParseAddr("172.17.0.5"), Gateway: netip.MustParseAddr("172.17.0.1"),
		EndpointsIPv4: netip.MustParseAddr("169.254.172.9"),
		Bindings: []runtime.PortBinding{
			{HostIP: "0.0.0.0", ContainerPort: 80, HostPort: 32768, Protocol: "tcp"},
			{HostIP: "0.0.0.0", ContainerPortRange: "9000-9001", HostPortRange: "40000-40001", Protocol: "udp"},
		},
	}
	n := networkStatus(runtime.NetworkBridge, "c1", res, "172.17.0.0/16")
	want := api.NetworkStatus{Mode: "bridge", ID: "c1", NetNSPath: "/run/netns/x", InterfaceName: "eth1", IPv4Address: "172.17.0.5",
		IPv4Gateway: "172.17.0.1", IPv4SubnetCIDR: "172.17.0.0/16", EndpointIPv4Address: "169.254.172.9"}
	if *n != want {
		t.Errorf("networkStatus = %+v, want %+v", *n, want)
	}
	empty := networkStatus(runtime.NetworkAWSVPC, "t", &runtime.NetworkResult{NetNSPath: "/run/netns/t"}, "")
	if empty.IPv4Address != "" || empty.IPv4Gateway != "" || empty.EndpointIPv4Address != "" {
		t.Errorf("zero addresses reported as %+v", empty)
	}
	bs := bindings(res.Bindings)
	wantB := []api.NetworkBinding{
		{BindIP: "0.0.0.0", ContainerPort: 80, HostPort: 32768, Protocol: "tcp"},
		{BindIP: "0.0.0.0", ContainerPortRange: "9000-9001", HostPortRange: "40000-40001", Protocol: "udp"},
	}
	if !slices.Equal(bs, wantB) {
		t.Errorf("bindings = %+v, want %+v", bs, wantB)
	}
	if bs := bindings(nil); bs == nil || len(bs) != 0 {
		t.Errorf("no bindings must be an empty list (reported as []), got %#v", bs)
	}
}

func TestNeedsRelease(t *testing.T) {
	released := metav1.Now()
	for _, tc := range []struct {
		name  string
		known api.ContainerState
		net   *api.NetworkStatus
		want  bool
	}{
		{"stopped bridge container holding its network", api.ContainerStatusStopped, &api.NetworkStatus{ID: "c"}, true},
		{"already released", api.ContainerStatusStopped, &api.NetworkStatus{ID: "c", ReleasedAt: &released}, false},
		{"still running", api.ContainerStatusRunning, &api.NetworkStatus{ID: "c"}, false},
		{"no network of its own (host, awsvpc)", api.ContainerStatusStopped, nil, false},
	} {
		c := unitContainer("app", tc.known, api.ContainerStatusStopped, func(c *api.Container) { c.Status.Network = tc.net })
		if got := needsRelease(c); got != tc.want {
			t.Errorf("%s: needsRelease = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestBridgeSubnetAndResolvConfDefaults(t *testing.T) {
	e := unitCreate(t, unitOptions(t), Deps{})
	if got := e.NetworkOptions.bridgeSubnet(); got != runtime.DefaultBridgeSubnet {
		t.Errorf("default bridge subnet %q", got)
	}
	if got := e.hostResolvConf(); got != "/etc/resolv.conf" {
		t.Errorf("default resolv.conf %q", got)
	}
	o := unitOptions(t)
	o.Network.BridgeSubnet = netip.MustParsePrefix("10.99.3.7/16")
	o.Network.HostResolvConf = "/tmp/resolv.conf"
	e = unitCreate(t, o, Deps{})
	if got := e.NetworkOptions.bridgeSubnet(); got != "10.99.0.0/16" {
		t.Errorf("bridge subnet %q, want the masked 10.99.0.0/16", got)
	}
	if got := e.hostResolvConf(); got != "/tmp/resolv.conf" {
		t.Errorf("resolv.conf %q", got)
	}
	if shortID("0123456789abcdef0123") != "0123456789ab" || shortID("short") != "short" {
		t.Error("shortID is not Docker's 12-character hostname")
	}
}

// TestJoinNetworkBridge: a bridge container joins the namespace recorded in its status and
// gets /etc/hosts, /etc/hostname and /etc/resolv.conf for it, links included.
func TestJoinNetworkBridge(t *testing.T) {
	s := unitConfigSettings(t)
	s.d.Network = &fake.Network{}
	s.o.Network.HostResolvConf = filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(s.o.Network.HostResolvConf, []byte("nameserver 10.0.0.2\nsearch corp.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	db := unitContainer("db", api.ContainerStatusRunning, api.ContainerStatusRunning, func(c *api.Container) {
		c.Status.Network = &api.NetworkStatus{Mode: "bridge", ID: c.Name, NetNSPath: "/run/netns/db", IPv4Address: "172.17.0.7"}
	})
	app := unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning, func(c *api.Container) {
		c.Spec.Links = []string{"db:database"}
		c.Spec.ExtraHosts = []string{"api.internal:10.1.2.3"}
		c.Status.Network = &api.NetworkStatus{Mode: "bridge", ID: c.Name, NetNSPath: "/run/netns/app", IPv4Address: "172.17.0.8"}
	})
	task := unitTask("app", "db")
	cfg, err := unitConfig(t, s, task, app, containerInputs{}, db)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NetNSPath != "/run/netns/app" || cfg.PrivateNetwork {
		t.Errorf("netns %q private %v, want the container's own namespace", cfg.NetNSPath, cfg.PrivateNetwork)
	}
	id := api.ContainerRuntimeID(task, app)
	if cfg.Hostname != id[:12] {
		t.Errorf("hostname %q, want Docker's short ID %q", cfg.Hostname, id[:12])
	}
	files := map[string]string{}
	for _, m := range cfg.Mounts {
		if strings.HasPrefix(m.Destination, "/etc/") {
			b, err := os.ReadFile(m.Source)
			if err != nil {
				t.Fatalf("%s: %v", m.Destination, err)
			}
			files[m.Destination] = string(b)
			if !strings.Contains(m.Source, id) {
				t.Errorf("%s comes from %s, not a directory named by the runtime ID", m.Destination, m.Source)
			}
		}
	}
	for dest, want := range map[string][]string{
		"/etc/hosts":       {"172.17.0.8\t" + id[:12], "172.17.0.7\tdatabase", "10.1.2.3\tapi.internal"},
		"/etc/hostname":    {id[:12]},
		"/etc/resolv.conf": {"nameserver 10.0.0.2", "search corp.example"},
	} {
		for _, w := range want {
			if !strings.Contains(files[dest], w) {
				t.Errorf("%s = %q, want it to contain %q", dest, files[dest], w)
			}
		}
	}
}

func TestJoinNetworkBridgeWaitsAndRefuses(t *testing.T) {
	s := unitConfigSettings(t)
	s.d.Network = &fake.Network{}
	s.o.Network.HostResolvConf = filepath.Join(t.TempDir(), "missing")
	withNet := func(c *api.Container) {
		c.Status.Network = &api.NetworkStatus{Mode: "bridge", ID: c.Name, NetNSPath: "/run/netns/app", IPv4Address: "172.17.0.8"}
	}
	released := metav1.Now()
	for _, tc := range []struct {
		name    string
		app     *api.Container
		sib     []*api.Container
		pending bool
		want    string
	}{
		{name: "no network recorded yet: pending", app: unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning), pending: true},
		{name: "a released network: pending a new one", app: unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning, func(c *api.Container) {
			withNet(c)
			c.Status.Network.ReleasedAt = &released
		}), pending: true},
		{name: "a link to a container without a network", app: unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning, withNet, func(c *api.Container) { c.Spec.Links = []string{"db"} }),
			sib: []*api.Container{unitContainer("db", api.ContainerStatusCreated, api.ContainerStatusRunning)}, want: `link to "db": no such running container in the task`},
		{name: "a link to a container without an address", app: unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning, withNet, func(c *api.Container) { c.Spec.Links = []string{"db"} }),
			sib: []*api.Container{unitContainer("db", api.ContainerStatusRunning, api.ContainerStatusRunning, func(c *api.Container) {
				c.Status.Network = &api.NetworkStatus{Mode: "bridge", NetNSPath: "/run/netns/db"}
			})}, want: `link to "db": container has no address`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := unitConfig(t, s, unitTask("app", "db"), tc.app, containerInputs{}, tc.sib...)
			if tc.pending {
				if !errors.Is(err, errNetworkPending) {
					t.Fatalf("err = %v, want the network to be pending", err)
				}
				return
			}
			if !errors.Is(err, errInvalidDefinition) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestJoinNetworkAWSVPC: an awsvpc container joins its task's namespace, with the
// definition's DNS settings winning.
func TestJoinNetworkAWSVPC(t *testing.T) {
	s := unitConfigSettings(t)
	s.d.Network = &fake.Network{}
	s.o.Network.HostResolvConf = filepath.Join(t.TempDir(), "missing")
	task := unitTask("app")
	task.Spec.NetworkMode = "awsvpc"
	task.Status.Network = &api.NetworkStatus{Mode: "awsvpc", ID: unitTaskName, NetNSPath: "/run/netns/task", IPv4Address: "10.0.1.20"}
	app := unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning, func(c *api.Container) {
		c.Spec.Hostname = "web-1"
		c.Spec.DNSServers = []string{"10.0.0.53"}
		c.Spec.DNSSearch = []string{"svc.local"}
	})
	cfg, err := unitConfig(t, s, task, app, containerInputs{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NetNSPath != "/run/netns/task" || cfg.Hostname != "web-1" {
		t.Fatalf("netns %q hostname %q", cfg.NetNSPath, cfg.Hostname)
	}
	i := slices.IndexFunc(cfg.Mounts, func(m runtime.Mount) bool { return m.Destination == "/etc/resolv.conf" })
	if i < 0 {
		t.Fatalf("no resolv.conf in %+v", cfg.Mounts)
	}
	b, _ := os.ReadFile(cfg.Mounts[i].Source)
	if !strings.Contains(string(b), "nameserver 10.0.0.53") || !strings.Contains(string(b), "search svc.local") {
		t.Errorf("resolv.conf = %q, want the definition's DNS", b)
	}

	app.Spec.Links = []string{"db"}
	if _, err := unitConfig(t, s, task, app, containerInputs{}); !errors.Is(err, errInvalidDefinition) || !strings.Contains(err.Error(), "links are not supported in network mode awsvpc") {
		t.Fatalf("links in awsvpc: %v", err)
	}
	app.Spec.Links = nil
	task.Status.Network = nil
	if _, err := unitConfig(t, s, task, app, containerInputs{}); !errors.Is(err, errNetworkPending) {
		t.Fatalf("awsvpc before the task's network: %v, want pending", err)
	}
}

// TestEnsureNetworkModes: without a network layer nothing is set up; with one,
// awsvpc needs ECS_ENABLE_TASK_ENI.
func TestEnsureNetworkModes(t *testing.T) {
	c := unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning)
	task := unitTask("app")
	task.Spec.NetworkMode = "awsvpc"
	e := unitCreate(t, unitOptions(t), Deps{})
	got, err := e.ensureNetwork(context.Background(), &containerScope{task: task, c: c})
	if err != nil || got != c {
		t.Fatalf("no network layer: %v, %v; want the container unchanged", got, err)
	}
	// A network layer that fails every setup: the modes that need none never call it.
	e = unitCreate(t, unitOptions(t), Deps{Network: &fake.Network{SetupErr: errors.New("setup is not expected")}})
	if _, err := e.ensureNetwork(context.Background(), &containerScope{task: task, c: c}); !errors.Is(err, errInvalidDefinition) || !strings.Contains(err.Error(), "ECS_ENABLE_TASK_ENI=true") {
		t.Fatalf("awsvpc without task ENI support: %v", err)
	}
	for _, mode := range []string{"host", "none"} {
		task.Spec.NetworkMode = mode
		if got, err := e.ensureNetwork(context.Background(), &containerScope{task: task, c: c}); err != nil || got != c {
			t.Fatalf("mode %s: %v, %v; want nothing to set up", mode, got, err)
		}
	}
	task.Spec.NetworkMode = "bridge"
	c.Spec.PortMappings = []api.PortMapping{{ContainerPort: 70000}}
	if _, err := e.ensureNetwork(context.Background(), &containerScope{task: task, c: c}); !errors.Is(err, errInvalidDefinition) || !strings.Contains(err.Error(), "port mapping 0:70000 is out of range") {
		t.Fatalf("out-of-range port: %v", err)
	}
	c.Spec.PortMappings = []api.PortMapping{{ContainerPort: 80}}
	if _, err := e.ensureNetwork(context.Background(), &containerScope{task: task, c: c}); err == nil || !strings.HasPrefix(err.Error(), "network setup: ") {
		t.Fatalf("a failing setup: %v, want a network setup error", err)
	}
}

func TestClient404TreatsAVanishedObjectAsDone(t *testing.T) {
	gone := apierrors.NewNotFound(api.GroupVersion.WithResource("attachments").GroupResource(), "eni-1")
	if err := client404(gone); err != nil {
		t.Errorf("not found: %v, want done", err)
	}
	other := errors.New("store closed")
	if err := client404(other); err != other { //nolint:errorlint // the very same error, not one wrapping it
		t.Errorf("other error: %v, want it kept", err)
	}
}
