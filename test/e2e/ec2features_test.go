package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsd/ecsd/internal/testenv"
)

// The EC2-side features of issue 18 through the agent binary: Spot draining, the warm pool
// wait, EC2 instance tags and ECS Anywhere's rotating credentials. IMDS is an emulator on
// loopback (never 169.254.169.254), EC2 is moto, ECS is the test backend.

const (
	ec2InstanceID = "i-0ec2fea7e00000001"
	spotPath      = "spot/instance-action"
	lifecyclePath = "autoscaling/target-lifecycle-state"
)

// ec2Metadata is an IMDSv2 emulator whose metadata paths the test sets and counts.
type ec2Metadata struct {
	url     string
	mu      sync.Mutex
	answers map[string]imdsAnswer
	hits    map[string]int
}

type imdsAnswer struct {
	status int
	body   string
}

func newEC2Metadata(t *testing.T) *ec2Metadata {
	t.Helper()
	m := &ec2Metadata{answers: map[string]imdsAnswer{}, hits: map[string]int{}}
	doc := `{"region":"` + backendRegion + `","instanceId":"` + ec2InstanceID + `","availabilityZone":"` + backendRegion +
		`b","accountId":"000000000000","instanceType":"m5.large"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
			w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "21600")
			_, _ = w.Write([]byte("emulated-token"))
			return
		}
		if r.Header.Get("X-Aws-Ec2-Metadata-Token") != "emulated-token" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/latest/dynamic/instance-identity/document":
			_, _ = w.Write([]byte(doc))
			return
		case "/latest/dynamic/instance-identity/signature":
			_, _ = w.Write([]byte("emulated-signature"))
			return
		}
		path := strings.TrimPrefix(r.URL.Path, "/latest/meta-data/")
		m.mu.Lock()
		m.hits[path]++
		a, ok := m.answers[path]
		m.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	}))
	t.Cleanup(srv.Close)
	m.url = srv.URL
	return m
}

// set makes path answer status with body (status 0 removes the answer: 404).
func (m *ec2Metadata) set(path string, status int, body string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if status == 0 {
		delete(m.answers, path)
		return
	}
	m.answers[path] = imdsAnswer{status: status, body: body}
}

// count is how many times path was read.
func (m *ec2Metadata) count(path string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits[path]
}

// waitLifecycleReads waits until the lifecycle state has been read at least n times.
func (m *ec2Metadata) waitLifecycleReads(t *testing.T, h *agentHost, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for m.count(lifecyclePath) < n {
		if time.Now().After(deadline) {
			t.Fatalf("IMDS %s read %d times, want %d; agent log:\n%s", lifecyclePath, m.count(lifecyclePath), n, h.agentLog())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ec2Agent is an agent host on "EC2": the test backend as ECS, the emulator as IMDS.
func ec2Agent(t *testing.T, b *backend, md *ec2Metadata, env ...string) *agentHost {
	t.Helper()
	h := newAgentHost(t)
	h.args = []string{}
	h.env = append(h.env, b.agentEnv()...)
	h.env = append(h.env, "AWS_EC2_METADATA_DISABLED=false", "AWS_EC2_METADATA_SERVICE_ENDPOINT="+md.url)
	h.env = append(h.env, env...)
	return h
}

// waitExit waits for the agent to exit by itself and returns its exit status.
func (h *agentHost) waitExit(timeout time.Duration) int {
	h.t.Helper()
	done := make(chan error, 1)
	cmd := h.cmd
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		h.log.Close()
		h.cmd = nil
		return exitCodeOf(err)
	case <-time.After(timeout):
		h.t.Fatalf("the agent did not exit within %s; log:\n%s", timeout, h.agentLog())
		return -1
	}
}

// waitInstanceStatus waits until the test cluster's one instance has status.
func (b *backend) waitInstanceStatus(h *agentHost, status string) types.ContainerInstance {
	b.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ci := b.instances()
		if len(ci) == 1 && aws.ToString(ci[0].Status) == status {
			return ci[0]
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("the container instance never became %s; agent log:\n%s", status, h.agentLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// activate sets a container instance ACTIVE, as an operator would after a drain.
func (b *backend) activate(arn string) {
	b.t.Helper()
	_, err := b.ecs.UpdateContainerInstancesState(context.Background(), &ecs.UpdateContainerInstancesStateInput{
		Cluster: aws.String(b.cluster), ContainerInstances: []string{arn}, Status: types.ContainerInstanceStatusActive})
	if err != nil {
		b.t.Fatalf("UpdateContainerInstancesState: %v", err)
	}
}

// logCount is how many times s appears in the agent's log.
func (h *agentHost) logCount(s string) int {
	data, _ := os.ReadFile(filepath.Join(h.dir, "agent.log"))
	return strings.Count(string(data), s)
}

// TestSpotInstanceDraining: with ECS_ENABLE_SPOT_INSTANCE_DRAINING the agent polls
// spot/instance-action; IMDS failing and a notice with an unknown action change nothing
// (each logged once), and a real notice sets the container instance DRAINING once (a drain
// that fails because ECS is unreachable is retried until it succeeds): its task keeps running, and after an operator sets it ACTIVE again the agent leaves it so
// (it stopped polling) and tasks are placed on it again.
func TestSpotInstanceDraining(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	md := newEC2Metadata(t)
	md.set(spotPath, http.StatusInternalServerError, "IMDS is unwell")
	h := ec2Agent(t, b, md, "ECS_ENABLE_SPOT_INSTANCE_DRAINING=true")
	h.start()
	ci := b.waitConnected(h)
	arn := aws.ToString(ci.ContainerInstanceArn)

	h.waitLog("cannot read the Spot instance action; polling on")
	md.set(spotPath, 0, "")
	h.waitLog("the instance metadata service answers again")
	md.set(spotPath, http.StatusOK, `{"action":"reboot","time":"2026-12-07T10:00:00Z"}`)
	h.waitLog("ignoring the Spot instance action")
	if got := aws.ToString(b.instances()[0].Status); got != "ACTIVE" {
		t.Fatalf("instance %s before any usable notice, want ACTIVE", got)
	}
	if n := h.logCount("cannot read the Spot instance action"); n != 1 {
		t.Errorf("the failing IMDS was logged %d times, want once", n)
	}

	def := b.sleeperDef(testenv.UniqueName(t, "spot"), 0)
	running := b.runTask(def, 1)
	b.waitTasks("task RUNNING", time.Minute, running, lastStatus("RUNNING"))

	// The notice arrives while ECS cannot be reached: the drain fails and is retried.
	addr := b.addr
	b.down()
	md.set(spotPath, http.StatusOK, `{"action":"terminate","time":"2026-12-07T10:02:00Z"}`)
	h.waitLog("cannot set the container instance DRAINING; trying again")
	b.up(addr)
	b.waitInstanceStatus(h, "DRAINING")
	h.waitLog("container instance set to DRAINING for the Spot interruption")
	polls := md.count(spotPath)
	b.waitTasks("task still RUNNING on the draining instance", time.Minute, running, lastStatus("RUNNING"))

	// Once: set ACTIVE again, run and stop a task (seconds of polling intervals), and the
	// agent neither read the notice again nor drained again.
	b.activate(arn)
	// The plane was down a moment ago: its ACS session may still be coming back, and ECS
	// places tasks only on an instance whose agent is connected.
	b.waitConnected(h)
	more := b.runTask(def, 1)
	b.waitTasks("a new task RUNNING after reactivation", time.Minute, more, lastStatus("RUNNING"))
	for _, task := range append(running, more...) {
		b.stopTask(task)
	}
	b.waitTasks("tasks STOPPED", time.Minute, append(running, more...), lastStatus("STOPPED"))
	if got := aws.ToString(b.instances()[0].Status); got != "ACTIVE" {
		t.Errorf("instance %s after reactivation, want ACTIVE (drained once only)", got)
	}
	if n := md.count(spotPath); n != polls {
		t.Errorf("spot/instance-action read %d times after the drain, want none", n-polls)
	}
	if n := h.logCount("container instance set to DRAINING"); n != 1 {
		t.Errorf("drained %d times, want once", n)
	}
}

// TestWarmPoolWaitsForInService: with ECS_WARM_POOLS_CHECK the agent does not register
// while the lifecycle state is absent or Warmed:*, and registers once it is InService.
func TestWarmPoolWaitsForInService(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	md := newEC2Metadata(t)
	h := ec2Agent(t, b, md, "ECS_WARM_POOLS_CHECK=true", "ECSD_WARM_POOLS_POLL_INTERVAL=200ms")
	h.start()
	md.waitLifecycleReads(t, h, 3)
	md.set(lifecyclePath, http.StatusOK, "Warmed:Running")
	h.waitLog("the instance is in a warm pool; not registering until it is InService")
	md.waitLifecycleReads(t, h, md.count(lifecyclePath)+3)
	if ci := b.instances(); len(ci) != 0 {
		t.Fatalf("a warmed instance registered: %d instances", len(ci))
	}
	md.set(lifecyclePath, http.StatusOK, "InService")
	b.waitConnected(h)
	h.waitLog("the instance is InService; registering")
}

// TestWarmPoolIMDSErrorsAreTerminal: an IMDS that fails on the lifecycle state (after the
// reference's five attempts) stops the agent with the terminal status, unregistered.
func TestWarmPoolIMDSErrorsAreTerminal(t *testing.T) {
	t.Parallel()
	b := newBackend(t)
	md := newEC2Metadata(t)
	md.set(lifecyclePath, http.StatusForbidden, "denied")
	h := ec2Agent(t, b, md, "ECS_WARM_POOLS_CHECK=true", "ECSD_WARM_POOLS_POLL_INTERVAL=200ms")
	h.start()
	if code := h.waitExit(3 * time.Minute); code != 5 {
		t.Fatalf("exit status %d, want 5 (terminal); log:\n%s", code, h.agentLog())
	}
	if !strings.Contains(h.agentLog(), "ECS_WARM_POOLS_CHECK: cannot determine the instance's target lifecycle state") {
		t.Errorf("the exit does not say why; log:\n%s", h.agentLog())
	}
	if n := md.count(lifecyclePath); n < 5 {
		t.Errorf("lifecycle state read %d times, want the 5 attempts", n)
	}
	if ci := b.instances(); len(ci) != 0 {
		t.Errorf("%d instances registered", len(ci))
	}
}

// motoCreateTags tags the test's EC2 instance in moto, in the backend's region (moto takes
// it from the signature scope, and does not check the signature).
func motoCreateTags(t *testing.T, moto string, tags map[string]string) {
	t.Helper()
	form := url.Values{"Action": {"CreateTags"}, "Version": {"2016-11-15"}, "ResourceId.1": {ec2InstanceID}}
	i := 1
	for k, v := range tags {
		form.Set(fmt.Sprintf("Tag.%d.Key", i), k)
		form.Set(fmt.Sprintf("Tag.%d.Value", i), v)
		i++
	}
	req, _ := http.NewRequest(http.MethodPost, moto+"/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/"+backendRegion+"/ec2/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		t.Fatalf("moto CreateTags: HTTP %d %s", resp.StatusCode, body)
	}
}

// TestInstanceTagsFromEC2: with ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM=ec2_instance
// the container instance registers with the EC2 instance's tags (DescribeTags on moto, for
// the instance ID of the identity document) under ECS_CONTAINER_INSTANCE_TAGS, which wins
// on a shared key; tags with an aws: key or value are left out.
func TestInstanceTagsFromEC2(t *testing.T) {
	t.Parallel()
	moto := testenv.Moto(t)
	motoCreateTags(t, moto, map[string]string{
		"team": "blue", "env": "prod", "owner": "ec2",
		"aws:autoscaling:groupName": "asg", "origin": "aws:cloudformation",
	})
	b := newBackend(t)
	md := newEC2Metadata(t)
	h := ec2Agent(t, b, md, "ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM=ec2_instance",
		`ECS_CONTAINER_INSTANCE_TAGS={"owner":"ops","rack":"r1"}`, "AWS_ENDPOINT_URL_EC2="+moto)
	h.start()
	ci := b.waitConnected(h)
	out, err := b.ecs.DescribeContainerInstances(context.Background(), &ecs.DescribeContainerInstancesInput{
		Cluster: aws.String(b.cluster), ContainerInstances: []string{aws.ToString(ci.ContainerInstanceArn)},
		Include: []types.ContainerInstanceField{types.ContainerInstanceFieldTags}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tag := range out.ContainerInstances[0].Tags {
		got[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	want := map[string]string{"team": "blue", "env": "prod", "owner": "ops", "rack": "r1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("container instance tags %v, want %v", got, want)
	}
}

// TestInstanceTagsDescribeTagsRefused: EC2 refusing DescribeTags (the instance role lacks
// ec2:DescribeTags) stops the agent with the terminal status before it registers, saying
// why; the refusal is not retried.
func TestInstanceTagsDescribeTagsRefused(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	ec2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>UnauthorizedOperation</Code>` +
			`<Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>r</RequestID></Response>`))
	}))
	t.Cleanup(ec2.Close)
	b := newBackend(t)
	md := newEC2Metadata(t)
	h := ec2Agent(t, b, md, "ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM=ec2_instance", "AWS_ENDPOINT_URL_EC2="+ec2.URL)
	h.start()
	if code := h.waitExit(2 * time.Minute); code != 5 {
		t.Fatalf("exit status %d, want 5 (terminal); log:\n%s", code, h.agentLog())
	}
	if log := h.agentLog(); !strings.Contains(log, "ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM=ec2_instance") || !strings.Contains(log, "UnauthorizedOperation") {
		t.Errorf("the exit does not say why; log:\n%s", log)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("DescribeTags called %d times, want 1 (a refusal is not retried)", n)
	}
	if ci := b.instances(); len(ci) != 0 {
		t.Errorf("%d instances registered", len(ci))
	}
}

