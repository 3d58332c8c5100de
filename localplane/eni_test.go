package localplane

import (
	"context"
	"errors"
	"maps"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ecsd/ecsd/controlplane/payload"
)

// registerAWSVPCTaskDef registers a one-container awsvpc definition of family "vpc".
func (p *plane) registerAWSVPCTaskDef(t *testing.T) string {
	t.Helper()
	out, err := p.ecs.RegisterTaskDefinition(context.Background(), &ecs.RegisterTaskDefinitionInput{
		Family:      aws.String("vpc"),
		NetworkMode: types.NetworkModeAwsvpc,
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("busybox"),
			Memory: aws.Int32(64), PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(80)}}}},
	})
	if err != nil {
		t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

func awsvpc(subnets ...string) *types.NetworkConfiguration {
	if subnets == nil {
		subnets = []string{} // sent, but empty: the SDK itself refuses a nil list
	}
	return &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
		Subnets: subnets, SecurityGroups: []string{"sg-0123"}}}
}

// runAWSVPCTask runs one task of def with an awsvpc configuration and returns it.
func (p *plane) runAWSVPCTask(t *testing.T, def string) types.Task {
	t.Helper()
	out, err := p.ecs.RunTask(context.Background(), &ecs.RunTaskInput{Cluster: aws.String("prod"),
		TaskDefinition: aws.String(def), NetworkConfiguration: awsvpc("subnet-0a")})
	if err != nil {
		t.Fatalf("RunTask: %v", err)
	}
	if len(out.Tasks) != 1 {
		t.Fatalf("RunTask placed %d tasks, failures %v", len(out.Tasks), failures(out.Failures))
	}
	return out.Tasks[0]
}

// eniOf returns a described task's ENI attachment status and details.
func eniOf(t *testing.T, task types.Task) (id, status string, details map[string]string) {
	t.Helper()
	if len(task.Attachments) != 1 {
		t.Fatalf("task %s has %d attachments, want its ENI", aws.ToString(task.TaskArn), len(task.Attachments))
	}
	a := task.Attachments[0]
	if aws.ToString(a.Type) != "ElasticNetworkInterface" {
		t.Fatalf("attachment type %q", aws.ToString(a.Type))
	}
	details = map[string]string{}
	for _, d := range a.Details {
		details[aws.ToString(d.Name)] = aws.ToString(d.Value)
	}
	return aws.ToString(a.Id), aws.ToString(a.Status), details
}

func TestAWSVPCRequiresNetworkConfiguration(t *testing.T) {
	p := newPlane(t, Options{})
	ctx := context.Background()
	instance := p.setup(t, "prod")
	p.connect(t, "prod", instance, false)
	vpcDef := p.registerAWSVPCTaskDef(t)
	bridgeDef := p.registerTaskDef(t, "web", 64, 0)

	for name, tc := range map[string]struct {
		def  string
		nc   *types.NetworkConfiguration
		want string
	}{
		"awsvpc without":   {vpcDef, nil, "Network Configuration must be provided when networkMode 'awsvpc' is specified."},
		"awsvpc, empty":    {vpcDef, &types.NetworkConfiguration{}, "Network Configuration must be provided"},
		"no subnets":       {vpcDef, awsvpc(), "subnets can not be empty."},
		"bridge with":      {bridgeDef, awsvpc("subnet-0a"), "Network Configuration is not valid for the given networkMode"},
		"public IP on EC2": {vpcDef, &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-0a"}, AssignPublicIp: types.AssignPublicIpEnabled}}, "Assign public IP is not supported"},
	} {
		_, err := p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String(tc.def), NetworkConfiguration: tc.nc})
		var ipe *types.InvalidParameterException
		if !errors.As(err, &ipe) || !strings.Contains(ipe.ErrorMessage(), tc.want) {
			t.Errorf("RunTask %s: %v, want InvalidParameterException %q", name, err, tc.want)
		}
		_, err = p.ecs.StartTask(ctx, &ecs.StartTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String(tc.def),
			ContainerInstances: []string{instance}, NetworkConfiguration: tc.nc})
		if !errors.As(err, &ipe) || !strings.Contains(ipe.ErrorMessage(), tc.want) {
			t.Errorf("StartTask %s: %v, want InvalidParameterException %q", name, err, tc.want)
		}
	}
	// StartTask takes the configuration too.
	out, err := p.ecs.StartTask(ctx, &ecs.StartTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String(vpcDef),
		ContainerInstances: []string{instance}, NetworkConfiguration: awsvpc("subnet-0b")})
	if err != nil || len(out.Tasks) != 1 {
		t.Fatalf("StartTask awsvpc: %v %v", out, err)
	}
	if _, _, d := eniOf(t, out.Tasks[0]); d["subnetId"] != "subnet-0b" {
		t.Fatalf("StartTask ENI details %v", d)
	}
}

