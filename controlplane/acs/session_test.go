package acs

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/coder/websocket"
	"github.com/go-logr/logr/testr"

	"github.com/ecsd/ecsd/controlplane/payload"
	"github.com/ecsd/ecsd/controlplane/wssession"
)

// fakeApplier records what the session applied.
type fakeApplier struct {
	mu       sync.Mutex
	payloads []string
	creds    []string
	seen     int64
	// manifests are the IDs of the manifests acted on (stop candidates computed).
	manifests []string
	stopped   []string
	enis      []string // "<task>:<attachment ARN>" per ENI applied
	fail      bool
	failIDs   map[string]bool // payloads whose application fails
}

func (f *fakeApplier) ApplyPayload(_ context.Context, m *payload.PayloadMessage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail || f.failIDs[m.MessageID] {
		return context.DeadlineExceeded
	}
	f.payloads = append(f.payloads, m.MessageID)
	return nil
}
func (f *fakeApplier) ApplyCredentials(_ context.Context, c payload.RoleCredentials) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creds = append(f.creds, c.Credentials.CredentialsID)
	return nil
}
func (f *fakeApplier) LatestSeqNum(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen, nil
}
func (f *fakeApplier) RecordSeqNum(_ context.Context, n int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = max(f.seen, n)
	return nil
}
func (f *fakeApplier) StopCandidates(_ context.Context, m *payload.TaskManifestMessage) ([]payload.TaskIdentifier, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.manifests = append(f.manifests, m.MessageID)
	return []payload.TaskIdentifier{{TaskArn: "arn:aws:ecs:r:1:task/c/orphan-" + m.MessageID, DesiredStatus: "STOPPED"}}, nil
}
func (f *fakeApplier) StopTasks(_ context.Context, ids []payload.TaskIdentifier) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		f.stopped = append(f.stopped, id.TaskArn)
	}
	return nil
}

func (f *fakeApplier) ApplyENIAttachments(_ context.Context, taskARN string, enis []payload.ElasticNetworkInterface, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return context.DeadlineExceeded
	}
	for _, e := range enis {
		f.enis = append(f.enis, taskARN+":"+e.AttachmentArn)
	}
	return nil
}

// fakeACS is a websocket server that hands each accepted connection to the test.
type fakeACS struct {
	conns chan *websocket.Conn
	reqs  chan *http.Request
}