// credentialsFile writes an ECS Anywhere style shared credentials file (renamed into
// place, as an atomic writer does) with profile ecsa.
func credentialsFile(t *testing.T, path, key, secret string) {
	t.Helper()
	tmp := path + ".tmp"
	body := "[default]\naws_access_key_id = AKIDUNUSEDDEFAULT\naws_secret_access_key = unused\n\n[ecsa]\naws_access_key_id = " +
		key + "\naws_secret_access_key = " + secret + "\n"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestCredentialRotation: an ECS Anywhere agent (ECS_EXTERNAL) signs with profile
// ECS_ALTERNATE_CREDENTIAL_PROFILE of the shared credentials file. A half-written file
// mid-run keeps the last keys (logged); then the keys rotate: the file gets new ones, ECS
// stops accepting the old ones and cuts the sessions, and the agent carries on with the
// new keys (it reconnects, places and reports tasks) without a restart.
func TestCredentialRotation(t *testing.T) {
	t.Parallel()
	const (
		oldKey, oldSecret = "AKIDROTATION00OLD", "old-secret"
		newKey, newSecret = "AKIDROTATION00NEW", "new-secret"
	)
	b := newBackend(t)
	// backendKey stays accepted: it is the test's own (the operator's), not the agent's.
	if err := b.srv.SetCredentials(map[string]string{backendKey: backendSecret, oldKey: oldSecret}); err != nil {
		t.Fatal(err)
	}
	h := newAgentHost(t)
	creds := filepath.Join(h.dir, "credentials")
	credentialsFile(t, creds, oldKey, oldSecret)
	h.args = []string{}
	for _, e := range b.agentEnv() {
		if !strings.HasPrefix(e, "AWS_ACCESS_KEY_ID=") && !strings.HasPrefix(e, "AWS_SECRET_ACCESS_KEY=") {
			h.env = append(h.env, e)
		}
	}
	h.env = append(h.env, "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=", "AWS_PROFILE=",
		"ECS_EXTERNAL=true", "AWS_SHARED_CREDENTIALS_FILE="+creds, "AWS_CONFIG_FILE="+filepath.Join(h.dir, "no-config"),
		"ECS_ALTERNATE_CREDENTIAL_PROFILE=ecsa")
	h.start()
	ci := b.waitConnected(h)
	h.waitLog("using the shared credentials file")
	attrs := map[string]string{}
	for _, a := range ci.Attributes {
		attrs[aws.ToString(a.Name)] = aws.ToString(a.Value)
	}
	if _, ok := attrs["ecs.capability.external"]; !ok {
		t.Fatalf("an ECS_EXTERNAL agent registered without ecs.capability.external: %v", attrs)
	}
	def := b.sleeperDef(testenv.UniqueName(t, "rot"), 0)
	run := func() []string {
		t.Helper()
		out, err := b.ecs.RunTask(context.Background(), &ecs.RunTaskInput{Cluster: aws.String(b.cluster),
			TaskDefinition: aws.String(def), LaunchType: types.LaunchTypeExternal})
		if err != nil || len(out.Tasks) != 1 {
			var reasons []string
			if out != nil {
				for _, f := range out.Failures {
					reasons = append(reasons, aws.ToString(f.Reason)+" "+aws.ToString(f.Detail))
				}
			}
			t.Fatalf("RunTask: %v %v; agent log:\n%s", err, reasons, h.agentLog())
		}
		return []string{aws.ToString(out.Tasks[0].TaskArn)}
	}
	first := run()
	b.waitTasks("first task RUNNING", time.Minute, first, lastStatus("RUNNING"))

	// The writer is half-way through: the agent keeps the keys it has, which still work.
	if err := os.WriteFile(creds, []byte("[ecsa]\naws_access_key_id = AKIDROTATION00NEW\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	second := run()
	b.waitTasks("second task RUNNING with the kept keys", time.Minute, second, lastStatus("RUNNING"))
	b.stopTask(second[0])
	b.waitTasks("second task STOPPED", time.Minute, second, lastStatus("STOPPED"))
	h.waitLog("keeping the credentials last read until the file is readable again")

	// Rotation: new keys in the file, the old ones refused from now on, sessions cut.
	credentialsFile(t, creds, newKey, newSecret)
	if err := b.srv.SetCredentials(map[string]string{backendKey: backendSecret, newKey: newSecret}); err != nil {
		t.Fatal(err)
	}
	connects := h.logCount(`msg="ACS session connected"`)
	b.srv.DropSessions()
	// A reconnect made before the agent looked at the file again is refused; the next
	// one signs with the new keys.
	deadline := time.Now().Add(2 * time.Minute)
	for h.logCount(`msg="ACS session connected"`) <= connects {
		if time.Now().After(deadline) {
			t.Fatalf("the agent never reconnected after the rotation; log:\n%s", h.agentLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.waitConnected(h)
	third := run()
	b.waitTasks("a task RUNNING after the rotation", 2*time.Minute, third, lastStatus("RUNNING"))
	b.stopTask(first[0])
	b.waitTasks("the first task STOPPED after the rotation", time.Minute, first, lastStatus("STOPPED"))
	h.waitLog("the shared credentials file changed: signing with the new keys")
	if log := h.agentLog(); strings.Contains(log, oldSecret) || strings.Contains(log, newSecret) {
		t.Error("a secret key reached the agent's log")
	}
}
