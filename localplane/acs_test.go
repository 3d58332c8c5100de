package localplane

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsd/ecsd/controlplane/payload"
	"github.com/ecsd/ecsd/internal/testutil"
)

func TestACSHandshake(t *testing.T) {
	p := newPlane(t, Options{})
	instance := p.setup(t, "prod")
	other := p.setup(t, "other")

	// refused dials and returns the typed exception of the refusal body.
	refused := func(t *testing.T, url, key, secret string, status int) error {
		t.Helper()
		conn, resp, err := dial(t, url, staticCreds(key, secret))
		if err == nil {
			conn.CloseNow()
			t.Fatalf("handshake accepted, want HTTP %d", status)
		}
		if resp == nil || resp.StatusCode != status {
			t.Fatalf("handshake: %v, want HTTP %d", err, status)
		}
		body, _ := io.ReadAll(resp.Body)
		ex := payload.DecodeErrorBody(body)
		if ex == nil {
			t.Fatalf("refusal body %q is not an ACS exception", body)
		}
		return ex
	}

	t.Run("signed", func(t *testing.T) {
		p.connect(t, "prod", instance, false)
		if p.Sessions() != 1 {
			t.Fatalf("Sessions() = %d", p.Sessions())
		}
	})
	t.Run("bad signature", func(t *testing.T) {
		var ad *payload.AccessDeniedException
		if err := refused(t, p.acsURL(t, "prod", instance, false), testKey, "wrong", http.StatusForbidden); !errors.As(err, &ad) {
			t.Fatalf("got %v, want AccessDeniedException", err)
		}
	})
	t.Run("instance of another cluster", func(t *testing.T) {
		var ii *payload.InvalidInstanceException
		if err := refused(t, p.acsURL(t, "prod", other, false), testKey, testSecret, http.StatusBadRequest); !errors.As(err, &ii) {
			t.Fatalf("got %v, want InvalidInstanceException", err)
		}
	})
	t.Run("unknown cluster", func(t *testing.T) {
		var ic *payload.InvalidClusterException
		if err := refused(t, p.acsURL(t, "nope", instance, false), testKey, testSecret, http.StatusBadRequest); !errors.As(err, &ic) {
			t.Fatalf("got %v, want InvalidClusterException", err)
		}
	})
	t.Run("deregistered", func(t *testing.T) {
		a := p.connect(t, "other", other, false)
		if _, err := p.ecs.DeregisterContainerInstance(context.Background(), &ecs.DeregisterContainerInstanceInput{
			Cluster: aws.String("other"), ContainerInstance: aws.String(other)}); err != nil {
			t.Fatal(err)
		}
		for range a.frames { // the live session is closed
		}
		var ia *payload.InactiveInstanceException
		if err := refused(t, p.acsURL(t, "other", other, false), testKey, testSecret, http.StatusBadRequest); !errors.As(err, &ia) {
			t.Fatalf("got %v, want InactiveInstanceException", err)
		}
	})
}

func TestACSPayloadResentUntilAcked(t *testing.T) {
	p := newPlane(t, Options{ResendAfter: 100 * time.Millisecond, HeartbeatInterval: time.Hour, ManifestInterval: time.Hour})
	instance := p.setup(t, "prod")
	def := p.registerTaskDef(t, "web", 128, 0)
	a := p.connect(t, "prod", instance, false)
	task := p.runTask(t, "prod", def)

	first := a.payload()
	if err := first.Validate(); err != nil {
		t.Fatal(err)
	}
	if first.ClusterArn != "arn:aws:ecs:local:000000000000:cluster/prod" || first.ContainerInstanceArn != instance ||
		first.SeqNum < 1 || len(first.Tasks) != 1 || first.Tasks[0].Arn != task || first.Tasks[0].DesiredStatus != "RUNNING" {
		t.Fatalf("payload = %+v", first)
	}
	if _, _, err := payload.ToObjects(&first.Tasks[0], first.Options()); err != nil {
		t.Fatalf("the agent could not load the payload task: %v", err)
	}

	// Not acknowledged: sent again on the same session, as a new message.
	again := a.payload()
	if again.MessageID == first.MessageID || again.SeqNum <= first.SeqNum || again.Tasks[0].Arn != task {
		t.Fatalf("resend = %s seq %d, first = %s seq %d", again.MessageID, again.SeqNum, first.MessageID, first.SeqNum)
	}

	// And on a new session, at once.
	p.DropSessions()
	testutil.Eventually(t, "the session to end", func() bool { return p.Sessions() == 0 })
	a = p.connect(t, "prod", instance, false)
	resent := a.payload()
	if resent.Tasks[0].Arn != task || resent.SeqNum <= again.SeqNum {
		t.Fatalf("payload after reconnect = %+v", resent)
	}
	a.send(&payload.AckRequest{Cluster: resent.ClusterArn, ContainerInstance: resent.ContainerInstanceArn, MessageID: resent.MessageID})
	testutil.Eventually(t, "the acknowledgement", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.st.Tasks[task].AckedDesired == "RUNNING"
	})

	// Acknowledged: a new session gets nothing until the task changes, then only the stop.
	p.DropSessions()
	testutil.Eventually(t, "the session to end", func() bool { return p.Sessions() == 0 })
	a = p.connect(t, "prod", instance, false)
	if _, err := p.ecs.StopTask(context.Background(), &ecs.StopTaskInput{Cluster: aws.String("prod"), Task: aws.String(task)}); err != nil {
		t.Fatal(err)
	}
	stop := a.payload()
	if stop.Tasks[0].Arn != task || stop.Tasks[0].DesiredStatus != "STOPPED" {
		t.Fatalf("first payload after the ack = %+v, want the stop", stop.Tasks[0])
	}
}

