package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// runOptions are `ecsctl run`'s flags.
type runOptions struct {
	g              *globalOptions
	streams        genericiooptions.IOStreams
	ecs            ecsFlags
	file           string
	taskDefinition string
	count          int32
	startedBy      string
}

func newRunCmd(g *globalOptions, s genericiooptions.IOStreams) *cobra.Command {
	o := &runOptions{g: g, streams: s}
	cmd := &cobra.Command{
		Use:   "run -f TASKDEF.json [--cluster X] [--count N]",
		Short: "Register a task definition and run it through the local control plane",
		Long: `Register a task definition (a RegisterTaskDefinition input, the format of
"aws ecs register-task-definition --cli-input-json", as in config/samples) with the
agent's local ECS control plane and run it; or run an already registered one with
--task-definition. Prints the ARN of each task started.`,
		Example: `  ecsctl run -f config/samples/sleeper.json
  ecsctl run -f web.json --count 3
  ecsctl run --task-definition sample-sleeper:1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.file, "filename", "f", "", `task definition JSON file ("-" for stdin)`)
	f.StringVar(&o.taskDefinition, "task-definition", "", "run this registered task definition (family[:revision] or ARN) instead of registering one")
	f.Int32Var(&o.count, "count", 1, "how many tasks to run (1-10)")
	f.StringVar(&o.startedBy, "started-by", "ecsctl", "the task's startedBy")
	o.ecs.addFlags(cmd)
	_ = cmd.MarkFlagFilename("filename", "json")
	return cmd
}

func (o *runOptions) run(ctx context.Context) error {
	if (o.file == "") == (o.taskDefinition == "") {
		return errors.New("give the task definition either as a file (-f) or by name (--task-definition)")
	}
	ctx, cancel, timeout, err := callContext(ctx, o.g)
	if err != nil {
		return err
	}
	defer cancel()
	client, err := o.ecs.client(timeout)
	if err != nil {
		return err
	}
	cluster := o.ecs.resolveCluster(ctx, o.g)
	def := o.taskDefinition
	if o.file != "" {
		if def, err = o.register(ctx, client); err != nil {
			return err
		}
	}
	out, err := client.RunTask(ctx, &ecs.RunTaskInput{
		Cluster:        aws.String(cluster),
		TaskDefinition: aws.String(def),
		Count:          aws.Int32(o.count),
		StartedBy:      aws.String(o.startedBy),
	})
	if err != nil {
		return fmt.Errorf("RunTask %s in cluster %s: %w", def, cluster, err)
	}
	for _, t := range out.Tasks {
		fmt.Fprintln(o.streams.Out, aws.ToString(t.TaskArn))
	}
	for _, f := range out.Failures {
		fmt.Fprintf(o.streams.ErrOut, "failure: %s %s %s\n", aws.ToString(f.Arn), aws.ToString(f.Reason), aws.ToString(f.Detail))
	}
	if len(out.Tasks) == 0 {
		return fmt.Errorf("no task of %s was placed in cluster %s", def, cluster)
	}
	return nil
}

// register registers the file's task definition and returns its ARN.
func (o *runOptions) register(ctx context.Context, client *ecs.Client) (string, error) {
	in, err := readTaskDefinition(o.file, o.streams.In)
	if err != nil {
		return "", err
	}
	out, err := client.RegisterTaskDefinition(ctx, in)
	if err != nil {
		return "", fmt.Errorf("RegisterTaskDefinition %s: %w", aws.ToString(in.Family), err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn), nil
}

// readTaskDefinition reads a RegisterTaskDefinition input. The SDK's input types have no
// JSON tags; encoding/json matches the model's camelCase member names to their Go names
// case-insensitively, which is exact for this model (the agent reads samples the same way).
func readTaskDefinition(file string, stdin io.Reader) (*ecs.RegisterTaskDefinitionInput, error) {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, err
	}
	var in ecs.RegisterTaskDefinitionInput
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("%s is not a task definition: %w", file, err)
	}
	if aws.ToString(in.Family) == "" {
		return nil, fmt.Errorf("%s: the task definition has no family", file)
	}
	if len(in.ContainerDefinitions) == 0 {
		return nil, fmt.Errorf("%s: the task definition has no containerDefinitions", file)
	}
	return &in, nil
}
