package tmds

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Expected documents, written out in full so that any added, dropped or renamed key fails.
var (
	appLabels = fmt.Sprintf(`{"team":"edge","com.amazonaws.ecs.task-arn":%q,"com.amazonaws.ecs.container-name":"app",
		"com.amazonaws.ecs.task-definition-family":"web","com.amazonaws.ecs.task-definition-version":"3",
		"com.amazonaws.ecs.cluster":"prod","ecs.ecsd.io/task":%q,"ecs.ecsd.io/agent-version":"0.1.0"}`, taskARN(bridgeID), bridgeID)
	sidecarLabels = fmt.Sprintf(`{"com.amazonaws.ecs.task-arn":%q,"com.amazonaws.ecs.container-name":"sidecar",
		"com.amazonaws.ecs.task-definition-family":"web","com.amazonaws.ecs.task-definition-version":"3",
		"com.amazonaws.ecs.cluster":"prod","ecs.ecsd.io/task":%q,"ecs.ecsd.io/agent-version":"0.1.0"}`, taskARN(bridgeID), bridgeID)

	// appV3 is the app container as v3 (and v2-container) show it.
	appV3 = fmt.Sprintf(`{"DockerId":%[3]q,"Name":"app","DockerName":%[4]q,"Image":"nginx:1.27","ImageID":"sha256:9b2f",
		"Ports":[{"ContainerPort":80,"Protocol":"tcp","HostPort":49170}],"Labels":%[2]s,
		"DesiredStatus":"RUNNING","KnownStatus":"RUNNING","Limits":{"CPU":256,"Memory":512},
		"CreatedAt":"2026-07-01T11:59:58.1Z","StartedAt":"2026-07-01T11:59:59.4Z","Type":"NORMAL",
		"Networks":[{"NetworkMode":"bridge","IPv4Addresses":["172.17.0.3"]}],
		"Health":{"status":"HEALTHY","statusSince":"2026-07-01T12:00:29Z","output":"ok"},
		"Volumes":[{"Source":"/srv/data","Destination":"/data"},{"Source":"/var/lib/ecs/data/tasks/%[1]s/volumes/scratch","Destination":"/scratch"}]}`,
		bridgeID, appLabels, appID, dockerName(bridgeID, "web", "3", "app"))
	appV4 = fmt.Sprintf(`{"DockerId":%[3]q,"Name":"app","DockerName":%[4]q,"Image":"nginx:1.27","ImageID":"sha256:9b2f",
		"Ports":[{"ContainerPort":80,"Protocol":"tcp","HostPort":49170,"HostIp":"0.0.0.0"}],"Labels":%[2]s,
		"DesiredStatus":"RUNNING","KnownStatus":"RUNNING","Limits":{"CPU":256,"Memory":512},
		"CreatedAt":"2026-07-01T11:59:58.1Z","StartedAt":"2026-07-01T11:59:59.4Z","Type":"NORMAL",
		"Networks":[{"NetworkMode":"bridge","IPv4Addresses":["172.17.0.3"]}],
		"Health":{"status":"HEALTHY","statusSince":"2026-07-01T12:00:29Z","output":"ok"},
		"Volumes":[{"Source":"/srv/data","Destination":"/data"},{"Source":"/var/lib/ecs/data/tasks/%[1]s/volumes/scratch","Destination":"/scratch"}],
		"LogDriver":"awslogs","LogOptions":{"awslogs-group":"/ecs/web"},
		"ContainerARN":"arn:aws:ecs:us-west-2:111122223333:container/prod/%[1]s/5d0e","RestartCount":2}`,
		bridgeID, appLabels, appID, dockerName(bridgeID, "web", "3", "app"))
	// sidecarV3 has exited: ExitCode 0 is present, its released network shows no address.
	sidecarV3 = fmt.Sprintf(`{"DockerId":%[3]q,"Name":"sidecar","DockerName":%[4]q,"Image":"busybox","ImageID":"sha256:aaaa",
		"Labels":%[2]s,"DesiredStatus":"STOPPED","KnownStatus":"STOPPED","ExitCode":0,"Limits":{"CPU":2,"Memory":0},
		"FinishedAt":"2026-07-01T12:00:00Z","Type":"NORMAL","Networks":[{"NetworkMode":"bridge","IPv4Addresses":[""]}]}`,
		bridgeID, sidecarLabels, sidecarID, dockerName(bridgeID, "web", "3", "sidecar"))
	// initV4 was pulled but never created: no runtime ID, labels or networks.
	initV4 = `{"DockerId":"","Name":"init","DockerName":"","Image":"busybox:pulled","ImageID":"sha256:bbbb",
		"DesiredStatus":"RUNNING","KnownStatus":"PULLED","Limits":{"CPU":2,"Memory":0},"Type":"NORMAL","ContainerARN":"arn:c/init"}`

	bridgeTaskV3 = fmt.Sprintf(`{"Cluster":"prod","TaskARN":%q,"Family":"web","Revision":"3","DesiredStatus":"RUNNING","KnownStatus":"RUNNING",
		"Containers":[%s,%s],"Limits":{"CPU":0.5,"Memory":1024},
		"PullStartedAt":"2026-07-01T11:59:50.2Z","PullStoppedAt":"2026-07-01T11:59:57.9Z","AvailabilityZone":"us-west-2a"}`,
		taskARN(bridgeID), appV3, sidecarV3)
	bridgeTaskV4 = fmt.Sprintf(`{"Cluster":"prod","TaskARN":%q,"Family":"web","Revision":"3","DesiredStatus":"RUNNING","KnownStatus":"RUNNING",
		"Containers":[%s,%s,%s],"Limits":{"CPU":0.5,"Memory":1024},
		"PullStartedAt":"2026-07-01T11:59:50.2Z","PullStoppedAt":"2026-07-01T11:59:57.9Z","AvailabilityZone":"us-west-2a",
		"LaunchType":"EC2","VPCID":"vpc-0abc","ServiceName":"web-svc","FaultInjectionEnabled":false,"AvailabilityZoneID":"usw2-az1"}`,
		taskARN(bridgeID), appV4, sidecarV3, initV4)

	webLabels = fmt.Sprintf(`{"com.amazonaws.ecs.task-arn":%q,"com.amazonaws.ecs.container-name":"web",
		"com.amazonaws.ecs.task-definition-family":"api","com.amazonaws.ecs.task-definition-version":"7",
		"com.amazonaws.ecs.cluster":"prod","ecs.ecsd.io/task":%q,"ecs.ecsd.io/agent-version":"0.1.0"}`, taskARN(awsvpcID), awsvpcID)
	webV2 = fmt.Sprintf(`{"DockerId":%[3]q,"Name":"web","DockerName":%[4]q,"Image":"web:1","ImageID":"sha256:cccc",
		"Ports":[{"ContainerPort":8080,"Protocol":"tcp","HostPort":8080}],"Labels":%[2]s,
		"DesiredStatus":"RUNNING","KnownStatus":"RUNNING","Limits":{"CPU":2,"Memory":256},"Type":"NORMAL",
		"Networks":[{"NetworkMode":"awsvpc","IPv4Addresses":["10.0.1.5"],"IPv6Addresses":["2600:1f14:abc:de01::5"]}]}`, awsvpcID, webLabels, webID, dockerName(awsvpcID, "api", "7", "web"))
	webV4 = fmt.Sprintf(`{"DockerId":%[3]q,"Name":"web","DockerName":%[4]q,"Image":"web:1","ImageID":"sha256:cccc",
		"Ports":[{"ContainerPort":8080,"Protocol":"tcp","HostPort":8080,"HostIp":"0.0.0.0"}],"Labels":%[2]s,
		"DesiredStatus":"RUNNING","KnownStatus":"RUNNING","Limits":{"CPU":2,"Memory":256},"Type":"NORMAL",
		"Networks":[{"NetworkMode":"awsvpc","IPv4Addresses":["10.0.1.5"],"IPv6Addresses":["2600:1f14:abc:de01::5"],
			"AttachmentIndex":0,"MACAddress":"0a:1b:2c:3d:4e:5f","IPv4SubnetCIDRBlock":"10.0.1.0/24","IPv6SubnetCIDRBlock":"2600:1f14:abc:de01::/64",
			"DomainNameServers":["10.0.0.2"],"DomainNameSearchList":["us-west-2.compute.internal"],
			"PrivateDNSName":"ip-10-0-1-5.us-west-2.compute.internal","SubnetGatewayIpv4Address":"10.0.1.1/24"}]}`, awsvpcID, webLabels, webID, dockerName(awsvpcID, "api", "7", "web"))
	awsvpcTaskV2 = fmt.Sprintf(`{"Cluster":"prod","TaskARN":%q,"Family":"api","Revision":"7","DesiredStatus":"RUNNING","KnownStatus":"RUNNING",
		"Containers":[%s],"AvailabilityZone":"us-west-2a"}`, taskARN(awsvpcID), webV2)
	awsvpcTaskV4 = fmt.Sprintf(`{"Cluster":"prod","TaskARN":%q,"Family":"api","Revision":"7","DesiredStatus":"RUNNING","KnownStatus":"RUNNING",
		"Containers":[%s],"AvailabilityZone":"us-west-2a","LaunchType":"EC2","VPCID":"vpc-0abc","FaultInjectionEnabled":false,"AvailabilityZoneID":"usw2-az1"}`,
		taskARN(awsvpcID), webV4)

	// The host task's daemon was created by an older ecsd: an old-form DockerId, a
	// DockerName of the same form as every other.
	hostDaemonV4 = fmt.Sprintf(`{"DockerId":"%[1]s-daemon","Name":"daemon","DockerName":%[3]q,"Image":"daemon:2","ImageID":"",
		"Labels":{"com.amazonaws.ecs.task-arn":%[2]q,"com.amazonaws.ecs.container-name":"daemon","com.amazonaws.ecs.task-definition-family":"agent",
			"com.amazonaws.ecs.task-definition-version":"1","com.amazonaws.ecs.cluster":"prod","ecs.ecsd.io/task":%[1]q,"ecs.ecsd.io/agent-version":"0.1.0"},
		"DesiredStatus":"STOPPED","KnownStatus":"RUNNING","Limits":{"CPU":2,"Memory":0},"Type":"NORMAL",
		"Networks":[{"NetworkMode":"host","IPv4Addresses":[""]}]}`, hostID, taskARN(hostID), dockerName(hostID, "agent", "1", "daemon"))
)

