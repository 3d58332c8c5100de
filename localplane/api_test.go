package localplane

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	"github.com/ecsd/ecsd/controlplane/sigv4"
)

func TestClusters(t *testing.T) {
	p := newPlane(t, Options{Clusters: []string{"preset"}})
	ctx := context.Background()
	out, err := p.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("prod")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(out.Cluster.ClusterArn), "arn:aws:ecs:local:000000000000:cluster/prod"; got != want {
		t.Fatalf("cluster ARN %q, want %q", got, want)
	}
	// Idempotent, as in ECS.
	again, err := p.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("prod")})
	if err != nil || aws.ToString(again.Cluster.ClusterArn) != aws.ToString(out.Cluster.ClusterArn) {
		t.Fatalf("CreateCluster again: %v %v", again, err)
	}
	list, err := p.ecs.ListClusters(ctx, &ecs.ListClustersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"arn:aws:ecs:local:000000000000:cluster/preset", "arn:aws:ecs:local:000000000000:cluster/prod"}; !slices.Equal(list.ClusterArns, want) {
		t.Fatalf("ListClusters = %v, want %v", list.ClusterArns, want)
	}
	page1, err := p.ecs.ListClusters(ctx, &ecs.ListClustersInput{MaxResults: aws.Int32(1)})
	if err != nil || len(page1.ClusterArns) != 1 || page1.NextToken == nil {
		t.Fatalf("ListClusters page 1: %v %v", page1, err)
	}
	page2, err := p.ecs.ListClusters(ctx, &ecs.ListClustersInput{MaxResults: aws.Int32(1), NextToken: page1.NextToken})
	if err != nil || len(page2.ClusterArns) != 1 || page2.NextToken != nil || page2.ClusterArns[0] == page1.ClusterArns[0] {
		t.Fatalf("ListClusters page 2: %v %v", page2, err)
	}
	desc, err := p.ecs.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"prod", "nope"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(desc.Clusters) != 1 || aws.ToString(desc.Clusters[0].Status) != "ACTIVE" ||
		len(desc.Failures) != 1 || aws.ToString(desc.Failures[0].Reason) != "MISSING" {
		t.Fatalf("DescribeClusters = %+v", desc)
	}
}

