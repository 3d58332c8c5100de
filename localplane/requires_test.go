package localplane

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

const ecrTestImage = "123456789012.dkr.ecr.us-west-2.amazonaws.com/app:1"

func names(as []types.Attribute) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, aws.ToString(a.Name))
	}
	return out
}

// TestRequiresAttributes: RegisterTaskDefinition and DescribeTaskDefinition answer with the
// attributes ECS would require for each member that needs one.
func TestRequiresAttributes(t *testing.T) {
	p := newPlane(t, Options{HeartbeatInterval: time.Hour, ManifestInterval: time.Hour})
	ctx := context.Background()
	base := func() types.ContainerDefinition {
		return types.ContainerDefinition{Name: aws.String("app"), Image: aws.String("busybox"), Memory: aws.Int32(8)}
	}
	cases := []struct {
		name string
		in   ecs.RegisterTaskDefinitionInput
		want []string
	}{
		{"plain", ecs.RegisterTaskDefinitionInput{ContainerDefinitions: []types.ContainerDefinition{base()}}, []string{}},
		{"production", ecs.RegisterTaskDefinitionInput{
			ExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/exec"),
			TaskRoleArn:      aws.String("arn:aws:iam::123456789012:role/app"),
			PidMode:          types.PidModeTask,
			ContainerDefinitions: []types.ContainerDefinition{func() types.ContainerDefinition {
				c := base()
				c.Image = aws.String(ecrTestImage)
				c.LogConfiguration = &types.LogConfiguration{LogDriver: types.LogDriverAwslogs,
					Options: map[string]string{"awslogs-group": "g"},
					SecretOptions: []types.Secret{{Name: aws.String("token"),
						ValueFrom: aws.String("arn:aws:secretsmanager:us-west-2:123456789012:secret:tok-AbCdEf")}}}
				c.Secrets = []types.Secret{
					{Name: aws.String("A"), ValueFrom: aws.String("/app/a")},
					{Name: aws.String("B"), ValueFrom: aws.String("arn:aws:secretsmanager:us-west-2:123456789012:secret:b-AbCdEf:key::")},
				}
				c.EnvironmentFiles = []types.EnvironmentFile{{Type: types.EnvironmentFileTypeS3, Value: aws.String("arn:aws:s3:::bucket/app.env")}}
				c.HealthCheck = &types.HealthCheck{Command: []string{"CMD", "true"}}
				c.LinuxParameters = &types.LinuxParameters{InitProcessEnabled: aws.Bool(true)}
				c.DockerSecurityOptions = []string{"no-new-privileges"}
				return c
			}(), {Name: aws.String("side"), Image: aws.String("busybox"), Memory: aws.Int32(8), Essential: aws.Bool(false),
				DependsOn: []types.ContainerDependency{{ContainerName: aws.String("app"), Condition: types.ContainerConditionStart}}}},
		}, []string{
			legacyCap + "docker-remote-api.1.18", legacyCap + "docker-remote-api.1.19", legacyCap + "docker-remote-api.1.25",
			legacyCap + "ecr-auth", legacyCap + "logging-driver.awslogs", legacyCap + "task-iam-role",
			currentCap + "container-health-check", currentCap + "container-ordering", currentCap + "env-files.s3",
			currentCap + "execution-role-awslogs", currentCap + "execution-role-ecr-pull", currentCap + "pid-ipc-namespace-sharing",
			currentCap + "secrets.asm.bootstrap.log-driver", currentCap + "secrets.asm.environment-variables",
			currentCap + "secrets.ssm.environment-variables",
		}},
		{"host mode, ECR without execution role, registry credentials, privileged, port range, labels", ecs.RegisterTaskDefinitionInput{
			NetworkMode: types.NetworkModeHost, TaskRoleArn: aws.String("arn:aws:iam::123456789012:role/app"), IpcMode: types.IpcModeHost,
			ContainerDefinitions: []types.ContainerDefinition{func() types.ContainerDefinition {
				c := base()
				c.Image = aws.String(ecrTestImage)
				c.Privileged = aws.Bool(true)
				c.DockerLabels = map[string]string{"a": "b"}
				c.PortMappings = []types.PortMapping{{ContainerPortRange: aws.String("8000-8010")}}
				c.DockerSecurityOptions = []string{"apparmor:docker-default", "label:type:container_t"}
				c.LogConfiguration = &types.LogConfiguration{LogDriver: types.LogDriverJsonFile}
				return c
			}(), func() types.ContainerDefinition {
				c := base()
				c.Name = aws.String("priv")
				c.RepositoryCredentials = &types.RepositoryCredentials{CredentialsParameter: aws.String("arn:aws:secretsmanager:us-west-2:123456789012:secret:reg")}
				return c
			}()},
		}, []string{
			legacyCap + "apparmor", legacyCap + "docker-remote-api.1.18", legacyCap + "ecr-auth", legacyCap + "logging-driver.json-file",
			legacyCap + "privileged-container", legacyCap + "selinux", legacyCap + "task-iam-role", legacyCap + "task-iam-role-network-host",
			currentCap + "network.container-port-range", currentCap + "pid-ipc-namespace-sharing",
			currentCap + "private-registry-authentication.secretsmanager",
		}},
	}
	// Every definition here uses only features ecsd has: its agent (ECS-optimized
	// configuration, a host with AppArmor and SELinux) registers all they require.
	registered := map[string]bool{}
	for _, a := range agentAttributes(t) {
		registered[aws.ToString(a.Name)] = true
	}
	for _, c := range cases {
		for _, n := range c.want {
			if !registered[n] {
				t.Errorf("%s: requires %s, which ecsd's capability table never registers", c.name, n)
			}
		}
		in := c.in
		in.Family = aws.String("f")
		out, err := p.ecs.RegisterTaskDefinition(ctx, &in)
		if err != nil {
			t.Fatalf("%s: RegisterTaskDefinition: %v", c.name, err)
		}
		if got := names(out.TaskDefinition.RequiresAttributes); !slices.Equal(got, c.want) {
			t.Errorf("%s: RegisterTaskDefinition requiresAttributes\n got %v\nwant %v", c.name, got, c.want)
		}
		d, err := p.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: out.TaskDefinition.TaskDefinitionArn})
		if err != nil {
			t.Fatal(err)
		}
		if got := names(d.TaskDefinition.RequiresAttributes); !slices.Equal(got, c.want) {
			t.Errorf("%s: DescribeTaskDefinition requiresAttributes\n got %v\nwant %v", c.name, got, c.want)
		}
	}
}

