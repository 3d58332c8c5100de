package tmds

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/credentials"
)

// Tasks whose credentials IDs are in their spec, as after an agent restart.
const (
	pendingID    = "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1"
	stoppedID    = "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2"
	supersededID = "d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3"
	pendingIP    = "172.17.0.9"
	supersededIP = "172.17.0.10"

	credPendingRole = "cred-pending-role-0007"
	credPendingExec = "cred-pending-exec-0008"
	credStopped     = "cred-stopped-0009"
	credReplaced    = "cred-replaced-0010"
	credCurrent     = "cred-current-0011"
)

// addPendingTasks stores a running bridge task whose role and execution credentials have
// not arrived, a stopped task whose credentials never will, and a task whose credentials
// were refreshed under a new ID.
func (f *fixture) addPendingTasks(t *testing.T) {
	t.Helper()
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: api.Namespace} }
	bridgeTask := func(id, role, exec string, known api.TaskState) *api.Task {
		return &api.Task{ObjectMeta: meta(id),
			Spec: api.TaskSpec{ARN: taskARN(id), Family: "pending", Version: "1", DesiredStatus: api.TaskStatusRunning,
				NetworkMode: "bridge", Containers: []string{"app"}, RoleCredentialsID: role, ExecutionCredentialsID: exec},
			Status: api.TaskStatus{KnownStatus: known}}
	}
	bridgeContainer := func(task, ip string) *api.Container {
		m := meta(api.ContainerName(task, "app"))
		m.Labels = map[string]string{api.LabelTaskARN: taskARN(task)}
		return &api.Container{ObjectMeta: m, Spec: api.ContainerSpec{TaskName: task, Name: "app", Image: "app:1"},
			Status: api.ContainerStatus{KnownStatus: api.ContainerStatusRunning,
				Network: &api.NetworkStatus{Mode: "bridge", IPv4Address: ip}}}
	}
	for _, o := range []client.Object{
		bridgeTask(pendingID, credPendingRole, credPendingExec, api.TaskStatusRunning),
		bridgeContainer(pendingID, pendingIP),
		bridgeTask(stoppedID, credStopped, "", api.TaskStatusStopped),
		bridgeTask(supersededID, credReplaced, "", api.TaskStatusRunning),
		bridgeContainer(supersededID, supersededIP),
	} {
		if err := f.st.Create(context.Background(), o); err != nil {
			t.Fatalf("create %s: %v", o.GetName(), err)
		}
	}
	if err := f.creds.Set(credentials.Entry{ID: credCurrent, TaskARN: taskARN(supersededID), RoleARN: "arn:aws:iam::111122223333:role/cur",
		RoleType: credentials.TaskApplication, AccessKeyID: "ASIACUR", SecretAccessKey: secretKey, SessionToken: token,
		Expiration: time.Date(2026, 7, 1, 18, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
}

// TestCredentialsUninitialized: a credentials ID a task holds whose credentials have not
// arrived answers 503 CredentialsUninitialized to the task owning it, and exactly what an
// unknown ID answers to anyone else.
func TestCredentialsUninitialized(t *testing.T) {
	f := newFixture(t)
	f.addPendingTasks(t)
	uninit := func(v string) string {
		return `{"code":"CredentialsUninitialized","message":"CredentialsV` + v + `Request: Credentials uninitialized for ID","HTTPErrorCode":503}`
	}
	notFound := func(v string) string {
		return `{"code":"InvalidIdInRequest","message":"CredentialsV` + v + `Request: Credentials not found","HTTPErrorCode":400}`
	}
	noCheck := func(o *Options) { o.CheckCredentialsSource = false }
	for _, tc := range []struct {
		name, source, path string
		opt                func(*Options)
		status             int
		want               string
	}{
		{"v2 owner before delivery", pendingIP + ":1", "/v2/credentials/" + credPendingRole, nil, 503, uninit("2")},
		{"v1 owner before delivery", pendingIP + ":1", "/v1/credentials?id=" + credPendingRole, nil, 503, uninit("1")},
		{"another task: same as unknown", bridgeIP + ":1", "/v2/credentials/" + credPendingRole, nil, 400, notFound("2")},
		{"the host is not a bridge task", "127.0.0.1:1", "/v2/credentials/" + credPendingRole, nil, 400, notFound("2")},
		{"execution role, local caller", "127.0.0.1:1", "/v2/credentials/" + credPendingExec, nil, 503, uninit("2")},
		{"execution role, the task's container", pendingIP + ":1", "/v2/credentials/" + credPendingExec, nil, 400, notFound("2")},
		{"stopped task: nothing will arrive", "10.9.9.9:1", "/v2/credentials/" + credStopped, noCheck, 400, notFound("2")},
		{"replaced by a refresh", supersededIP + ":1", "/v2/credentials/" + credReplaced, nil, 400, notFound("2")},
		{"unknown ID stays unknown", pendingIP + ":1", "/v2/credentials/cred-nobody", nil, 400, notFound("2")},
		{"unknown ID without the check", "10.9.9.9:1", "/v2/credentials/cred-nobody", noCheck, 400, notFound("2")},
		{"check off: anyone with the ID", "10.9.9.9:1", "/v2/credentials/" + credPendingRole, noCheck, 503, uninit("2")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []func(*Options)
			if tc.opt != nil {
				opts = append(opts, tc.opt)
			}
			assertJSON(t, do(f.handler(t, opts...), tc.source, tc.path), tc.status, tc.want)
		})
	}
	for _, l := range f.logLines() {
		for _, id := range []string{credPendingRole, credPendingExec, credStopped, credReplaced, "cred-nobody"} {
			if strings.Contains(l, id) {
				t.Errorf("a credentials ID was logged: %s", l)
			}
		}
	}

	// Once ACS delivers them, the same request is answered.
	if err := f.creds.Set(credentials.Entry{ID: credPendingRole, TaskARN: taskARN(pendingID), RoleARN: "arn:aws:iam::111122223333:role/pending",
		RoleType: credentials.TaskApplication, AccessKeyID: "ASIAPEND", SecretAccessKey: secretKey, SessionToken: token,
		Expiration: time.Date(2026, 7, 1, 18, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	assertJSON(t, do(f.handler(t), pendingIP+":1", "/v2/credentials/"+credPendingRole), 200,
		`{"RoleArn":"arn:aws:iam::111122223333:role/pending","AccessKeyId":"ASIAPEND","SecretAccessKey":"`+secretKey+
			`","Token":"`+token+`","Expiration":"2026-07-01T18:00:00Z"}`)
	assertJSON(t, do(f.handler(t), supersededIP+":1", "/v2/credentials/"+credCurrent), 200,
		`{"RoleArn":"arn:aws:iam::111122223333:role/cur","AccessKeyId":"ASIACUR","SecretAccessKey":"`+secretKey+
			`","Token":"`+token+`","Expiration":"2026-07-01T18:00:00Z"}`)
}
