package acs

import (
	"context"
	"slices"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/controlplane/payload"
)

const attachmentARN = "arn:aws:ecs:us-west-2:111122223333:attachment/9e0c1d2e-aaaa-bbbb-cccc-000000000001"

func testENI() payload.ElasticNetworkInterface {
	return payload.ElasticNetworkInterface{
		AttachmentArn: attachmentARN, EC2ID: "eni-0123456789abcdef0", MacAddress: "02:11:22:33:44:55",
		InterfaceAssociationProtocol: "default",
		IPv4Addresses:                []payload.IPv4AddressAssignment{{Primary: true, PrivateAddress: "10.199.0.4"}},
		SubnetGatewayIPv4Address:     "10.199.0.1/24", DomainNameServers: []string{"10.199.0.1"},
		DomainName: []string{"us-west-2.compute.internal"}, PrivateDNSName: "ip-10-199-0-4.us-west-2.compute.internal",
	}
}

func awsvpcTask() payload.Task {
	t := payloadTask("RUNNING")
	t.NetworkMode = "awsvpc"
	t.ElasticNetworkInterfaces = []payload.ElasticNetworkInterface{testENI()}
	return t
}

func getAttachment(t *testing.T, a *StoreApplier, name string) *api.Attachment {
	t.Helper()
	att := &api.Attachment{}
	if err := a.Store.DirectClient().Get(context.Background(), client.ObjectKey{Namespace: api.Namespace, Name: name}, att); err != nil {
		t.Fatalf("get attachment %s: %v", name, err)
	}
	return att
}

func TestPayloadWritesENIAttachments(t *testing.T) {
	ctx := context.Background()
	a := newApplier(t)
	if err := a.ApplyPayload(ctx, msg("m1", awsvpcTask())); err != nil {
		t.Fatal(err)
	}
	task := getTask(t, a, "0123456789abcdef")
	const name = "9e0c1d2e-aaaa-bbbb-cccc-000000000001"
	if !slices.Equal(task.Spec.ENIs, []string{name}) {
		t.Fatalf("task ENIs %v", task.Spec.ENIs)
	}
	att := getAttachment(t, a, name)
	s := att.Spec
	if s.AttachmentARN != attachmentARN || s.TaskARN != taskARN || s.MACAddress != "02:11:22:33:44:55" ||
		!slices.Equal(s.IPv4Addresses, []string{"10.199.0.4"}) || s.SubnetGatewayIPv4 != "10.199.0.1/24" ||
		s.PrivateDNSName != "ip-10-199-0-4.us-west-2.compute.internal" || s.ExpiresAt != nil ||
		att.Labels[api.LabelTaskName] != "0123456789abcdef" {
		t.Fatalf("attachment %+v labels %v", s, att.Labels)
	}

	// A controller confirms it; a resent payload neither rewrites the Spec nor the Status.
	att.Status.Status = "ATTACHED"
	att.Status.InterfaceName = "eth1"
	if err := a.Store.DirectClient().Status().Update(ctx, att); err != nil {
		t.Fatal(err)
	}
	rv := getAttachment(t, a, name).ResourceVersion
	if err := a.ApplyPayload(ctx, msg("m1", awsvpcTask())); err != nil {
		t.Fatal(err)
	}
	got := getAttachment(t, a, name)
	if got.ResourceVersion != rv || got.Status.Status != "ATTACHED" || got.Status.InterfaceName != "eth1" {
		t.Fatalf("resent payload changed the attachment: rv %s → %s, status %+v", rv, got.ResourceVersion, got.Status)
	}

	// The same ENI listed by two tasks of one payload is written once (a second copy would
	// fail the whole write, and the payload would never be acknowledged).
	other := awsvpcTask()
	other.Arn = "arn:aws:ecs:us-west-2:111122223333:task/prod/ffff"
	third := awsvpcTask()
	third.Arn = "arn:aws:ecs:us-west-2:111122223333:task/prod/eeee"
	third.ElasticNetworkInterfaces[0].AttachmentArn = "arn:aws:ecs:us-west-2:111122223333:attachment/att-3"
	if err := a.ApplyPayload(ctx, msg("m2", other, third, other)); err != nil {
		t.Fatal(err)
	}
	if getTask(t, a, "ffff").Spec.ENIs[0] != name || getAttachment(t, a, "att-3").Spec.TaskARN != third.Arn {
		t.Fatal("tasks of the second payload not written with their attachments")
	}
}

func TestRejectedTaskGetsNoAttachment(t *testing.T) {
	ctx := context.Background()
	a := newApplier(t)
	bad := awsvpcTask()
	bad.Containers[0].Name = ""
	if err := a.ApplyPayload(ctx, msg("m1", bad)); err != nil {
		t.Fatal(err)
	}
	var list api.AttachmentList
	if err := a.Store.DirectClient().List(ctx, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 0 {
		t.Fatalf("a rejected task's ENI was recorded: %+v", list.Items)
	}
}

func TestApplyENIAttachmentsKeepsFirstDeadline(t *testing.T) {
	ctx := context.Background()
	a := newApplier(t)
	deadline := time.Unix(1782900300, 0)
	if err := a.ApplyENIAttachments(ctx, taskARN, []payload.ElasticNetworkInterface{testENI()}, deadline); err != nil {
		t.Fatal(err)
	}
	const name = "9e0c1d2e-aaaa-bbbb-cccc-000000000001"
	att := getAttachment(t, a, name)
	if att.Spec.ExpiresAt == nil || !att.Spec.ExpiresAt.Time.Equal(deadline) || att.Spec.TaskARN != taskARN ||
		att.Labels[api.LabelTaskARN] != taskARN {
		t.Fatalf("attachment %+v labels %v", att.Spec, att.Labels)
	}
	rv := att.ResourceVersion

	// Resent with a later deadline: nothing changes.
	if err := a.ApplyENIAttachments(ctx, taskARN, []payload.ElasticNetworkInterface{testENI()}, deadline.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := getAttachment(t, a, name); got.ResourceVersion != rv {
		t.Fatalf("a resent attach message rewrote the attachment (deadline %v)", got.Spec.ExpiresAt)
	}

	// The task's payload then arrives: the task is created, the attachment keeps its
	// deadline and takes the payload's fuller description.
	task := awsvpcTask()
	task.ElasticNetworkInterfaces[0].DomainName = []string{"example.internal"}
	if err := a.ApplyPayload(ctx, msg("m1", task)); err != nil {
		t.Fatal(err)
	}
	got := getAttachment(t, a, name)
	if got.Spec.ExpiresAt == nil || !got.Spec.ExpiresAt.Time.Equal(deadline) || !slices.Equal(got.Spec.DomainName, []string{"example.internal"}) {
		t.Fatalf("attachment after the payload %+v", got.Spec)
	}
	if getTask(t, a, "0123456789abcdef").Spec.ENIs[0] != name {
		t.Fatal("task not written")
	}

	// An instance ENI has no task.
	inst := testENI()
	inst.AttachmentArn = "arn:aws:ecs:us-west-2:111122223333:attachment/trunk"
	if err := a.ApplyENIAttachments(ctx, "", []payload.ElasticNetworkInterface{inst, inst}, deadline); err != nil {
		t.Fatal(err)
	}
	if got := getAttachment(t, a, "trunk"); got.Spec.TaskARN != "" || len(got.Labels) != 0 {
		t.Fatalf("instance attachment %+v labels %v", got.Spec, got.Labels)
	}
}