func TestACSHeartbeatManifestStopVerification(t *testing.T) {
	p := newPlane(t, Options{HeartbeatInterval: 20 * time.Millisecond, ManifestInterval: 30 * time.Millisecond})
	instance := p.setup(t, "prod")
	def := p.registerTaskDef(t, "web", 128, 0)
	a := p.connect(t, "prod", instance, false)
	hb := a.next(payload.TypeHeartbeatMessage).(*payload.HeartbeatMessage)
	if !hb.Healthy || hb.MessageID == "" {
		t.Fatalf("heartbeat = %+v", hb)
	}
	task := p.runTask(t, "prod", def)

	// manifest waits for a manifest listing the task with the given desired status.
	var last int64
	manifest := func(desired string) *payload.TaskManifestMessage {
		t.Helper()
		for {
			m := a.next(payload.TypeTaskManifestMessage).(*payload.TaskManifestMessage)
			if m.Timeline <= last {
				t.Fatalf("manifest timeline %d after %d", m.Timeline, last)
			}
			last = m.Timeline
			if len(m.Tasks) == 1 && m.Tasks[0].TaskArn == task && m.Tasks[0].DesiredStatus == desired {
				return m
			}
		}
	}
	unknown := "arn:aws:ecs:local:000000000000:task/prod/ffffffffffffffffffffffffffffffff"
	verify := func(m *payload.TaskManifestMessage) []string {
		t.Helper()
		a.send(&payload.AckRequest{MessageID: m.MessageID})
		a.send(&payload.TaskStopVerificationMessage{MessageID: m.MessageID, StopCandidates: []payload.TaskIdentifier{
			{TaskArn: task, DesiredStatus: "STOPPED"}, {TaskArn: unknown, DesiredStatus: "STOPPED"}}})
		ack := a.next(payload.TypeTaskStopVerificationAck).(*payload.TaskStopVerificationAck)
		if ack.MessageID != m.MessageID {
			t.Fatalf("stop verification ack for %s, want %s", ack.MessageID, m.MessageID)
		}
		var arns []string
		for _, s := range ack.StopTasks {
			if s.DesiredStatus != "STOPPED" {
				t.Fatalf("stop task %+v", s)
			}
			arns = append(arns, s.TaskArn)
		}
		return arns
	}
	if got := verify(manifest("RUNNING")); !slices.Equal(got, []string{unknown}) {
		t.Fatalf("confirmed stops %v, want only the unknown task", got)
	}
	if _, err := p.ecs.StopTask(context.Background(), &ecs.StopTaskInput{Cluster: aws.String("prod"), Task: aws.String(task)}); err != nil {
		t.Fatal(err)
	}
	if got := verify(manifest("STOPPED")); !slices.Equal(got, []string{task, unknown}) {
		t.Fatalf("confirmed stops %v, want both", got)
	}
}

func TestACSHeartbeatTimeout(t *testing.T) {
	p := newPlane(t, Options{HeartbeatInterval: 10 * time.Millisecond})
	instance := p.setup(t, "prod")
	a := p.connectAgent(t, "prod", instance, false, false)
	n := 0
	for f := range a.frames { // until the server closes the session
		if f.Type == payload.TypeHeartbeatMessage {
			n++
		}
	}
	if n != missedHeartbeats {
		t.Fatalf("session closed after %d heartbeats, want %d", n, missedHeartbeats)
	}
	testutil.Eventually(t, "the session to be gone", func() bool { return p.Sessions() == 0 })
}