func TestRegisterContainerInstance(t *testing.T) {
	p := newPlane(t, Options{})
	ctx := context.Background()
	arn := p.setup(t, "prod")
	if !strings.HasPrefix(arn, "arn:aws:ecs:local:000000000000:container-instance/prod/") || len(lastSegment(arn)) != 32 {
		t.Fatalf("instance ARN %q", arn)
	}

	// Re-registration keeps the ARN, refreshes resources, keeps the attributes from the
	// first registration and echoes every attribute sent plus the availability zone.
	res := testResources()
	res[1].IntegerValue = 512
	out, err := p.ecs.RegisterContainerInstance(ctx, &ecs.RegisterContainerInstanceInput{
		Cluster:              aws.String("prod"),
		ContainerInstanceArn: aws.String(arn),
		TotalResources:       res,
		Attributes:           []types.Attribute{{Name: aws.String("ecs.capability.full-sync")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ci := out.ContainerInstance
	if aws.ToString(ci.ContainerInstanceArn) != arn || aws.ToString(ci.Status) != "ACTIVE" {
		t.Fatalf("re-registration: %s %s", aws.ToString(ci.ContainerInstanceArn), aws.ToString(ci.Status))
	}
	attrs := map[string]string{}
	for _, a := range ci.Attributes {
		attrs[aws.ToString(a.Name)] = aws.ToString(a.Value)
	}
	want := map[string]string{"ecs.os-type": "linux", "ecs.capability.full-sync": "", "ecs.availability-zone": "locala"}
	for k, v := range want {
		if got, ok := attrs[k]; !ok || got != v {
			t.Errorf("attribute %s = %q (present %v), want %q", k, got, ok, v)
		}
	}
	if mem := memoryValue(ci.RegisteredResources); mem != 512 {
		t.Errorf("registered MEMORY %d, want 512", mem)
	}
	if mem := memoryValue(ci.RemainingResources); mem != 512 {
		t.Errorf("remaining MEMORY %d, want 512", mem)
	}

	// The same client token (an agent-only member the SDK lacks) answers with the same
	// instance.
	body := `{"cluster":"prod","clientToken":"tok","totalResources":[{"name":"CPU","type":"INTEGER","integerValue":1024}]}`
	var first, retry struct {
		ContainerInstance struct {
			ContainerInstanceArn string `json:"containerInstanceArn"`
		} `json:"containerInstance"`
	}
	p.call(t, "RegisterContainerInstance", body, &first)
	p.call(t, "RegisterContainerInstance", body, &retry)
	if first.ContainerInstance.ContainerInstanceArn == "" || retry.ContainerInstance.ContainerInstanceArn != first.ContainerInstance.ContainerInstanceArn {
		t.Fatalf("retried registration: %q then %q, want the same ARN", first.ContainerInstance.ContainerInstanceArn, retry.ContainerInstance.ContainerInstanceArn)
	}

	// An unknown cluster is the ClientException the agent recognises.
	_, err = p.ecs.RegisterContainerInstance(ctx, &ecs.RegisterContainerInstanceInput{Cluster: aws.String("default")})
	var ce *types.ClientException
	if !errors.As(err, &ce) || !strings.Contains(ce.ErrorMessage(), "Cluster not found") {
		t.Fatalf("register to a missing cluster: %v, want ClientException Cluster not found", err)
	}
}

func memoryValue(rs []types.Resource) int32 {
	for _, r := range rs {
		if aws.ToString(r.Name) == "MEMORY" {
			return r.IntegerValue
		}
	}
	return -1
}

func TestTaskDefinitions(t *testing.T) {
	p := newPlane(t, Options{})
	ctx := context.Background()
	arn1 := p.registerTaskDef(t, "web", 128, 0)
	arn2 := p.registerTaskDef(t, "web", 256, 0)
	if arn1 != "arn:aws:ecs:local:000000000000:task-definition/web:1" || !strings.HasSuffix(arn2, "web:2") {
		t.Fatalf("ARNs %s %s", arn1, arn2)
	}
	d, err := p.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	td := d.TaskDefinition
	if td.Revision != 2 || aws.ToInt32(td.ContainerDefinitions[0].Memory) != 256 || !aws.ToBool(td.ContainerDefinitions[0].Essential) ||
		td.Status != types.TaskDefinitionStatusActive || td.RegisteredAt == nil {
		t.Fatalf("DescribeTaskDefinition(web) = %+v", td)
	}
	if _, err := p.ecs.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("web:2")}); err != nil {
		t.Fatal(err)
	}
	d, err = p.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web")})
	if err != nil || d.TaskDefinition.Revision != 1 {
		t.Fatalf("latest ACTIVE after deregistering 2: %v %v", d, err)
	}
	d, err = p.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(arn2)})
	if err != nil || d.TaskDefinition.Status != types.TaskDefinitionStatusInactive {
		t.Fatalf("deregistered revision: %v %v", d, err)
	}
	l, err := p.ecs.ListTaskDefinitions(ctx, &ecs.ListTaskDefinitionsInput{})
	if err != nil || !slices.Equal(l.TaskDefinitionArns, []string{arn1}) {
		t.Fatalf("ListTaskDefinitions = %v %v", l, err)
	}
	l, err = p.ecs.ListTaskDefinitions(ctx, &ecs.ListTaskDefinitionsInput{Status: types.TaskDefinitionStatusInactive})
	if err != nil || !slices.Equal(l.TaskDefinitionArns, []string{arn2}) {
		t.Fatalf("ListTaskDefinitions(INACTIVE) = %v %v", l, err)
	}

	for _, tc := range []struct {
		name string
		in   ecs.RegisterTaskDefinitionInput
		want string
	}{
		{"no containers", ecs.RegisterTaskDefinitionInput{Family: aws.String("x"), ContainerDefinitions: []types.ContainerDefinition{}}, "Container list cannot be empty"},
		{"no memory", ecs.RegisterTaskDefinitionInput{Family: aws.String("x"), ContainerDefinitions: []types.ContainerDefinition{
			{Name: aws.String("a"), Image: aws.String("i")}}}, "'memory' or 'memoryReservation'"},
		{"bad family", ecs.RegisterTaskDefinitionInput{Family: aws.String("a b"), ContainerDefinitions: []types.ContainerDefinition{
			{Name: aws.String("a"), Image: aws.String("i"), Memory: aws.Int32(8)}}}, "Family"},
		{"bad cpu", ecs.RegisterTaskDefinitionInput{Family: aws.String("x"), Cpu: aws.String("lots"), ContainerDefinitions: []types.ContainerDefinition{
			{Name: aws.String("a"), Image: aws.String("i"), Memory: aws.Int32(8)}}}, "Invalid 'cpu'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.ecs.RegisterTaskDefinition(ctx, &tc.in)
			var ce *types.ClientException
			if !errors.As(err, &ce) || !strings.Contains(ce.ErrorMessage(), tc.want) {
				t.Fatalf("RegisterTaskDefinition: %v, want ClientException with %q", err, tc.want)
			}
		})
	}
	_, err = p.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("nope")})
	var ce *types.ClientException
	if !errors.As(err, &ce) {
		t.Fatalf("DescribeTaskDefinition(nope): %v, want ClientException", err)
	}
}