// TestPlacementNeedsRequiredAttributes: RunTask and StartTask refuse an instance that did
// not register an attribute the definition requires, with ECS's reason ATTRIBUTE and the
// attribute named in the detail; an instance that registered it gets the task.
func TestPlacementNeedsRequiredAttributes(t *testing.T) {
	p := newPlane(t, Options{HeartbeatInterval: time.Hour, ManifestInterval: time.Hour})
	ctx := context.Background()
	if _, err := p.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("prod")}); err != nil {
		t.Fatal(err)
	}
	reg, err := p.ecs.RegisterContainerInstance(ctx, &ecs.RegisterContainerInstanceInput{Cluster: aws.String("prod"),
		TotalResources: testResources(), Attributes: []types.Attribute{{Name: aws.String("ecs.os-type"), Value: aws.String("linux")}}})
	if err != nil {
		t.Fatal(err)
	}
	bare := aws.ToString(reg.ContainerInstance.ContainerInstanceArn)
	p.connect(t, "prod", bare, false)
	def, err := p.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family:           aws.String("logs"),
		ExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/exec"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("busybox"), Memory: aws.Int32(8),
			LogConfiguration: &types.LogConfiguration{LogDriver: types.LogDriverAwslogs, Options: map[string]string{"awslogs-group": "g"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := def.TaskDefinition.TaskDefinitionArn

	check := func(what string, tasks []types.Task, fs []types.Failure, want string) {
		t.Helper()
		if len(tasks) != 0 || len(fs) != 1 || aws.ToString(fs[0].Arn) != bare || aws.ToString(fs[0].Reason) != "ATTRIBUTE" ||
			aws.ToString(fs[0].Detail) != "the container instance lacks the required attribute "+want {
			t.Fatalf("%s: %d tasks, failures %+v; want one ATTRIBUTE failure naming %s", what, len(tasks), fs, want)
		}
	}
	run, err := p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: arn})
	if err != nil {
		t.Fatal(err)
	}
	// Missing attributes are named in name order: the legacy docker-remote-api.1.18 first.
	check("RunTask", run.Tasks, run.Failures, legacyCap+"docker-remote-api.1.18")
	start, err := p.ecs.StartTask(ctx, &ecs.StartTaskInput{Cluster: aws.String("prod"), TaskDefinition: arn, ContainerInstances: []string{bare}})
	if err != nil {
		t.Fatal(err)
	}
	check("StartTask", start.Tasks, start.Failures, legacyCap+"docker-remote-api.1.18")

	// Every attribute but one: that one is named.
	attrs := []types.Attribute{}
	for _, a := range def.TaskDefinition.RequiresAttributes {
		if aws.ToString(a.Name) != currentCap+"execution-role-awslogs" {
			attrs = append(attrs, types.Attribute{Name: a.Name})
		}
	}
	if _, err := p.ecs.RegisterContainerInstance(ctx, &ecs.RegisterContainerInstanceInput{Cluster: aws.String("prod"),
		ContainerInstanceArn: aws.String(bare), TotalResources: testResources(), Attributes: attrs}); err != nil {
		t.Fatal(err)
	}
	run, err = p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: arn})
	if err != nil {
		t.Fatal(err)
	}
	check("RunTask without execution-role-awslogs", run.Tasks, run.Failures, currentCap+"execution-role-awslogs")

	// A second instance with all of them takes the task.
	full, err := p.ecs.RegisterContainerInstance(ctx, &ecs.RegisterContainerInstanceInput{Cluster: aws.String("prod"),
		TotalResources: testResources(), Attributes: append(attrs, types.Attribute{Name: aws.String(currentCap + "execution-role-awslogs")})})
	if err != nil {
		t.Fatal(err)
	}
	fullARN := aws.ToString(full.ContainerInstance.ContainerInstanceArn)
	p.connect(t, "prod", fullARN, false)
	run, err = p.ecs.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("prod"), TaskDefinition: arn})
	if err != nil || len(run.Tasks) != 1 || aws.ToString(run.Tasks[0].ContainerInstanceArn) != fullARN {
		t.Fatalf("RunTask with a capable instance: %v, tasks %v, failures %v", err, arnsOf(run.Tasks), failures(run.Failures))
	}
}