func TestACSCredentials(t *testing.T) {
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	p := newPlane(t, Options{Now: clock, HeartbeatInterval: 20 * time.Millisecond, ManifestInterval: time.Hour})
	ctx := context.Background()
	instance := p.setup(t, "prod")
	if _, err := p.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family:           aws.String("web"),
		TaskRoleArn:      aws.String("arn:aws:iam::000000000000:role/app"),
		ExecutionRoleArn: aws.String("arn:aws:iam::000000000000:role/exec"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("busybox"),
			Memory: aws.Int32(64)}},
	}); err != nil {
		t.Fatal(err)
	}
	a := p.connect(t, "prod", instance, false)
	task := p.runTask(t, "prod", "web")
	pt := a.payload().Tasks[0]
	rc, ec := pt.RoleCredentials, pt.ExecutionRoleCredentials
	if rc == nil || ec == nil || rc.CredentialsID == "" || rc.RoleArn != "arn:aws:iam::000000000000:role/app" ||
		!strings.HasPrefix(rc.AccessKeyID, "ASIA") || rc.SecretAccessKey == "" || rc.SessionToken == "" || ec.RoleArn != "arn:aws:iam::000000000000:role/exec" {
		t.Fatalf("payload credentials %v / %v", rc, ec)
	}
	exp, err := time.Parse(time.RFC3339, rc.Expiration)
	if err != nil || exp.Sub(time.Now()) < 5*time.Hour {
		t.Fatalf("expiration %q: %v", rc.Expiration, err)
	}

	// A session opened with sendCredentials=true gets every credential set at once.
	p.DropSessions()
	testutil.Eventually(t, "the session to end", func() bool { return p.Sessions() == 0 })
	a = p.connect(t, "prod", instance, true)
	byRole := map[string]*payload.IAMRoleCredentialsMessage{}
	for range 2 {
		m := a.next(payload.TypeIAMRoleCredentialsMessage).(*payload.IAMRoleCredentialsMessage)
		if _, err := m.Credentials(); err != nil {
			t.Fatalf("invalid credentials message: %v", err)
		}
		byRole[m.RoleType] = m
	}
	app, exec := byRole["TaskApplication"], byRole["TaskExecution"]
	if app == nil || exec == nil || app.TaskArn != task || app.TaskClusterArn != "arn:aws:ecs:local:000000000000:cluster/prod" ||
		app.RoleCredentials.CredentialsID != rc.CredentialsID || exec.RoleCredentials.CredentialsID != ec.CredentialsID {
		t.Fatalf("credentials messages %v", byRole)
	}

	// Close to expiry they are rotated: same ID, new keys.
	offset.Store(int64(5*time.Hour + 30*time.Minute))
	m := a.next(payload.TypeIAMRoleCredentialsMessage).(*payload.IAMRoleCredentialsMessage)
	if m.TaskArn != task || (m.RoleCredentials.CredentialsID != rc.CredentialsID && m.RoleCredentials.CredentialsID != ec.CredentialsID) ||
		m.RoleCredentials.AccessKeyID == rc.AccessKeyID || m.RoleCredentials.AccessKeyID == ec.AccessKeyID {
		t.Fatalf("rotated credentials %v", m)
	}
}

// TestACSOneSequence: payloads and manifests are numbered from one sequence per instance,
// as ECS does, so each manifest's timeline is above the seqNum of every payload sent
// before it and below every later one; the reference agent discards a manifest otherwise.
// A state file of the two-counter versions continues above both.
func TestACSOneSequence(t *testing.T) {
	path := t.TempDir() + "/state.json"
	p := newPlane(t, Options{StatePath: path, HeartbeatInterval: time.Hour, ManifestInterval: 15 * time.Millisecond,
		ResendAfter: 40 * time.Millisecond})
	instance := p.setup(t, "prod")
	def := p.registerTaskDef(t, "web", 8, 0)
	a := p.connect(t, "prod", instance, false)
	stopRunning := make(chan struct{})
	runDone := make(chan struct{})
	go func() { // payloads keep coming while manifests tick
		defer close(runDone)
		for range 8 {
			select {
			case <-stopRunning:
				return
			default:
			}
			if _, err := p.ecs.RunTask(context.Background(), &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String(def)}); err != nil {
				t.Errorf("RunTask: %v", err)
				return
			}
		}
	}()
	var last int64
	var payloads, manifests int
	var order []string
	deadline := time.After(waitTimeout)
	for payloads < 8 || manifests < 8 {
		var f payload.Frame
		select {
		case f = <-a.frames:
		case <-deadline:
			t.Fatalf("got %d payloads and %d manifests", payloads, manifests)
		}
		m, err := payload.DecodeMessage(f)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		switch m := m.(type) {
		case *payload.PayloadMessage:
			n = m.SeqNum
			payloads++
			order = append(order, "P"+strconv.FormatInt(n, 10))
		case *payload.TaskManifestMessage:
			n = m.Timeline
			manifests++
			order = append(order, "M"+strconv.FormatInt(n, 10))
		default:
			continue
		}
		if n <= last {
			t.Fatalf("number %d after %d; sequence so far %v", n, last, order)
		}
		last = n
	}
	close(stopRunning)
	<-runDone
	t.Logf("sequence %v", order)

	// A file of a version with two counters: the sequence continues above both.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p.http.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	inst := raw["instances"].(map[string]any)[instance].(map[string]any)
	inst["seqNum"], inst["manifestTimeline"] = 5, last+100
	if data, err = json.Marshal(raw); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	p2 := newPlane(t, Options{StatePath: path, HeartbeatInterval: time.Hour, ManifestInterval: time.Hour})
	if _, err := p2.ecs.RegisterContainerInstance(context.Background(), &ecs.RegisterContainerInstanceInput{
		Cluster: aws.String("prod"), ContainerInstanceArn: aws.String(instance), TotalResources: testResources()}); err != nil {
		t.Fatal(err)
	}
	b := p2.connect(t, "prod", instance, false)
	if m := b.payload(); m.SeqNum != last+101 {
		t.Fatalf("first payload after the upgrade: seqNum %d, want %d", m.SeqNum, last+101)
	}
}