func TestMetadataDocuments(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t)
	bridgeWithoutNetworks := strings.Replace(bridgeTaskV3, `"Networks":[{"NetworkMode":"bridge","IPv4Addresses":["172.17.0.3"]}],`, "", 1)
	bridgeWithoutNetworks = strings.Replace(bridgeWithoutNetworks, `,"Networks":[{"NetworkMode":"bridge","IPv4Addresses":[""]}]`, "", 1)
	for _, tc := range []struct {
		name, source, path string
		want               string
	}{
		{"v4 container bridge", "172.17.0.3:40000", "/v4/" + epApp, appV4},
		{"v4 task bridge lists pulled containers", "172.17.0.3:40000", "/v4/" + epApp + "/task", bridgeTaskV4},
		{"v4 container awsvpc", legIP + ":1", "/v4/" + epWeb, webV4},
		{"v4 task awsvpc", legIP + ":1", "/v4/" + epWeb + "/task", awsvpcTaskV4},
		{"v4 container host", "127.0.0.1:1", "/v4/" + epHost, hostDaemonV4},
		{"v3 container", "127.0.0.1:1", "/v3/" + epApp, appV3},
		{"v3 container of exited sidecar", "127.0.0.1:1", "/v3/" + epSidecar, sidecarV3},
		{"v3 task", "127.0.0.1:1", "/v3/" + epSidecar + "/task", bridgeTaskV3},
		{"v2 task by bridge address has no runtime networks", bridgeIP + ":5555", "/v2/metadata", bridgeWithoutNetworks},
		{"v2 task with slash", bridgeIP + ":5555", "/v2/metadata/", bridgeWithoutNetworks},
		{"v2 task by awsvpc leg", legIP + ":5555", "/v2/metadata", awsvpcTaskV2},
		{"v2 task by ENI address", eniIP + ":5555", "/v2/metadata", awsvpcTaskV2},
		{"v2 task by IPv4-mapped address", "[::ffff:" + eniIP + "]:5555", "/v2/metadata", awsvpcTaskV2},
		{"v2 container", bridgeIP + ":5555", "/v2/metadata/" + appID, appV3},
		{"v2 metadataWithTags without tag source", legIP + ":5555", "/v2/metadataWithTags/", awsvpcTaskV2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertJSON(t, do(h, tc.source, tc.path), http.StatusOK, tc.want)
		})
	}
}

