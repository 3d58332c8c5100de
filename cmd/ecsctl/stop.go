package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// stopOptions are `ecsctl stop`'s flags.
type stopOptions struct {
	g       *globalOptions
	streams genericiooptions.IOStreams
	ecs     ecsFlags
	reason  string
}

func newStopCmd(g *globalOptions, s genericiooptions.IOStreams) *cobra.Command {
	o := &stopOptions{g: g, streams: s}
	cmd := &cobra.Command{
		Use:   "stop TASK...",
		Short: "Stop tasks through the local control plane",
		Long: `Ask the local ECS control plane to stop tasks, given by task ID (the Task object's
name, as "ecsctl get tasks" lists it) or ARN. The agent then stops the containers;
watch it with "ecsctl get tasks -w". Prints each stopped task's ARN.`,
		Example: `  ecsctl stop 4c3f1e2a
  ecsctl stop 4c3f1e2a --reason "rolling back"`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeNamesOf(g, "Task"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), args)
		},
	}
	cmd.Flags().StringVar(&o.reason, "reason", "", "why the task is stopped (shown as its stopped reason)")
	o.ecs.addFlags(cmd)
	return cmd
}

func (o *stopOptions) run(ctx context.Context, tasks []string) error {
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
	var errs []error
	for _, t := range tasks {
		in := &ecs.StopTaskInput{Cluster: aws.String(cluster), Task: aws.String(t)}
		if o.reason != "" {
			in.Reason = aws.String(o.reason)
		}
		out, err := client.StopTask(ctx, in)
		if err != nil {
			errs = append(errs, fmt.Errorf("StopTask %s in cluster %s: %w", t, cluster, err))
			continue
		}
		fmt.Fprintln(o.streams.Out, aws.ToString(out.Task.TaskArn))
	}
	return errors.NewAggregate(errs)
}