func newFakeACS(t *testing.T) (*fakeACS, *httptest.Server) {
	t.Helper()
	f := &fakeACS{conns: make(chan *websocket.Conn, 4), reqs: make(chan *http.Request, 4)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("containerInstanceArn") == "arn:inactive" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"InactiveInstanceException":"deregistered"}`))
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		c.SetReadLimit(-1)
		f.reqs <- r
		f.conns <- c
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return f, srv
}

func startSession(t *testing.T, srv *httptest.Server, a Applier, arn string) {
	t.Helper()
	startSessionWith(t, srv, a, arn, nil)
}

// startSessionWith is startSession with an Updater (nil for none).
func startSessionWith(t *testing.T, srv *httptest.Server, a Applier, arn string, u Updater) {
	t.Helper()
	s, err := New(Options{
		Updater: u,
		Config: wssession.Config{
			Endpoint:             func(context.Context) (string, error) { return srv.URL + "/acs", nil },
			Cluster:              "prod",
			ContainerInstanceARN: arn,
			Region:               "us-west-2",
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, nil
			}),
			AgentVersion:   "1.2.3",
			AgentHash:      "abc",
			RuntimeVersion: "containerd 2.4.2",
			Logger:         testr.New(t),
		},
		Applier: a,
		Timers:  Timers{Timers: wssession.Timers{Backoff: testBackoff}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func send(t *testing.T, c *websocket.Conn, m payload.Message) {
	t.Helper()
	data, err := payload.EncodeMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	sendRaw(t, c, data)
}

func sendRaw(t *testing.T, c *websocket.Conn, data []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, data); err != nil {
		t.Fatal(err)
	}
}

// expect reads frames until one of type typ arrives and returns its message.
func expect(t *testing.T, c *websocket.Conn, typ string) json.RawMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		f, err := payload.DecodeFrame(data)
		if err != nil {
			t.Fatalf("agent sent a malformed frame %q: %v", data, err)
		}
		if f.Type == typ {
			return f.Message
		}
	}
}

func TestSessionHandshake(t *testing.T) {
	f, srv := newFakeACS(t)
	startSession(t, srv, &fakeApplier{}, "arn:aws:ecs:us-west-2:1:container-instance/prod/abc")
	r := <-f.reqs
	<-f.conns
	if r.URL.Path != "/acs/ws" {
		t.Errorf("path %q, want /acs/ws", r.URL.Path)
	}
	q := r.URL.Query()
	for k, want := range map[string]string{
		"agentHash": "abc", "agentVersion": "1.2.3", "clusterArn": "prod",
		"containerInstanceArn": "arn:aws:ecs:us-west-2:1:container-instance/prod/abc",
		"dockerVersion":        "DockerVersion: containerd 2.4.2", "protocolVersion": "2",
		"sendCredentials": "true", "seqNum": "1",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("query %s=%q, want %q", k, got, want)
		}
	}
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKID/") || !strings.Contains(auth, "/us-west-2/ecs/aws4_request") || r.Header.Get("X-Amz-Date") == "" {
		t.Errorf("handshake not signed for ecs: Authorization %q", auth)
	}
}

func TestSessionMessages(t *testing.T) {
	f, srv := newFakeACS(t)
	a := &fakeApplier{}
	startSession(t, srv, a, "arn:ci")
	c := <-f.conns

	// Garbage of every kind first: the session must survive all of it.
	sendRaw(t, c, []byte(`not json`))
	sendRaw(t, c, []byte(`{"type":"NoSuchMessage","message":{}}`))
	sendRaw(t, c, []byte(`{"type":"PayloadMessage","message":"nope"}`))
	sendRaw(t, c, []byte(`{"message":{}}`))
	send(t, c, payload.PayloadMessage{MessageID: "no-cluster"})
	sendRaw(t, c, append(append([]byte(`{"type":"HeartbeatMessage","message":{"x":"`), strings.Repeat("a", payload.MaxFrameSize)...), `"}}`...))

	send(t, c, payload.HeartbeatMessage{Healthy: true, MessageID: "hb-1"})
	if got := expect(t, c, payload.TypeHeartbeatAckRequest); !strings.Contains(string(got), `"hb-1"`) {
		t.Errorf("heartbeat ack %s", got)
	}

	send(t, c, payload.PayloadMessage{MessageID: "pm-1", ClusterArn: "prod", ContainerInstanceArn: "arn:ci", SeqNum: 1,
		Tasks: []payload.Task{{Arn: "arn:aws:ecs:r:1:task/c/t1", RoleCredentials: &payload.IAMRoleCredentials{CredentialsID: "cred-1", Expiration: "2030-01-01T00:00:00Z"}}}})
	var ack payload.AckRequest
	if err := json.Unmarshal(expect(t, c, payload.TypeAckRequest), &ack); err != nil || ack.MessageID != "pm-1" || ack.Cluster != "prod" || ack.ContainerInstance != "arn:ci" {
		t.Errorf("payload ack %+v (%v)", ack, err)
	}
	var cack payload.IAMRoleCredentialsAckRequest
	if err := json.Unmarshal(expect(t, c, payload.TypeIAMRoleCredentialsAckRequest), &cack); err != nil || cack.CredentialsID != "cred-1" || cack.MessageID != "pm-1" {
		t.Errorf("credentials ack %+v (%v)", cack, err)
	}

	send(t, c, payload.IAMRoleCredentialsMessage{MessageID: "cm-1", TaskArn: "arn:aws:ecs:r:1:task/c/t1", RoleType: "TaskApplication",
		RoleCredentials: &payload.IAMRoleCredentials{CredentialsID: "cred-2", Expiration: "2030-01-01T00:00:00Z"}})
	if err := json.Unmarshal(expect(t, c, payload.TypeIAMRoleCredentialsAckRequest), &cack); err != nil || cack.CredentialsID != "cred-2" || cack.MessageID != "cm-1" {
		t.Errorf("refresh ack %+v (%v)", cack, err)
	}

	send(t, c, payload.TaskManifestMessage{MessageID: "mf-1", ClusterArn: "prod", ContainerInstanceArn: "arn:ci", Timeline: 5})
	if err := json.Unmarshal(expect(t, c, payload.TypeAckRequest), &ack); err != nil || ack.MessageID != "mf-1" {
		t.Errorf("manifest ack %+v (%v)", ack, err)
	}
	var sv payload.TaskStopVerificationMessage
	if err := json.Unmarshal(expect(t, c, payload.TypeTaskStopVerificationMessage), &sv); err != nil || sv.MessageID != "mf-1" || len(sv.StopCandidates) != 1 {
		t.Errorf("stop verification %+v (%v)", sv, err)
	}
	// A stale manifest is ignored; a verification for another manifest too.
	send(t, c, payload.TaskManifestMessage{MessageID: "mf-old", ClusterArn: "prod", ContainerInstanceArn: "arn:ci", Timeline: 4})
	send(t, c, payload.TaskStopVerificationAck{MessageID: "other", StopTasks: []payload.TaskIdentifier{{TaskArn: "x"}}})
	send(t, c, payload.TaskStopVerificationAck{MessageID: "mf-1", StopTasks: sv.StopCandidates})
	send(t, c, payload.HeartbeatMessage{Healthy: true, MessageID: "hb-2"})
	expect(t, c, payload.TypeHeartbeatAckRequest)

	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.payloads) != 1 || a.payloads[0] != "pm-1" {
		t.Errorf("payloads applied %v, want [pm-1]", a.payloads)
	}
	// Payload credentials are stored by ApplyPayload itself; the refresh goes through ApplyCredentials.
	if strings.Join(a.creds, ",") != "cred-2" {
		t.Errorf("credentials applied %v", a.creds)
	}
	if len(a.stopped) != 1 || a.stopped[0] != "arn:aws:ecs:r:1:task/c/orphan-mf-1" {
		t.Errorf("stopped %v", a.stopped)
	}
}

func TestPayloadNotAppliedIsNotAcked(t *testing.T) {
	f, srv := newFakeACS(t)
	a := &fakeApplier{fail: true}
	startSession(t, srv, a, "arn:ci")
	c := <-f.conns
	send(t, c, payload.PayloadMessage{MessageID: "pm-1", ClusterArn: "prod", ContainerInstanceArn: "arn:ci"})
	send(t, c, payload.HeartbeatMessage{MessageID: "hb-1"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Frames are handled in order, so the heartbeat ack comes after any payload ack.
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		fr, _ := payload.DecodeFrame(data)
		if fr.Type == payload.TypeAckRequest {
			t.Fatal("a payload that was not applied was acknowledged")
		}
		if fr.Type == payload.TypeHeartbeatAckRequest {
			return
		}
	}
}

func TestReconnectAfterDrop(t *testing.T) {
	f, srv := newFakeACS(t)
	startSession(t, srv, &fakeApplier{}, "arn:ci")
	<-f.reqs
	c := <-f.conns
	c.CloseNow()
	r := <-f.reqs
	<-f.conns
	if got := r.URL.Query().Get("sendCredentials"); got != "false" {
		t.Errorf("second connection sendCredentials=%q, want false", got)
	}
}

func TestInactiveInstanceWaits(t *testing.T) {
	_, srv := newFakeACS(t)
	s, err := New(Options{
		Config: wssession.Config{
			Endpoint:             func(context.Context) (string, error) { return srv.URL, nil },
			ContainerInstanceARN: "arn:inactive",
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, nil
			}),
			Logger: testr.New(t),
		},
		Applier: &fakeApplier{},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.engine.Once(context.Background())
	if !isInactive(err) {
		t.Fatalf("serveOnce = %v, want InactiveInstanceException", err)
	}
}

var testBackoff = ecsapiBackoff()

func TestAttachmentMessages(t *testing.T) {
	f, srv := newFakeACS(t)
	a := &fakeApplier{}
	startSession(t, srv, a, "arn:ci")
	c := <-f.conns
	eni := payload.ElasticNetworkInterface{AttachmentArn: "arn:aws:ecs:r:1:attachment/att-1", MacAddress: "02:00:00:00:00:01"}
	const task = "arn:aws:ecs:r:1:task/c/t1"

	// Invalid (no ENI): dropped without an ack, as the reference agent does. Frames are
	// handled in order, so the next ack read is the valid message's.
	send(t, c, payload.AttachTaskNetworkInterfacesMessage{MessageID: "bad", ClusterArn: "prod", ContainerInstanceArn: "arn:ci", TaskArn: task})
	send(t, c, payload.AttachTaskNetworkInterfacesMessage{MessageID: "eni-1", ClusterArn: "prod", ContainerInstanceArn: "arn:ci",
		TaskArn: task, WaitTimeoutMs: 1000, ElasticNetworkInterfaces: []payload.ElasticNetworkInterface{eni}})
	var ack payload.AckRequest
	if err := json.Unmarshal(expect(t, c, payload.TypeAckRequest), &ack); err != nil || ack.MessageID != "eni-1" || ack.Cluster != "prod" || ack.ContainerInstance != "arn:ci" {
		t.Errorf("task ENI ack %+v (%v)", ack, err)
	}
	send(t, c, payload.AttachInstanceNetworkInterfacesMessage{MessageID: "eni-2", ClusterArn: "prod", ContainerInstanceArn: "arn:ci",
		ElasticNetworkInterfaces: []payload.ElasticNetworkInterface{eni}})
	if err := json.Unmarshal(expect(t, c, payload.TypeAckRequest), &ack); err != nil || ack.MessageID != "eni-2" {
		t.Errorf("instance ENI ack %+v (%v)", ack, err)
	}
	// EBS: acknowledged, not acted on.
	send(t, c, payload.ConfirmAttachmentMessage{MessageID: "ebs-1", ClusterArn: "prod", ContainerInstanceArn: "arn:ci"})
	if err := json.Unmarshal(expect(t, c, payload.TypeAckRequest), &ack); err != nil || ack.MessageID != "ebs-1" {
		t.Errorf("confirm attachment ack %+v (%v)", ack, err)
	}
	a.mu.Lock()
	got := strings.Join(a.enis, ",")
	a.mu.Unlock()
	if want := task + ":" + eni.AttachmentArn + ",:" + eni.AttachmentArn; got != want {
		t.Errorf("ENIs applied %q, want %q", got, want)
	}
}

func TestAttachmentNotAppliedIsNotAcked(t *testing.T) {
	f, srv := newFakeACS(t)
	startSession(t, srv, &fakeApplier{fail: true}, "arn:ci")
	c := <-f.conns
	send(t, c, payload.AttachInstanceNetworkInterfacesMessage{MessageID: "eni-1", ClusterArn: "prod", ContainerInstanceArn: "arn:ci",
		ElasticNetworkInterfaces: []payload.ElasticNetworkInterface{{AttachmentArn: "arn:aws:ecs:r:1:attachment/a", MacAddress: "02:00:00:00:00:01"}}})
	send(t, c, payload.HeartbeatMessage{MessageID: "hb-1"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		fr, _ := payload.DecodeFrame(data)
		if fr.Type == payload.TypeAckRequest {
			t.Fatal("an attachment that was not recorded was acknowledged")
		}
		if fr.Type == payload.TypeHeartbeatAckRequest {
			return
		}
	}
}

// TestSequenceAcrossPayloadsAndManifests: payload seqNums and manifest timelines are one
// sequence. A manifest not above the latest payload or manifest applied is discarded:
// not acknowledged, no stop candidates, so nothing can be stopped because of it; a
// payload that was not applied does not count; only the answer to the latest accepted
// manifest stops tasks.
func TestSequenceAcrossPayloadsAndManifests(t *testing.T) {
	f, srv := newFakeACS(t)
	a := &fakeApplier{failIDs: map[string]bool{"pm-9": true}}
	startSession(t, srv, a, "arn:ci")
	c := <-f.conns
	pm := func(id string, seq int64) payload.PayloadMessage {
		return payload.PayloadMessage{MessageID: id, ClusterArn: "prod", ContainerInstanceArn: "arn:ci", SeqNum: seq,
			Tasks: []payload.Task{{Arn: "arn:aws:ecs:r:1:task/c/" + id}}}
	}
	mf := func(id string, timeline int64) payload.TaskManifestMessage {
		return payload.TaskManifestMessage{MessageID: id, ClusterArn: "prod", ContainerInstanceArn: "arn:ci", Timeline: timeline}
	}
	for _, m := range []payload.Message{
		pm("pm-3", 3),
		mf("mf-2", 2), // made before pm-3
		mf("mf-3", 3), // not above it either
		mf("mf-4", 4),
		pm("pm-6", 6),
		mf("mf-5", 5), // made before pm-6, arriving after it
		payload.TaskStopVerificationAck{MessageID: "mf-4", StopTasks: []payload.TaskIdentifier{{TaskArn: "arn:aws:ecs:r:1:task/c/orphan-mf-4"}}},
		pm("pm-9", 9), // not applied: does not move the sequence
		mf("mf-7", 7),
		payload.TaskStopVerificationAck{MessageID: "mf-5", StopTasks: []payload.TaskIdentifier{{TaskArn: "arn:aws:ecs:r:1:task/c/x"}}},
		payload.TaskStopVerificationAck{MessageID: "mf-4", StopTasks: []payload.TaskIdentifier{{TaskArn: "arn:aws:ecs:r:1:task/c/y"}}},
		payload.HeartbeatMessage{Healthy: true, MessageID: "hb-end"},
	} {
		send(t, c, m)
	}
	var got []string
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("reading the agent's answers: %v (so far %v)", err, got)
		}
		fr, err := payload.DecodeFrame(data)
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			MessageID string `json:"messageId"`
		}
		_ = json.Unmarshal(fr.Message, &m)
		if fr.Type == payload.TypeIAMRoleCredentialsAckRequest {
			continue
		}
		got = append(got, fr.Type+" "+m.MessageID)
		if fr.Type == payload.TypeHeartbeatAckRequest {
			break
		}
	}
	want := []string{
		"AckRequest pm-3",
		"AckRequest mf-4", "TaskStopVerificationMessage mf-4",
		"AckRequest pm-6",
		"AckRequest mf-7", "TaskStopVerificationMessage mf-7",
		"HeartbeatAckRequest hb-end",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the agent answered\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if strings.Join(a.manifests, ",") != "mf-4,mf-7" {
		t.Errorf("manifests acted on %v, want [mf-4 mf-7]", a.manifests)
	}
	if strings.Join(a.stopped, ",") != "arn:aws:ecs:r:1:task/c/orphan-mf-4" {
		t.Errorf("stopped %v, want only mf-4's verified candidate", a.stopped)
	}
	if a.seen != 7 {
		t.Errorf("latest sequence number %d, want 7", a.seen)
	}
}

// laterUpdater keeps each update message's reply for the test to answer whenever it
// likes, as the real updater answers a StageUpdate once its download is done.
type laterUpdater struct {
	replies chan func(context.Context, payload.Message) error
	ids     chan string
}

func (u *laterUpdater) StageUpdate(_ context.Context, m *payload.StageUpdateMessage, reply func(context.Context, payload.Message) error) {
	u.ids <- m.MessageID
	u.replies <- reply
}

func (u *laterUpdater) PerformUpdate(_ context.Context, m *payload.PerformUpdateMessage, reply func(context.Context, payload.Message) error) {
	u.ids <- m.MessageID
	u.replies <- reply
}

// TestUpdateMessages: without an Updater both update messages are refused with the
// reference's reason; with one, the messages reach it and an answer given after the
// connection changed goes out on the new connection.
func TestUpdateMessages(t *testing.T) {
	f, srv := newFakeACS(t)
	startSession(t, srv, &fakeApplier{}, "arn:ci")
	c := <-f.conns
	for _, m := range []payload.Message{
		payload.StageUpdateMessage{MessageID: "su-1", ClusterArn: "prod", ContainerInstanceArn: "arn:ci",
			UpdateInfo: &payload.UpdateInfo{Location: "https://example.invalid/u", Signature: strings.Repeat("a", 64)}},
		payload.PerformUpdateMessage{MessageID: "pu-1", ClusterArn: "prod", ContainerInstanceArn: "arn:ci"},
	} {
		send(t, c, m)
		var nack payload.NackRequest
		if err := json.Unmarshal(expect(t, c, payload.TypeNackRequest), &nack); err != nil || nack.Reason != "Updates are disabled" ||
			nack.Cluster != "prod" || nack.ContainerInstance != "arn:ci" {
			t.Errorf("%s: nack %+v (%v)", m.MessageType(), nack, err)
		}
	}

	f2, srv2 := newFakeACS(t)
	u := &laterUpdater{replies: make(chan func(context.Context, payload.Message) error, 4), ids: make(chan string, 4)}
	startSessionWith(t, srv2, &fakeApplier{}, "arn:ci", u)
	c = <-f2.conns
	send(t, c, payload.StageUpdateMessage{MessageID: "su-2"})
	if id := <-u.ids; id != "su-2" {
		t.Fatalf("updater got %q", id)
	}
	reply := <-u.replies
	// The connection drops while the update downloads; the answer goes to the next one.
	c.CloseNow()
	c = <-f2.conns
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- reply(ctx, payload.AckRequest{MessageID: "su-2"}) }()
	var ack payload.AckRequest
	if err := json.Unmarshal(expect(t, c, payload.TypeAckRequest), &ack); err != nil || ack.MessageID != "su-2" {
		t.Errorf("ack %+v (%v)", ack, err)
	}
	if err := <-done; err != nil {
		t.Errorf("reply = %v once written", err)
	}
}
