package payload

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

// Secret markers the fuzzers put into any credentials before translating, so that a leak
// is detectable whatever the fuzzer wrote (it could not produce these by chance).
const (
	markerAccessKey = "FUZZMARKERACCESSKEY0123456789"
	markerSecret    = "fuzz-marker-secret-access-key-9f8e7d6c5b4a"
	markerToken     = "fuzz-marker-session-token-1a2b3c4d5e6f"
)

// fixtureSeeds returns every testdata file.
func fixtureSeeds(f *testing.F) [][]byte {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	var out [][]byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzDecodeFrame feeds arbitrary bytes through the whole receive path: envelope, typed
// message, re-encoding and, for payloads, translation. Nothing may panic, and whatever
// decodes must re-encode to a stable frame.
func FuzzDecodeFrame(f *testing.F) {
	for _, b := range fixtureSeeds(f) {
		f.Add(b)
	}
	for _, s := range []string{
		`{"type":"HeartbeatMessage","message":{"healthy":true,"messageId":"hb-1"}}`,
		`{"type":"IAMRoleCredentialsMessage","message":{"taskArn":"t","roleType":"TaskApplication","messageId":"m","roleCredentials":{"credentialsId":"c"}}}`,
		`{"type":"TaskManifestMessage","message":{"messageId":"m","timeline":3,"tasks":[{"taskArn":"t","desiredStatus":"RUNNING"}]}}`,
		`{"type":"InactiveInstanceException","message":{"message":"gone"}}`,
		`{"InactiveInstanceException":"gone"}`,
		`{"type":"Unknown","message":{}}`,
		`{"type":"PayloadMessage","message":null}`,
		`{"type":"PayloadMessage","message":{"tasks":[{"containers":[{"overrides":{"command":["x"]}}]}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = DecodeErrorBody(data)
		fr, err := DecodeFrame(data)
		if err != nil {
			if !errors.Is(err, ErrMalformedFrame) && !errors.Is(err, ErrFrameTooLarge) {
				t.Fatalf("DecodeFrame error without sentinel: %v", err)
			}
			return
		}
		m, err := DecodeMessage(fr)
		if err != nil {
			if !errors.Is(err, ErrMalformedFrame) && !errors.Is(err, ErrUnknownType) {
				t.Fatalf("DecodeMessage error without sentinel: %v", err)
			}
			return
		}
		msg, ok := m.(Message)
		if !ok || msg.MessageType() != fr.Type {
			t.Fatalf("DecodeMessage(%q) returned %T", fr.Type, m)
		}
		// Re-encoding is stable once invalid UTF-8 and inline documents are normalised.
		data1, err := EncodeMessage(msg)
		if err != nil {
			t.Fatalf("re-encode %s: %v", fr.Type, err)
		}
		data2 := reencode(t, data1)
		if data3 := reencode(t, data2); string(data2) != string(data3) {
			t.Fatalf("encoding not stable:\n%s\n%s", data2, data3)
		}
		if p, ok := m.(*PayloadMessage); ok {
			for i := range p.Tasks {
				checkTranslation(t, &p.Tasks[i], p.Options())
			}
		}
	})
}

func reencode(t *testing.T, data []byte) []byte {
	t.Helper()
	fr, err := DecodeFrame(data)
	if err != nil {
		t.Fatalf("decode own frame: %v\n%s", err, data)
	}
	m, err := DecodeMessage(fr)
	if err != nil {
		t.Fatalf("decode own message: %v\n%s", err, data)
	}
	out, err := EncodeMessage(m.(Message))
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return out
}

// FuzzToObjects feeds arbitrary task JSON to ToObjects and checks the invariants of any
// successful translation, and that a rejection still yields a usable invalid-task object.
// The embedded documents (dockerConfig.config, dockerConfig.hostConfig, overrides) are
// separate inputs, so the fuzzer mutates them directly instead of through two levels of
// JSON quoting; non-empty ones replace those of the first container.
func FuzzToObjects(f *testing.F) {
	add := func(task []byte, cfg, hostCfg, overrides string) { f.Add(task, cfg, hostCfg, overrides) }
	for _, b := range fixtureSeeds(f) {
		var fr Frame
		var p PayloadMessage
		if json.Unmarshal(b, &fr) != nil || json.Unmarshal(fr.Message, &p) != nil {
			continue
		}
		for _, task := range p.Tasks {
			tb, err := json.Marshal(task)
			if err != nil {
				f.Fatal(err)
			}
			add(tb, "", "", "")
			for _, c := range task.Containers {
				if dc := c.DockerConfig; dc != nil && dc.Config != nil && dc.HostConfig != nil {
					add(tb, string(*dc.Config), string(*dc.HostConfig), "")
				}
			}
		}
	}
	base, _ := json.Marshal(baseTask())
	add(base, "", "", "")
	add(base, `{"Env":["A=1"],"Cmd":"x","Healthcheck":{"Test":["CMD","x"],"Interval":1}}`,
		`{"Tmpfs":{"/t":"size=1k,ro"},"Devices":[{"PathOnHost":"/dev/x","CgroupPermissions":"rw"}],"Ulimits":[{"Name":"n","Soft":1,"Hard":2}],"Memory":1048577}`,
		`{"command":["a"]}`)
	add([]byte(`{"arn":"arn:aws:ecs:r:1:task/x","desiredStatus":"RUNNING","containers":[{"name":"a","image":"i",`+
		`"links":["b:x"],"dependsOn":[{"containerName":"b","condition":"CREATE"}]},`+
		`{"name":"b","image":"i","volumesFrom":[{"sourceContainer":"a"}]}]}`), "", "", "")
	f.Fuzz(func(t *testing.T, data []byte, cfg, hostCfg, overrides string) {
		var task Task
		if json.Unmarshal(data, &task) != nil {
			return
		}
		if len(task.Containers) > 0 && (cfg != "" || hostCfg != "" || overrides != "") {
			c := &task.Containers[0]
			if c.DockerConfig == nil {
				c.DockerConfig = &DockerConfig{}
			}
			if cfg != "" {
				c.DockerConfig.Config = Ptr(EmbeddedJSON(cfg))
			}
			if hostCfg != "" {
				c.DockerConfig.HostConfig = Ptr(EmbeddedJSON(hostCfg))
			}
			if overrides != "" {
				c.Overrides = Ptr(EmbeddedJSON(overrides))
			}
		}
		checkTranslation(t, &task, Options{ClusterARN: "arn:aws:ecs:r:1:cluster/c", SeqNum: 1})
	})
}

// checkTranslation runs ToObjects on task (after planting secret markers in its
// credentials) and checks the invariants.
func checkTranslation(t *testing.T, task *Task, opts Options) {
	t.Helper()
	for _, c := range []*IAMRoleCredentials{task.RoleCredentials, task.ExecutionRoleCredentials} {
		if c != nil {
			c.AccessKeyID, c.SecretAccessKey, c.SessionToken = markerAccessKey, markerSecret, markerToken
		}
	}
	markers := []string{markerAccessKey, markerSecret, markerToken}
	before, err := json.Marshal(task)
	if err != nil {
		t.Fatalf("marshal task: %v", err)
	}
	obj, cs, err := ToObjects(task, opts)
	if after, _ := json.Marshal(task); string(before) != string(after) {
		t.Fatal("ToObjects modified its input")
	}
	if err != nil {
		if !errors.Is(err, ErrInvalidTask) || obj != nil || cs != nil {
			t.Fatalf("bad rejection: %v (%v, %v)", err, obj, cs)
		}
		if strings.TrimSpace(err.Error()) == "" {
			t.Fatal("empty error text")
		}
		inv := InvalidTaskObject(task, err)
		if !validName(inv.Name) || inv.Spec.DesiredStatus != v1alpha1.TaskStatusStopped ||
			!strings.HasPrefix(inv.Spec.Invalid, InvalidReasonPrefix) || len(inv.Spec.Containers) != 0 {
			t.Fatalf("bad invalid-task object %+v", inv)
		}
		checkNoMarkers(t, markers, inv)
		return
	}
	id, idErr := TaskID(task.Arn)
	if idErr != nil || obj.Name != id || !validName(obj.Name) || obj.Namespace != v1alpha1.Namespace {
		t.Fatalf("task name %q (arn %q)", obj.Name, task.Arn)
	}
	if obj.Spec.DesiredStatus != v1alpha1.TaskStatusRunning && obj.Spec.DesiredStatus != v1alpha1.TaskStatusStopped {
		t.Fatalf("desired status %q", obj.Spec.DesiredStatus)
	}
	if len(cs) == 0 || len(cs) != len(task.Containers) || len(obj.Spec.Containers) != len(cs) {
		t.Fatalf("%d containers, %d in spec, %d in task", len(cs), len(obj.Spec.Containers), len(task.Containers))
	}
	for i, c := range cs {
		name := obj.Spec.Containers[i]
		if name == "" || name != task.Containers[i].Name || c.Spec.Name != name || c.Spec.TaskName != obj.Name ||
			c.Name != v1alpha1.ContainerName(obj.Name, name) || c.Name != obj.Name+"-"+name {
			t.Fatalf("container %d named %q (spec %q, task %q)", i, c.Name, c.Spec.Name, obj.Name)
		}
		if len(c.OwnerReferences) != 1 || c.OwnerReferences[0].Name != obj.Name || c.OwnerReferences[0].Kind != "Task" {
			t.Fatalf("owner refs %+v", c.OwnerReferences)
		}
		if c.Labels[v1alpha1.LabelContainerName] != name || c.Labels[v1alpha1.LabelTaskARN] != task.Arn {
			t.Fatalf("labels %v", c.Labels)
		}
	}
	if rc := task.RoleCredentials; rc != nil && obj.Spec.RoleCredentialsID != rc.CredentialsID {
		t.Fatalf("role credentials ID %q", obj.Spec.RoleCredentialsID)
	}
	checkNoMarkers(t, markers, obj, cs)
	// The objects must survive the store's JSON round trip.
	b, err := json.Marshal(cs)
	if err != nil {
		t.Fatalf("marshal containers: %v", err)
	}
	var back []*v1alpha1.Container
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("unmarshal containers: %v", err)
	}
	// Translation is deterministic.
	obj2, cs2, err := ToObjects(task, opts)
	if err != nil || !reflect.DeepEqual(obj, obj2) || !reflect.DeepEqual(cs, cs2) {
		t.Fatalf("second translation differs (%v)", err)
	}
}

func checkNoMarkers(t *testing.T, markers []string, objs ...any) {
	t.Helper()
	b, err := json.Marshal(objs)
	if err != nil {
		t.Fatalf("marshal objects: %v", err)
	}
	for _, m := range markers {
		if strings.Contains(string(b), m) {
			t.Fatalf("credential material %q in objects: %s", m, b)
		}
	}
}