func TestMetadataErrors(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t)
	const unknown = "00000000-0000-4000-8000-000000000000"
	for _, tc := range []struct {
		name, source, path string
		status             int
		want               string
	}{
		{"v2 unknown source", "172.17.0.99:1", "/v2/metadata", 400, `"Unable to get task arn from request: unable to associate '172.17.0.99' with task"`},
		{"v2 released address", sidecarIP + ":1", "/v2/metadata", 400, `"Unable to get task arn from request: unable to associate '172.17.0.4' with task"`},
		{"v2 released awsvpc address", "169.254.172.77:1", "/v2/metadata", 400, `"Unable to get task arn from request: unable to associate '169.254.172.77' with task"`},
		{"v2 bad remote address", "garbage", "/v2/metadata", 400, `"Unable to get task arn from request: unable to parse request's ip address: address garbage: missing port in address"`},
		{"v2 container of another task", bridgeIP + ":1", "/v2/metadata/" + webID, 400, `"Unable to generate metadata for container '` + webID + `'"`},
		{"v2 stats without stats engine", bridgeIP + ":1", "/v2/stats/" + appID, 400, `"Unable to get container stats for: ` + appID + `"`},
		{"v3 container unknown", "127.0.0.1:1", "/v3/" + unknown, 500, `"V3 container metadata handler: unable to get container ID from request: unable to get docker ID from v3 endpoint ID: ` + unknown + `"`},
		{"v3 container not created", "127.0.0.1:1", "/v3/" + epPulled, 500, `"V3 container metadata handler: unable to get container ID from request: unable to get docker ID from v3 endpoint ID: ` + epPulled + `"`},
		{"v3 empty id", "127.0.0.1:1", "/v3/", 500, `"V3 container metadata handler: unable to get container ID from request: unable to get docker ID from v3 endpoint ID: "`},
		{"v3 task unknown", "127.0.0.1:1", "/v3/" + unknown + "/task", 500, `"V3 task metadata handler: unable to get task arn from request: unable to get task Arn from v3 endpoint ID: ` + unknown + `"`},
		{"v3 task gone", "127.0.0.1:1", "/v3/" + epOrphan + "/task", 500, `"Unable to generate metadata for task: 'arn:aws:ecs:us-west-2:111122223333:task/prod/9d4e5f60718293a4b5c6d7e8f9012345'"`},
		{"v3 stats unknown", "127.0.0.1:1", "/v3/" + unknown + "/stats", 400, `"V3 container stats handler: unable to get task arn from request: unable to get task Arn from v3 endpoint ID: ` + unknown + `"`},
		{"v3 stats not created", "127.0.0.1:1", "/v3/" + epPulled + "/stats", 400, `"V3 container stats handler: unable to get container ID from request: unable to get docker ID from v3 endpoint ID: ` + epPulled + `"`},
		{"v3 stats none sampled", "127.0.0.1:1", "/v3/" + epApp + "/stats", 400, `"Unable to get container stats for: ` + appID + `"`},
		{"v3 task stats unknown", "127.0.0.1:1", "/v3/" + unknown + "/task/stats", 400, `"V3 task stats handler: unable to get task arn from request: unable to get task Arn from v3 endpoint ID: ` + unknown + `"`},
		{"v4 container unknown", "127.0.0.1:1", "/v4/" + unknown, 404, `"V4 container metadata handler: unable to get container ID from request: unable to get docker ID from v3 endpoint ID: ` + unknown + `"`},
		{"v4 container orphan", "127.0.0.1:1", "/v4/" + epOrphan, 500, `"unable to generate metadata for container '9d4e5f60718293a4b5c6d7e8f9012345-lost'"`},
		{"v4 task unknown", "127.0.0.1:1", "/v4/" + unknown + "/taskWithTags", 404, `"V4 task metadata handler: unable to get task arn from request: unable to get task Arn from v3 endpoint ID: ` + unknown + `"`},
		{"v4 task gone", "127.0.0.1:1", "/v4/" + epOrphan + "/task", 500, `"Unable to generate metadata for v4 task: 'arn:aws:ecs:us-west-2:111122223333:task/prod/9d4e5f60718293a4b5c6d7e8f9012345'"`},
		{"v4 stats unknown", "127.0.0.1:1", "/v4/" + unknown + "/stats", 404, `"V4 container stats handler: unable to get task arn from request: unable to get task Arn from v3 endpoint ID: ` + unknown + `"`},
		{"v4 stats not created", "127.0.0.1:1", "/v4/" + epPulled + "/stats", 404, `"V4 container stats handler: unable to get container ID from request: unable to get docker ID from v3 endpoint ID: ` + epPulled + `"`},
		{"v4 stats none sampled", "127.0.0.1:1", "/v4/" + epApp + "/stats", 500, `"Unable to get container stats for: ` + appID + `"`},
		{"v4 task stats unknown", "127.0.0.1:1", "/v4/" + unknown + "/task/stats", 404, `"V4 task stats handler: unable to get task arn from request: unable to get task Arn from v3 endpoint ID: ` + unknown + `"`},
		{"v4 task stats gone", "127.0.0.1:1", "/v4/" + epOrphan + "/task/stats", 500, `"Unable to get task stats for: arn:aws:ecs:us-west-2:111122223333:task/prod/9d4e5f60718293a4b5c6d7e8f9012345"`},
		{"v3 associations", "127.0.0.1:1", "/v3/" + epApp + "/associations/gpu", 200, `{"Associations":[]}`},
		{"v4 associations unknown", "127.0.0.1:1", "/v4/" + unknown + "/associations/gpu", 400, `"V4 container associations handler: unable to get container id from request: unable to get docker ID from v3 endpoint ID: ` + unknown + `"`},
		{"v4 association", "127.0.0.1:1", "/v4/" + epApp + "/associations/gpu/0", 400, `"Unable to write container association response: unable to get association from association type gpu and association name 0"`},
		{"v3 association empty name", "127.0.0.1:1", "/v3/" + epApp + "/associations/gpu/", 400, `"V3 container associations handler: unable to get association name from request"`},
		{"v3 association unknown task", "127.0.0.1:1", "/v3/" + unknown + "/associations/gpu/0", 400, `"V3 container associations handler: unable to get task arn from request: unable to get task Arn from v3 endpoint ID: ` + unknown + `"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertJSON(t, do(h, tc.source, tc.path), tc.status, tc.want)
		})
	}
}

// TestNotFoundAndCleaning covers paths no route matches and gorilla/mux-style cleaning.
func TestNotFoundAndCleaning(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t)
	for _, tc := range []struct {
		path, location string
		status         int
	}{
		{"/", "", 404},
		{"/v4/" + epApp + "/", "", 404},
		{"/v4/" + epApp + "/task/", "", 404},
		{"/v4/" + epApp + "/tasks", "", 404},
		{"/v2/credentials", "", 404},
		{"/v2/metadataWithTags/x", "", 404},
		{"/api/" + epApp + "/task-protection/v1/state", "", 404}, // no agent API configured
		{"//v4/" + epApp, "/v4/" + epApp, 301},
		{"/v4/./" + epApp + "/task/", "/v4/" + epApp + "/task/", 301},
		{"/v2/x/../credentials/abc?id=1", "/v2/credentials/abc?id=1", 301},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rec := do(h, "127.0.0.1:1", tc.path)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d (%s)", rec.Code, tc.status, rec.Body)
			}
			if got := rec.Header().Get("Location"); got != tc.location {
				t.Errorf("Location = %q, want %q", got, tc.location)
			}
		})
	}
}