func TestRunTaskPlacement(t *testing.T) {
	p := newPlane(t, Options{})
	ctx := context.Background()
	instance := p.setup(t, "prod")
	small := p.registerTaskDef(t, "small", 400, 8080)
	big := p.registerTaskDef(t, "big", 4096, 0)

	// No agent connected: ECS refuses to place.
	out, err := p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String(small)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Tasks) != 0 || len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != "AGENT" {
		t.Fatalf("RunTask without agent: tasks %d failures %v", len(out.Tasks), failures(out.Failures))
	}

	p.connect(t, "prod", instance, false)
	task := p.runTask(t, "prod", small)
	got := p.describeTask(t, task)
	if aws.ToString(got.LastStatus) != "PENDING" || aws.ToString(got.DesiredStatus) != "RUNNING" ||
		aws.ToString(got.ContainerInstanceArn) != instance || aws.ToString(got.Group) != "family:small" ||
		len(got.Containers) != 1 || aws.ToString(got.Containers[0].Name) != "app" || got.CreatedAt == nil {
		t.Fatalf("DescribeTasks = %+v", got)
	}

	// The same static port again, and more memory than there is.
	out, err = p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String(small)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Tasks) != 0 || len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != "RESOURCE:PORTS" ||
		aws.ToString(out.Failures[0].Arn) != instance {
		t.Fatalf("port conflict: tasks %d failures %v", len(out.Tasks), failures(out.Failures))
	}
	out, err = p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String(big)})
	if err != nil || len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != "RESOURCE:MEMORY" {
		t.Fatalf("too big: %v %v", failures(out.Failures), err)
	}

	// Remaining resources reflect the task; the port is taken.
	di, err := p.ecs.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{
		Cluster: aws.String("prod"), ContainerInstances: []string{instance}})
	if err != nil {
		t.Fatal(err)
	}
	ci := di.ContainerInstances[0]
	if !ci.AgentConnected || ci.PendingTasksCount != 1 || memoryValue(ci.RemainingResources) != 624 {
		t.Fatalf("instance: connected %v pending %d remaining memory %d", ci.AgentConnected, ci.PendingTasksCount,
			memoryValue(ci.RemainingResources))
	}
	for _, r := range ci.RemainingResources {
		if aws.ToString(r.Name) == "PORTS" && !slices.Contains(r.StringSetValue, "8080") {
			t.Fatalf("remaining PORTS %v lacks 8080", r.StringSetValue)
		}
	}

	// Overrides: count, command, environment, memory.
	out, err = p.ecs.RunTask(ctx, &ecs.RunTaskInput{
		Cluster: aws.String("prod"), TaskDefinition: aws.String("big"), Count: aws.Int32(2), StartedBy: aws.String("me"),
		Overrides: &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{{
			Name: aws.String("app"), Memory: aws.Int32(100), Command: []string{"true"},
			Environment: []types.KeyValuePair{{Name: aws.String("A"), Value: aws.String("1")}}}}},
	})
	if err != nil || len(out.Tasks) != 2 {
		t.Fatalf("RunTask with overrides: %d tasks, failures %v, %v", len(out.Tasks), failures(out.Failures), err)
	}
	if o := out.Tasks[0].Overrides; len(o.ContainerOverrides) != 1 || !slices.Equal(o.ContainerOverrides[0].Command, []string{"true"}) {
		t.Fatalf("overrides echoed as %+v", o)
	}
	l, err := p.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("prod"), StartedBy: aws.String("me")})
	if err != nil || len(l.TaskArns) != 2 {
		t.Fatalf("ListTasks(startedBy) = %v %v", l, err)
	}
	l, err = p.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("prod"), Family: aws.String("small"), ContainerInstance: aws.String(lastSegment(instance))})
	if err != nil || !slices.Equal(l.TaskArns, []string{task}) {
		t.Fatalf("ListTasks(family, instance ID) = %v %v", l, err)
	}
	_, err = p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String("big"),
		Overrides: &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{{Name: aws.String("nope")}}}})
	var ipe *types.InvalidParameterException
	if !errors.As(err, &ipe) {
		t.Fatalf("override of an unknown container: %v, want InvalidParameterException", err)
	}

	// StartTask on an explicit instance, and on one that does not exist.
	st, err := p.ecs.StartTask(ctx, &ecs.StartTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String("big"),
		ContainerInstances: []string{instance, "0123456789abcdef0123456789abcdef"},
		Overrides:          &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{{Name: aws.String("app"), Memory: aws.Int32(10)}}}})
	if err != nil || len(st.Tasks) != 1 || len(st.Failures) != 1 || aws.ToString(st.Failures[0].Reason) != "MISSING" {
		t.Fatalf("StartTask: %d tasks, failures %v, %v", len(st.Tasks), failures(st.Failures), err)
	}
}

