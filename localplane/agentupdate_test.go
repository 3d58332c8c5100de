package localplane

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ecsd/ecsd/controlplane/payload"
	"github.com/ecsd/ecsd/internal/testutil"
)

// callErr makes a raw signed ECS API call that must fail and returns the exception name
// and message.
func (p *plane) callErr(t *testing.T, op, body string) (code, msg string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.http.URL, strings.NewReader(body))
	req.Header.Set("X-Amz-Target", targetPrefix+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(signed(t, req, []byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if resp.StatusCode == http.StatusOK || json.Unmarshal(data, &e) != nil {
		t.Fatalf("%s: HTTP %d %s, want an error", op, resp.StatusCode, data)
	}
	return e.Type, e.Message
}

// describeUpdate returns the instance's agentUpdateStatus and agentUpdateReason.
func (p *plane) describeUpdate(t *testing.T, cluster, instance string) (status, reason string) {
	t.Helper()
	var out struct {
		ContainerInstances []struct {
			AgentUpdateStatus string `json:"agentUpdateStatus"`
			AgentUpdateReason string `json:"agentUpdateReason"`
		} `json:"containerInstances"`
	}
	p.call(t, "DescribeContainerInstances", `{"cluster":"`+cluster+`","containerInstances":["`+instance+`"]}`, &out)
	if len(out.ContainerInstances) != 1 {
		t.Fatalf("DescribeContainerInstances: %+v", out)
	}
	return out.ContainerInstances[0].AgentUpdateStatus, out.ContainerInstances[0].AgentUpdateReason
}

func updateBody(instance, location, signature string) string {
	b, _ := json.Marshal(map[string]any{"cluster": "prod", "containerInstance": instance,
		"updateInfo": map[string]string{"location": location, "signature": signature}})
	return string(b)
}

// TestUpdateContainerAgent: ECS's statuses through the two ACS messages and the agent's
// answers: a refused stage FAILS with the agent's reason; an accepted one is performed
// and becomes UPDATED when the agent comes back; and the API's refusals.
func TestUpdateContainerAgent(t *testing.T) {
	p := newPlane(t, Options{})
	instance := p.setup(t, "prod")
	sig := strings.Repeat("ab", 32)
	loc := "http://127.0.0.1:1/update.tar.gz"

	// Before the agent ever connected, ECS knows no agent version.
	if code, _ := p.callErr(t, "UpdateContainerAgent", updateBody(instance, loc, sig)); code != "MissingVersionException" {
		t.Fatalf("no version: %s", code)
	}
	a := p.connect(t, "prod", instance, false)
	for _, tc := range []struct{ body, code string }{
		{`{"cluster":"prod","containerInstance":"` + instance + `"}`, "NoUpdateAvailableException"},
		{updateBody(instance, loc, "abc"), "InvalidParameterException"},
		{updateBody(instance, "file:///etc/passwd", sig), "InvalidParameterException"},
		{updateBody("nope", loc, sig), "InvalidParameterException"},
		{`{"cluster":"nope","containerInstance":"` + instance + `"}`, "ClusterNotFoundException"},
	} {
		if code, msg := p.callErr(t, "UpdateContainerAgent", tc.body); code != tc.code {
			t.Errorf("UpdateContainerAgent %s: %s %q, want %s", tc.body, code, msg, tc.code)
		}
	}

	// Refused by the agent.
	var resp struct {
		ContainerInstance struct {
			AgentUpdateStatus string `json:"agentUpdateStatus"`
		} `json:"containerInstance"`
	}
	p.call(t, "UpdateContainerAgent", updateBody(instance, loc, sig), &resp)
	if resp.ContainerInstance.AgentUpdateStatus != updatePending {
		t.Fatalf("status after the request: %q", resp.ContainerInstance.AgentUpdateStatus)
	}
	if code, _ := p.callErr(t, "UpdateContainerAgent", updateBody(instance, loc, sig)); code != "UpdateInProgressException" {
		t.Fatalf("second request: %s, want UpdateInProgressException", code)
	}
	su := a.next(payload.TypeStageUpdateMessage).(*payload.StageUpdateMessage)
	if su.UpdateInfo == nil || su.UpdateInfo.Location != loc || su.UpdateInfo.Signature != sig || su.ContainerInstanceArn != instance ||
		su.ClusterArn != "arn:aws:ecs:local:000000000000:cluster/prod" || su.MessageID == "" {
		t.Fatalf("StageUpdateMessage %+v", su)
	}
	if st, _ := p.describeUpdate(t, "prod", instance); st != updateStaging {
		t.Fatalf("status after StageUpdate was sent: %s", st)
	}
	a.send(&payload.NackRequest{MessageID: su.MessageID, Reason: "Updates are disabled"})
	waitUpdate(t, p, instance, updateFailed, "Updates are disabled")

	// Accepted: staged, performed, and UPDATED once the agent is back at a new version.
	p.call(t, "UpdateContainerAgent", updateBody(instance, loc, strings.ToUpper(sig)), &resp)
	su = a.next(payload.TypeStageUpdateMessage).(*payload.StageUpdateMessage)
	a.send(&payload.AckRequest{MessageID: su.MessageID})
	pu := a.next(payload.TypePerformUpdateMessage).(*payload.PerformUpdateMessage)
	if pu.UpdateInfo == nil || pu.UpdateInfo.Signature != sig || pu.MessageID == su.MessageID {
		t.Fatalf("PerformUpdateMessage %+v", pu)
	}
	waitUpdate(t, p, instance, updateUpdating, "")
	a.send(&payload.AckRequest{MessageID: pu.MessageID})
	waitAcked(t, p, instance)
	p.DropSessions()
	a2 := p.connect(t, "prod", instance, false)
	waitUpdate(t, p, instance, updateUpdated, "")

	// A session lost while staging sends the update again on the next one.
	p.call(t, "UpdateContainerAgent", updateBody(instance, loc, sig), &resp)
	first := a2.next(payload.TypeStageUpdateMessage).(*payload.StageUpdateMessage)
	p.DropSessions()
	a3 := p.connect(t, "prod", instance, false)
	again := a3.next(payload.TypeStageUpdateMessage).(*payload.StageUpdateMessage)
	if again.MessageID == first.MessageID {
		t.Fatal("the update was re-sent under the same message ID")
	}
	// The answer to the lost message changes nothing.
	a3.send(&payload.NackRequest{MessageID: first.MessageID, Reason: "late"})
	a3.send(&payload.AckRequest{MessageID: again.MessageID})
	a3.next(payload.TypePerformUpdateMessage)
	waitUpdate(t, p, instance, updateUpdating, "")

	// The status is part of the instance as the SDK sees it.
	out, err := p.ecs.DescribeContainerInstances(context.Background(), &ecs.DescribeContainerInstancesInput{
		Cluster: aws.String("prod"), ContainerInstances: []string{instance}})
	if err != nil || len(out.ContainerInstances) != 1 || out.ContainerInstances[0].AgentUpdateStatus != "UPDATING" {
		t.Fatalf("SDK DescribeContainerInstances: %+v, %v", out, err)
	}
}

func waitUpdate(t *testing.T, p *plane, instance, status, reason string) {
	t.Helper()
	testutil.Eventually(t, "agent update "+status, func() bool {
		st, r := p.describeUpdate(t, "prod", instance)
		return st == status && r == reason
	})
}

func waitAcked(t *testing.T, p *plane, instance string) {
	t.Helper()
	testutil.Eventually(t, "PerformUpdate acknowledged", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.st.Instances[instance].AgentUpdate.PerformAcked
	})
}
