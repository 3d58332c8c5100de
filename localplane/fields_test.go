package localplane

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ecsd/ecsd/controlplane/payload"
)

// modelStructs maps each structure shape reachable from the task definition shapes to its
// members, each member to the structure its value holds (through lists and maps), or ""
// for a scalar.
type modelStructs map[string]map[string]string

var modelRoots = []string{"RegisterTaskDefinitionRequest", "TaskDefinition"}

// loadAPI2 reads a botocore api-2 model.
func loadAPI2(t *testing.T, path string) modelStructs {
	t.Helper()
	var m struct {
		Shapes map[string]struct {
			Type    string                            `json:"type"`
			Members map[string]struct{ Shape string } `json:"members"`
			Member  *struct{ Shape string }           `json:"member"`
			Value   *struct{ Shape string }           `json:"value"`
		} `json:"shapes"`
	}
	readJSON(t, path, &m)
	var elem func(string) string
	elem = func(name string) string {
		s, ok := m.Shapes[name]
		switch {
		case !ok:
			return ""
		case s.Type == "list" && s.Member != nil:
			return elem(s.Member.Shape)
		case s.Type == "map" && s.Value != nil:
			return elem(s.Value.Shape)
		case s.Type == "structure":
			return name
		}
		return ""
	}
	out := modelStructs{}
	var walk func(string)
	walk = func(name string) {
		if _, done := out[name]; done {
			return
		}
		members := map[string]string{}
		out[name] = members
		for m, ref := range m.Shapes[name].Members {
			members[m] = elem(ref.Shape)
			if members[m] != "" {
				walk(members[m])
			}
		}
	}
	for _, r := range modelRoots {
		if m.Shapes[r].Type != "structure" {
			t.Fatalf("%s: no structure %s", path, r)
		}
		walk(r)
	}
	return out
}