func TestAPIErrors(t *testing.T) {
	p := newPlane(t, Options{})
	ctx := context.Background()
	p.setup(t, "prod")
	p.registerTaskDef(t, "web", 128, 0)
	if _, err := p.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("empty")}); err != nil {
		t.Fatal(err)
	}

	_, err := p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("nope"), TaskDefinition: aws.String("web")})
	var cnf *types.ClusterNotFoundException
	if !errors.As(err, &cnf) {
		t.Errorf("RunTask on a missing cluster: %v, want ClusterNotFoundException", err)
	}
	_, err = p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("empty"), TaskDefinition: aws.String("web")})
	var ipe *types.InvalidParameterException
	if !errors.As(err, &ipe) || !strings.Contains(ipe.ErrorMessage(), "No Container Instances were found") {
		t.Errorf("RunTask on an empty cluster: %v, want InvalidParameterException", err)
	}
	_, err = p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String("nope")})
	var ce *types.ClientException
	if !errors.As(err, &ce) {
		t.Errorf("RunTask of a missing definition: %v, want ClientException", err)
	}
	_, err = p.ecs.SubmitTaskStateChange(ctx, &ecs.SubmitTaskStateChangeInput{Cluster: aws.String("prod"),
		Task: aws.String("arn:aws:ecs:local:000000000000:task/prod/0123"), Status: aws.String("RUNNING")})
	if !errors.As(err, &ipe) {
		t.Errorf("SubmitTaskStateChange of an unknown task: %v, want InvalidParameterException", err)
	}
	_, err = p.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("prod"), Task: aws.String("0123")})
	if !errors.As(err, &ipe) {
		t.Errorf("StopTask of an unknown task: %v, want InvalidParameterException", err)
	}
	if changes := p.StateChanges(); len(changes) != 1 || changes[0].Task == nil || changes[0].Task.Status != "RUNNING" {
		t.Errorf("StateChanges = %+v, want the refused report", changes)
	}

	// An operation the model does not have.
	req, _ := http.NewRequest(http.MethodPost, p.http.URL, bytes.NewReader([]byte("{}")))
	req.Header.Set("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.CreateService")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := (&http.Client{}).Do(signed(t, req, []byte("{}")))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"__type":"UnknownOperationException"`) {
		t.Errorf("unknown operation: %d %s", resp.StatusCode, body)
	}
}

func TestSignatureRequired(t *testing.T) {
	p := newPlane(t, Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		name, key, secret, code string
	}{
		{"wrong secret", testKey, "wrong", "InvalidSignatureException"},
		{"unknown key", "AKIDOTHER", testSecret, "UnrecognizedClientException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ecsClient(p.http.URL, tc.key, tc.secret).ListClusters(ctx, &ecs.ListClustersInput{})
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tc.code {
				t.Fatalf("ListClusters: %v, want %s", err, tc.code)
			}
		})
	}
	// Signed for another region: accepted (a user's profile may name any), and the
	// signature is still checked with that region's signing key: changing the region of
	// the scope after signing breaks it, as does a scope for another service.
	other := ecs.New(ecs.Options{Region: "us-east-1", BaseEndpoint: aws.String(p.http.URL),
		Credentials: staticCreds(testKey, testSecret), RetryMaxAttempts: 1})
	if _, err := other.ListClusters(ctx, &ecs.ListClustersInput{}); err != nil {
		t.Fatalf("request signed for us-east-1: %v", err)
	}
	for _, tc := range []struct{ name, region, service, from, to string }{
		{"scope region changed after signing", "us-east-1", "ecs", "/us-east-1/", "/eu-west-1/"},
		{"another service", "us-east-1", "s3", "", ""},
	} {
		req, _ := http.NewRequest(http.MethodPost, p.http.URL, strings.NewReader("{}"))
		req.Header.Set("X-Amz-Target", targetPrefix+"ListClusters")
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
		if err := v4.NewSigner().SignHTTP(ctx, creds, req, sigv4.PayloadHash([]byte("{}")), tc.service, tc.region, time.Now()); err != nil {
			t.Fatal(err)
		}
		if tc.from != "" {
			req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), tc.from, tc.to, 1))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "InvalidSignatureException") {
			t.Errorf("%s: HTTP %d %s, want InvalidSignatureException", tc.name, resp.StatusCode, body)
		}
	}
	// An unsigned request.
	resp, err := http.Post(p.http.URL, "application/x-amz-json-1.1", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned request: HTTP %d, want 403", resp.StatusCode)
	}
	// Without Options.Credentials nothing is checked.
	open := newPlane(t, Options{Credentials: map[string]string{}})
	if _, err := ecsClient(open.http.URL, "any", "thing").ListClusters(ctx, &ecs.ListClustersInput{}); err != nil {
		t.Fatalf("unauthenticated plane: %v", err)
	}
}

func TestListTagsForResource(t *testing.T) {
	p := newPlane(t, Options{})
	ctx := context.Background()
	instance := p.setup(t, "prod")
	p.connect(t, "prod", instance, false)
	def := p.registerTaskDef(t, "web", 64, 0)
	out, err := p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: aws.String(def),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}}})
	if err != nil || len(out.Tasks) != 1 {
		t.Fatalf("RunTask: %v", err)
	}
	tags, err := p.ecs.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: out.Tasks[0].TaskArn})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "team" || aws.ToString(tags.Tags[0].Value) != "a" {
		t.Fatalf("task tags %+v %v", tags, err)
	}
	tags, err = p.ecs.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String(instance)})
	if err != nil || len(tags.Tags) != 0 {
		t.Fatalf("instance tags %+v %v", tags, err)
	}
	_, err = p.ecs.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:ecs:local:000000000000:task/prod/nope")})
	var ipe *types.InvalidParameterException
	if !errors.As(err, &ipe) {
		t.Fatalf("tags of an unknown task: %v, want InvalidParameterException", err)
	}
}