func TestAWSVPCTaskENILifecycle(t *testing.T) {
	p := newPlane(t, Options{HeartbeatInterval: time.Hour, ManifestInterval: time.Hour})
	ctx := context.Background()
	instance := p.setup(t, "prod")
	a := p.connect(t, "prod", instance, false)
	def := p.registerAWSVPCTaskDef(t)

	run := p.runAWSVPCTask(t, def)
	task := aws.ToString(run.TaskArn)
	if _, status, _ := eniOf(t, run); status != "PRECREATED" {
		t.Fatalf("RunTask attachment status %q, want PRECREATED", status)
	}

	// The agent gets the ENI in the payload task, with the ACS member names.
	pm := a.payload()
	if len(pm.Tasks) != 1 || pm.Tasks[0].Arn != task || pm.Tasks[0].NetworkMode != "awsvpc" || len(pm.Tasks[0].ElasticNetworkInterfaces) != 1 {
		t.Fatalf("payload %+v", pm.Tasks)
	}
	eni := pm.Tasks[0].ElasticNetworkInterfaces[0]
	mac, err := net.ParseMAC(eni.MacAddress)
	if err != nil || mac[0] != 0x02 {
		t.Fatalf("MAC %q (%v), want a locally administered unicast address", eni.MacAddress, err)
	}
	if !regexp.MustCompile(`^arn:aws:ecs:local:000000000000:attachment/[0-9a-f-]{36}$`).MatchString(eni.AttachmentArn) ||
		!regexp.MustCompile(`^eni-[0-9a-f]{17}$`).MatchString(eni.EC2ID) ||
		!slices.Equal(eni.IPv4Addresses, []payload.IPv4AddressAssignment{{Primary: true, PrivateAddress: "10.199.0.4"}}) ||
		eni.SubnetGatewayIPv4Address != "10.199.0.1/24" || !slices.Equal(eni.DomainNameServers, []string{"10.199.0.1"}) ||
		!slices.Equal(eni.DomainName, []string{"local.compute.internal"}) ||
		eni.PrivateDNSName != "ip-10-199-0-4.local.compute.internal" || eni.InterfaceAssociationProtocol != "default" {
		t.Fatalf("payload ENI %+v", eni)
	}
	// The agent can load it.
	obj, _, err := payload.ToObjects(&pm.Tasks[0], pm.Options())
	if err != nil {
		t.Fatalf("the agent could not load the awsvpc task: %v", err)
	}
	if att, err := payload.ENIAttachment(&eni, task, nil); err != nil || !slices.Equal(obj.Spec.ENIs, []string{att.Name}) {
		t.Fatalf("agent attachment %v (%v), task ENIs %v", att, err, obj.Spec.ENIs)
	}

	// DescribeTasks shows the ENI as the task's attachment and each container's interface.
	got := p.describeTask(t, task)
	id, status, details := eniOf(t, got)
	want := map[string]string{"subnetId": "subnet-0a", "networkInterfaceId": eni.EC2ID, "macAddress": eni.MacAddress,
		"privateDnsName": eni.PrivateDNSName, "privateIPv4Address": "10.199.0.4"}
	if id != lastSegment(eni.AttachmentArn) || status != "PRECREATED" || !maps.Equal(details, want) {
		t.Fatalf("attachment %s %s %v, want %v", id, status, details, want)
	}
	ni := got.Containers[0].NetworkInterfaces
	if len(ni) != 1 || aws.ToString(ni[0].AttachmentId) != id || aws.ToString(ni[0].PrivateIpv4Address) != "10.199.0.4" {
		t.Fatalf("container network interfaces %+v", ni)
	}

	// A second task takes the next address.
	second := p.runAWSVPCTask(t, def)
	if _, _, d := eniOf(t, second); d["privateIPv4Address"] != "10.199.0.5" || d["macAddress"] == eni.MacAddress {
		t.Fatalf("second task's ENI %v", d)
	}

	// The agent's attachment acknowledgement (SubmitTaskStateChange with only attachments).
	if _, err := p.ecs.SubmitTaskStateChange(ctx, &ecs.SubmitTaskStateChangeInput{Cluster: aws.String("prod"), Task: aws.String(task),
		Attachments: []types.AttachmentStateChange{{AttachmentArn: aws.String(eni.AttachmentArn), Status: aws.String("ATTACHED")}}}); err != nil {
		t.Fatal(err)
	}
	if _, status, _ := eniOf(t, p.describeTask(t, task)); status != "ATTACHED" {
		t.Fatalf("after the agent's ack: %s, want ATTACHED", status)
	}

	// STOPPED deletes it and frees the address: the next task reuses it.
	if _, err := p.ecs.SubmitTaskStateChange(ctx, &ecs.SubmitTaskStateChangeInput{Cluster: aws.String("prod"), Task: aws.String(task),
		Status: aws.String("STOPPED"), Reason: aws.String("done")}); err != nil {
		t.Fatal(err)
	}
	if _, status, d := eniOf(t, p.describeTask(t, task)); status != "DELETED" || d["privateIPv4Address"] != "10.199.0.4" {
		t.Fatalf("after STOPPED: %s %v, want DELETED with its details", status, d)
	}
	third := p.runAWSVPCTask(t, def)
	if _, _, d := eniOf(t, third); d["privateIPv4Address"] != "10.199.0.4" {
		t.Fatalf("the stopped task's address was not freed: the next task got %v", d)
	}

	// SubmitAttachmentStateChanges: ATTACHED, then DETACHED deletes and frees.
	secondID := aws.ToString(second.TaskArn)
	secondARN := p.attachmentARN(t, secondID)
	for _, st := range []string{"ATTACHED", "DETACHED"} {
		if _, err := p.ecs.SubmitAttachmentStateChanges(ctx, &ecs.SubmitAttachmentStateChangesInput{Cluster: aws.String("prod"),
			Attachments: []types.AttachmentStateChange{{AttachmentArn: aws.String(secondARN), Status: aws.String(st)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, status, _ := eniOf(t, p.describeTask(t, secondID)); status != "DELETED" {
		t.Fatalf("after DETACHED: %s, want DELETED", status)
	}
	if _, _, d := eniOf(t, p.runAWSVPCTask(t, def)); d["privateIPv4Address"] != "10.199.0.5" {
		t.Fatalf("the detached ENI's address was not freed: the next task got %v", d)
	}
}

// attachmentARN reads a task's attachment ARN (DescribeTasks shows only its ID).
func (p *plane) attachmentARN(t *testing.T, task string) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	tr := p.st.Tasks[task]
	if tr == nil || tr.ENI == nil {
		t.Fatalf("task %s has no ENI", task)
	}
	return tr.ENI.AttachmentARN
}

func TestAWSVPCSubnetFull(t *testing.T) {
	// A /29 has three addresses to give out (.4-.6).
	p := newPlane(t, Options{ENISubnet: netip.MustParsePrefix("192.168.7.0/29"), ENIDNSServers: []string{"192.168.7.2"}, ENIDomainName: []string{}})
	instance := p.setup(t, "prod")
	a := p.connect(t, "prod", instance, false)
	def := p.registerAWSVPCTaskDef(t)
	for _, want := range []string{"192.168.7.4", "192.168.7.5", "192.168.7.6"} {
		if _, _, d := eniOf(t, p.runAWSVPCTask(t, def)); d["privateIPv4Address"] != want {
			t.Fatalf("ENI %v, want address %s", d, want)
		}
	}
	out, err := p.ecs.RunTask(context.Background(), &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String(def),
		NetworkConfiguration: awsvpc("subnet-0a")})
	if err != nil || len(out.Tasks) != 0 || len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != "RESOURCE:ENI" {
		t.Fatalf("RunTask on a full subnet: %v %v, want a RESOURCE:ENI failure", out, err)
	}
	eni := a.payload().Tasks[0].ElasticNetworkInterfaces[0]
	if eni.SubnetGatewayIPv4Address != "192.168.7.1/29" || !slices.Equal(eni.DomainNameServers, []string{"192.168.7.2"}) || len(eni.DomainName) != 0 {
		t.Fatalf("ENI from the options %+v", eni)
	}
}

func TestAWSVPCStateSurvivesRestart(t *testing.T) {
	opts := Options{StatePath: filepath.Join(t.TempDir(), "state.json"), HeartbeatInterval: time.Hour, ManifestInterval: time.Hour}
	p1 := newPlane(t, opts)
	instance := p1.setup(t, "prod")
	p1.connect(t, "prod", instance, false)
	def := p1.registerAWSVPCTaskDef(t)
	task := aws.ToString(p1.runAWSVPCTask(t, def).TaskArn)
	arn := p1.attachmentARN(t, task)
	if _, err := p1.ecs.SubmitAttachmentStateChanges(context.Background(), &ecs.SubmitAttachmentStateChangesInput{Cluster: aws.String("prod"),
		Attachments: []types.AttachmentStateChange{{AttachmentArn: aws.String(arn), Status: aws.String("ATTACHED")}}}); err != nil {
		t.Fatal(err)
	}
	_, _, before := eniOf(t, p1.describeTask(t, task))
	if err := p1.Close(); err != nil {
		t.Fatal(err)
	}
	p1.http.Close()

	p2 := newPlane(t, opts)
	if _, err := p2.ecs.RegisterContainerInstance(context.Background(), &ecs.RegisterContainerInstanceInput{
		Cluster: aws.String("prod"), ContainerInstanceArn: aws.String(instance), TotalResources: testResources()}); err != nil {
		t.Fatal(err)
	}
	_, status, after := eniOf(t, p2.describeTask(t, task))
	if status != "ATTACHED" || !maps.Equal(before, after) {
		t.Fatalf("ENI after restart %s %v, want ATTACHED %v", status, after, before)
	}
	p2.connect(t, "prod", instance, false)
	if _, _, d := eniOf(t, p2.runAWSVPCTask(t, def)); d["privateIPv4Address"] != "10.199.0.5" {
		t.Fatalf("a task after the restart got %v: the address in use was given out again", d)
	}
}