// loadSmithy reads a Smithy JSON AST model (namespace com.amazonaws.ecs).
func loadSmithy(t *testing.T, path string) modelStructs {
	t.Helper()
	const ns = "com.amazonaws.ecs#"
	type ref struct{ Target string }
	var m struct {
		Shapes map[string]struct {
			Type    string         `json:"type"`
			Members map[string]ref `json:"members"`
			Member  *ref           `json:"member"`
			Value   *ref           `json:"value"`
		} `json:"shapes"`
	}
	readJSON(t, path, &m)
	var elem func(string) string
	elem = func(name string) string {
		s, ok := m.Shapes[name]
		switch {
		case !ok:
			return ""
		case s.Type == "list" && s.Member != nil:
			return elem(s.Member.Target)
		case s.Type == "map" && s.Value != nil:
			return elem(s.Value.Target)
		case s.Type == "structure":
			return strings.TrimPrefix(name, ns)
		}
		return ""
	}
	out := modelStructs{}
	var walk func(string)
	walk = func(name string) {
		if _, done := out[name]; done {
			return
		}
		members := map[string]string{}
		out[name] = members
		for m, r := range m.Shapes[ns+name].Members {
			members[m] = elem(r.Target)
			if members[m] != "" {
				walk(members[m])
			}
		}
	}
	for _, r := range modelRoots {
		if m.Shapes[ns+r].Type != "structure" {
			t.Fatalf("%s: no structure %s", path, r)
		}
		walk(r)
	}
	return out
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// models are both ECS models the coverage is checked against (see testdata/README.md).
func models(t *testing.T) map[string]modelStructs {
	t.Helper()
	return map[string]modelStructs{
		"api-2":  loadAPI2(t, "testdata/ecs-api-2.json"),
		"smithy": loadSmithy(t, "testdata/ecs-taskdef-smithy.json"),
	}
}

// repoTests returns the names of every top-level Test function in the repository's test
// files (parsed, not grepped, so a name in a comment does not count).
func repoTests(t *testing.T) map[string]bool {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root: %v", err)
	}
	names := map[string]bool{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "vendor" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Test") {
				names[fn.Name.Name] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// fieldFixture sets a member in a minimal valid definition: task members are merged
// into the request, container members into its one container "app", volume members
// into its one volume "v". want is what the ClientException must name.
type fieldFixture struct {
	task, container, volume string
	want                    string
}

// refusalFixtures set each member (or value) the table refuses.
func refusalFixtures() map[string]fieldFixture {
	other := "ARM64"
	if hostCPUArchitecture() == "ARM64" {
		other = "X86_64"
	}
	placement := fieldFixture{task: `{"placementConstraints":[{"type":"memberOf","expression":"attribute:ecs.instance-type =~ t3.*"}]}`, want: "placementConstraints"}
	proxy := fieldFixture{task: `{"proxyConfiguration":{"type":"APPMESH","containerName":"app","properties":[{"name":"IgnoredUID","value":"1337"}]}}`, want: "proxyConfiguration"}
	inference := fieldFixture{task: `{"inferenceAccelerators":[{"deviceName":"d1","deviceType":"eia2.medium"}]}`, want: "inferenceAccelerators"}
	ephemeral := fieldFixture{task: `{"ephemeralStorage":{"sizeInGiB":30}}`, want: "ephemeralStorage"}
	arch := fieldFixture{task: fmt.Sprintf(`{"runtimePlatform":{"cpuArchitecture":%q,"operatingSystemFamily":"LINUX"}}`, other), want: "cpuArchitecture"}
	efsAP := fieldFixture{volume: `{"efsVolumeConfiguration":{"fileSystemId":"fs-12345678","transitEncryption":"ENABLED","authorizationConfig":{"accessPointId":"fsap-1"}}}`, want: "accessPointId"}
	efsIAM := fieldFixture{volume: `{"efsVolumeConfiguration":{"fileSystemId":"fs-12345678","transitEncryption":"ENABLED","authorizationConfig":{"iam":"ENABLED"}}}`, want: "iam"}
	fsx := fieldFixture{volume: `{"fsxWindowsFileServerVolumeConfiguration":{"fileSystemId":"fs-1","rootDirectory":"share","authorizationConfig":{"credentialsParameter":"arn:aws:secretsmanager:us-east-1:123456789012:secret:fsx","domain":"example.com"}}}`, want: "fsxWindowsFileServerVolumeConfiguration"}
	gpu := fieldFixture{container: `{"resourceRequirements":[{"type":"GPU","value":"1"}]}`, want: "resourceRequirements"}
	firelens := fieldFixture{container: `{"firelensConfiguration":{"type":"fluentbit","options":{"enable-ecs-log-metadata":"true"}}}`, want: "firelensConfiguration"}
	return map[string]fieldFixture{
		"RegisterTaskDefinitionRequest.placementConstraints":    placement,
		"TaskDefinition.placementConstraints":                   placement,
		"TaskDefinitionPlacementConstraint.type":                placement,
		"TaskDefinitionPlacementConstraint.expression":          placement,
		"RegisterTaskDefinitionRequest.requiresCompatibilities": {task: `{"requiresCompatibilities":["WINDOWS"]}`, want: "requiresCompatibilities"},
		"RegisterTaskDefinitionRequest.proxyConfiguration":      proxy,
		"TaskDefinition.proxyConfiguration":                     proxy,
		"ProxyConfiguration.type":                               proxy,
		"ProxyConfiguration.containerName":                      proxy,
		"ProxyConfiguration.properties":                         proxy,
		"RegisterTaskDefinitionRequest.inferenceAccelerators":   inference,
		"TaskDefinition.inferenceAccelerators":                  inference,
		"InferenceAccelerator.deviceName":                       inference,
		"InferenceAccelerator.deviceType":                       inference,
		"RegisterTaskDefinitionRequest.ephemeralStorage":        ephemeral,
		"TaskDefinition.ephemeralStorage":                       ephemeral,
		"EphemeralStorage.sizeInGiB":                            ephemeral,
		"RegisterTaskDefinitionRequest.runtimePlatform":         arch,
		"RuntimePlatform.cpuArchitecture":                       arch,
		"RuntimePlatform.operatingSystemFamily":                 {task: `{"runtimePlatform":{"operatingSystemFamily":"WINDOWS_SERVER_2022_CORE"}}`, want: "operatingSystemFamily"},

		"EFSVolumeConfiguration.authorizationConfig":                   efsAP,
		"EFSAuthorizationConfig.accessPointId":                         efsAP,
		"EFSAuthorizationConfig.iam":                                   efsIAM,
		"Volume.fsxWindowsFileServerVolumeConfiguration":               fsx,
		"FSxWindowsFileServerVolumeConfiguration.fileSystemId":         fsx,
		"FSxWindowsFileServerVolumeConfiguration.rootDirectory":        fsx,
		"FSxWindowsFileServerVolumeConfiguration.authorizationConfig":  fsx,
		"FSxWindowsFileServerAuthorizationConfig.credentialsParameter": fsx,
		"FSxWindowsFileServerAuthorizationConfig.domain":               fsx,
		"Volume.configuredAtLaunch":                                    {volume: `{"configuredAtLaunch":true}`, want: "configuredAtLaunch"},
		"DockerVolumeConfiguration.scope":                              {volume: `{"dockerVolumeConfiguration":{"scope":"global"}}`, want: "scope"},
		"DockerVolumeConfiguration.driver":                             {volume: `{"dockerVolumeConfiguration":{"driver":"rexray/ebs"}}`, want: "driver"},
		"DockerVolumeConfiguration.driverOpts":                         {volume: `{"dockerVolumeConfiguration":{"driverOpts":{"size":"1g"}}}`, want: "driverOpts"},

		"ContainerDefinition.disableNetworking":     {container: `{"disableNetworking":true}`, want: "disableNetworking"},
		"ContainerDefinition.interactive":           {container: `{"interactive":true}`, want: "interactive"},
		"ContainerDefinition.pseudoTerminal":        {container: `{"pseudoTerminal":true}`, want: "pseudoTerminal"},
		"ContainerDefinition.resourceRequirements":  gpu,
		"ResourceRequirement.type":                  gpu,
		"ResourceRequirement.value":                 gpu,
		"ContainerDefinition.firelensConfiguration": firelens,
		"FirelensConfiguration.type":                firelens,
		"FirelensConfiguration.options":             firelens,
		"ContainerDefinition.credentialSpecs":       {container: `{"credentialSpecs":["credentialspec:arn:aws:s3:::bucket/spec.json"]}`, want: "credentialSpecs"},
		"LinuxParameters.maxSwap":                   {container: `{"linuxParameters":{"maxSwap":512}}`, want: "maxSwap"},
		"LinuxParameters.swappiness":                {container: `{"linuxParameters":{"swappiness":60}}`, want: "swappiness"},
	}
}

// body renders the fixture's registration request.
func (f fieldFixture) body(t *testing.T, family string) []byte {
	t.Helper()
	merge := func(dst map[string]any, src string) {
		if src == "" {
			return
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(src), &m); err != nil {
			t.Fatalf("fixture %s: %v", src, err)
		}
		for k, v := range m {
			dst[k] = v
		}
	}
	ctr := map[string]any{"name": "app", "image": "busybox", "memory": 32}
	merge(ctr, f.container)
	req := map[string]any{"family": family, "containerDefinitions": []any{ctr}}
	if f.volume != "" {
		v := map[string]any{"name": "v"}
		merge(v, f.volume)
		req["volumes"] = []any{v}
	}
	merge(req, f.task)
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// register sends a raw RegisterTaskDefinition and returns the HTTP status and body.
func (p *plane) register(t *testing.T, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.http.URL, strings.NewReader(string(body)))
	req.Header.Set("X-Amz-Target", targetPrefix+"RegisterTaskDefinition")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(signed(t, req, body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// TestTaskDefinitionFieldCoverage walks every member of the task definition shapes in
// both ECS models and checks that the coverage table classifies it: an effect must name
// tests that exist, and a refusal must be made by
// RegisterTaskDefinition, as a ClientException naming the member and giving the reason.
func TestTaskDefinitionFieldCoverage(t *testing.T) {
	table := taskDefinitionFields()
	inModel := map[string]bool{}
	for name, m := range models(t) {
		for shape, members := range m {
			for member := range members {
				key := shape + "." + member
				inModel[key] = true
				if _, ok := table[key]; !ok {
					t.Errorf("%s model: %s is neither applied nor refused; add it to taskDefinitionFields", name, key)
				}
			}
		}
	}
	var keys []string
	for k := range table {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	tests := repoTests(t)
	fixtures := refusalFixtures()
	p := newPlane(t, Options{HeartbeatInterval: time.Hour, ManifestInterval: time.Hour})
	for _, key := range keys {
		f := table[key]
		if !inModel[key] {
			t.Errorf("%s is in taskDefinitionFields but in neither model", key)
		}
		switch f.kind {
		case fieldApplied, fieldPlane:
			if len(f.tests) == 0 {
				t.Errorf("%s (%s) names no test that shows its effect", key, f.kind)
			}
			for _, name := range f.tests {
				if !tests[name] {
					t.Errorf("%s (%s): test %s does not exist", key, f.kind, name)
				}
			}
		case fieldRefused:
			if f.refusal == "" {
				t.Errorf("%s is refused without a reason", key)
			}
		default:
			t.Errorf("%s: unknown kind %q", key, f.kind)
		}
		if f.refusal == "" {
			continue
		}
		fx, ok := fixtures[key]
		if !ok {
			t.Errorf("%s: refused (%s) but no fixture registers it", key, f.refusal)
			continue
		}
		member := key[strings.Index(key, ".")+1:]
		body := fx.body(t, "fields")
		if !strings.Contains(string(body), `"`+member+`"`) {
			t.Errorf("%s: the fixture does not set %s: %s", key, member, body)
		}
		status, resp := p.register(t, body)
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(resp, &e)
		if status != http.StatusBadRequest || e.Type != "ClientException" || !strings.Contains(e.Message, fx.want) || !strings.Contains(e.Message, f.refusal) {
			t.Errorf("%s: registering %s = HTTP %d %s; want a ClientException naming %s with %q", key, body, status, resp, fx.want, f.refusal)
		}
	}
}

// TestWireShapesDecodeEveryMember: a member the plane's request structs do not declare
// would be dropped by the JSON decoder without a word, so every member of the model's
// request shapes must have a field (and every member of the output shape too, unless the
// plane refuses it and so never has one to return).
func TestWireShapesDecodeEveryMember(t *testing.T) {
	table := taskDefinitionFields()
	raw := reflect.TypeOf(json.RawMessage{})
	for name, m := range models(t) {
		seen := map[string]bool{}
		var walk func(shape string, typ reflect.Type)
		walk = func(shape string, typ reflect.Type) {
			if seen[shape+typ.String()] {
				return
			}
			seen[shape+typ.String()] = true
			for member, target := range m[shape] {
				key := shape + "." + member
				ft, ok := jsonField(typ, member)
				if !ok {
					if shape == "TaskDefinition" && table[key].kind == fieldRefused {
						continue
					}
					t.Errorf("%s model: %s has no field in %s, so the decoder would drop it", name, key, typ)
					continue
				}
				for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map {
					if ft == raw {
						break
					}
					ft = ft.Elem()
				}
				switch {
				case target == "":
				case ft == raw:
					// Kept as JSON: only acceptable for a member the plane refuses.
					if table[key].kind != fieldRefused {
						t.Errorf("%s model: %s is kept as raw JSON but not refused", name, key)
					}
				case ft.Kind() == reflect.Struct:
					walk(target, ft)
				default:
					t.Errorf("%s model: %s is a structure but %s decodes it as %s", name, key, typ, ft)
				}
			}
		}
		walk("RegisterTaskDefinitionRequest", reflect.TypeOf(registerTaskDefinitionRequest{}))
		walk("TaskDefinition", reflect.TypeOf(taskDefinition{}))
	}
}

// jsonField finds the struct field (embedded ones included) whose JSON name is name.
func jsonField(typ reflect.Type, name string) (reflect.Type, bool) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && tag == "" {
			if ft, ok := jsonField(f.Type, name); ok {
				return ft, true
			}
			continue
		}
		if tag == name {
			return f.Type, true
		}
	}
	return nil, false
}

// TestTaskDefinitionEcho: what the plane keeps (members only ECS itself reads, such as a
// port mapping's Service Connect name and appProtocol) and computes (compatibilities,
// registeredBy, deregisteredAt) comes back from DescribeTaskDefinition under the model's
// member names.
func TestTaskDefinitionEcho(t *testing.T) {
	p := newPlane(t, Options{HeartbeatInterval: time.Hour, ManifestInterval: time.Hour})
	body := fmt.Sprintf(`{"family":"echo","taskRoleArn":"arn:aws:iam::123456789012:role/task",
		"executionRoleArn":"arn:aws:iam::123456789012:role/exec","networkMode":"bridge",
		"volumes":[{"name":"v","host":{"sourcePath":"/srv"}}],
		"runtimePlatform":{"cpuArchitecture":%q,"operatingSystemFamily":"LINUX"},
		"requiresCompatibilities":["EC2"],"cpu":"256","memory":"512","pidMode":"task","ipcMode":"task",
		"containerDefinitions":[{"name":"app","image":"busybox","portMappings":[{"containerPort":80,"name":"web-80-tcp","appProtocol":"http"}]}]}`,
		hostCPUArchitecture())
	if status, resp := p.register(t, []byte(body)); status != http.StatusOK {
		t.Fatalf("register: HTTP %d %s", status, resp)
	}
	var out struct {
		TaskDefinition map[string]any `json:"taskDefinition"`
	}
	p.call(t, "DeregisterTaskDefinition", `{"taskDefinition":"echo:1"}`, &out)
	p.call(t, "DescribeTaskDefinition", `{"taskDefinition":"echo:1"}`, &out)
	td := out.TaskDefinition
	want := map[string]string{
		"taskRoleArn": `"arn:aws:iam::123456789012:role/task"`, "executionRoleArn": `"arn:aws:iam::123456789012:role/exec"`,
		"networkMode": `"bridge"`, "volumes": `[{"host":{"sourcePath":"/srv"},"name":"v"}]`,
		"runtimePlatform":         fmt.Sprintf(`{"cpuArchitecture":%q,"operatingSystemFamily":"LINUX"}`, hostCPUArchitecture()),
		"requiresCompatibilities": `["EC2"]`, "compatibilities": `["EC2","EXTERNAL"]`, "cpu": `"256"`, "memory": `"512"`,
		"pidMode": `"task"`, "ipcMode": `"task"`, "registeredBy": `"arn:aws:iam::` + p.opts.AccountID + `:root"`,
		"placementConstraints": `[]`,
	}
	for k, w := range want {
		got, _ := json.Marshal(td[k])
		if string(got) != w {
			t.Errorf("%s = %s, want %s", k, got, w)
		}
	}
	if _, ok := td["deregisteredAt"].(float64); !ok {
		t.Errorf("deregisteredAt = %v, want a timestamp", td["deregisteredAt"])
	}
	pm, _ := json.Marshal(td["containerDefinitions"].([]any)[0].(map[string]any)["portMappings"])
	if !strings.Contains(string(pm), `"name":"web-80-tcp"`) || !strings.Contains(string(pm), `"appProtocol":"http"`) {
		t.Errorf("portMappings = %s, want name and appProtocol kept", pm)
	}
}

// TestRuntimePlatform: the plane places tasks only on agents of this host, so it takes a
// definition for Linux on this host's architecture and refuses others at registration.
func TestRuntimePlatform(t *testing.T) {
	p := newPlane(t, Options{HeartbeatInterval: time.Hour, ManifestInterval: time.Hour})
	other := "ARM64"
	if hostCPUArchitecture() == "ARM64" {
		other = "X86_64"
	}
	for _, tc := range []struct {
		platform, want string
	}{
		{fmt.Sprintf(`{"cpuArchitecture":%q,"operatingSystemFamily":"LINUX"}`, hostCPUArchitecture()), ""},
		{`{"operatingSystemFamily":"LINUX"}`, ""},
		{fmt.Sprintf(`{"cpuArchitecture":%q}`, other), "runtimePlatform.cpuArchitecture " + other + " is not supported here"},
		{`{"cpuArchitecture":"MIPS"}`, `Invalid runtimePlatform.cpuArchitecture`},
		{`{"operatingSystemFamily":"WINDOWS_SERVER_2022_FULL"}`, "runtimePlatform.operatingSystemFamily WINDOWS_SERVER_2022_FULL is not supported by ecsd"},
	} {
		body := `{"family":"rp","containerDefinitions":[{"name":"app","image":"busybox","memory":8}],"runtimePlatform":` + tc.platform + `}`
		status, resp := p.register(t, []byte(body))
		switch {
		case tc.want == "" && status != http.StatusOK:
			t.Errorf("%s: HTTP %d %s, want accepted", tc.platform, status, resp)
		case tc.want != "" && (status != http.StatusBadRequest || !strings.Contains(string(resp), tc.want)):
			t.Errorf("%s: HTTP %d %s, want a ClientException with %q", tc.platform, status, resp, tc.want)
		}
	}
}

// TestFieldRendering complements TestPayloadTranslation for the members it does not
// set: they reach the agent's container spec as defined.
func TestFieldRendering(t *testing.T) {
	p := newPlane(t, Options{HeartbeatInterval: time.Hour, ManifestInterval: time.Hour})
	instance := p.setup(t, "prod")
	body := `{"family":"render","executionRoleArn":"arn:aws:iam::123456789012:role/exec",
		"volumes":[{"name":"scratch","dockerVolumeConfiguration":{"scope":"task","driver":"local"}}],
		"containerDefinitions":[
		 {"name":"app","image":"busybox","memory":16,"links":["db:database"],"privileged":true,
		  "repositoryCredentials":{"credentialsParameter":"arn:aws:secretsmanager:us-west-2:123456789012:secret:reg"},
		  "portMappings":[{"containerPort":53,"hostPort":5353,"protocol":"udp"},{"containerPortRange":"7000-7002"}],
		  "linuxParameters":{"devices":[{"hostPath":"/dev/fuse","containerPath":"/dev/fuse","permissions":["read","write"]}]}},
		 {"name":"db","image":"123456789012.dkr.ecr.us-west-2.amazonaws.com/db:1","memory":16}]}`
	if status, resp := p.register(t, []byte(body)); status != http.StatusOK {
		t.Fatalf("register: HTTP %d %s", status, resp)
	}
	a := p.connect(t, "prod", instance, false)
	p.runTask(t, "prod", "render")
	msg := a.payload()
	var task payload.Task
	raw, err := json.Marshal(msg.Tasks[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &task); err != nil {
		t.Fatal(err)
	}
	obj, containers, err := payload.ToObjects(&task, msg.Options())
	if err != nil {
		t.Fatalf("ToObjects: %v", err)
	}
	app, db := containers[0].Spec, containers[1].Spec
	lp := app.LinuxParameters
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"links", slices.Equal(app.Links, []string{"db:database"})},
		{"privileged", app.Privileged},
		{"repositoryCredentials", app.RegistryAuth != nil && app.RegistryAuth.Type == "asm" &&
			app.RegistryAuth.CredentialsParameter == "arn:aws:secretsmanager:us-west-2:123456789012:secret:reg" && app.RegistryAuth.Region == "us-west-2"},
		{"executionRoleArn pulls from ECR", db.RegistryAuth != nil && db.RegistryAuth.Type == "ecr" && db.RegistryAuth.UseExecutionRole &&
			db.RegistryAuth.RegistryID == "123456789012"},
		{"udp port", len(app.PortMappings) == 2 && app.PortMappings[0].Protocol == "udp" && app.PortMappings[0].HostPort == 5353},
		{"port range", len(app.PortMappings) == 2 && app.PortMappings[1].ContainerPortRange == "7000-7002" && app.PortMappings[1].Protocol == "tcp"},
		{"devices", lp != nil && len(lp.Devices) == 1 && lp.Devices[0].HostPath == "/dev/fuse" && lp.Devices[0].ContainerPath == "/dev/fuse" &&
			slices.Equal(lp.Devices[0].Permissions, []string{"read", "write"})},
		{"local docker volume", len(obj.Spec.Volumes) == 1 && obj.Spec.Volumes[0].Type == "docker" && obj.Spec.Volumes[0].Driver == "local" && obj.Spec.Volumes[0].Scope == "task"},
	} {
		if !c.ok {
			t.Errorf("%s: not as defined; app %+v db %+v task %+v", c.name, app, db, obj.Spec)
		}
	}
}
