package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// logsOptions are `ecsctl logs`'s flags.
type logsOptions struct {
	g         *globalOptions
	streams   genericiooptions.IOStreams
	follow    bool
	tail      int64
	container string
}

func newLogsCmd(g *globalOptions, s genericiooptions.IOStreams) *cobra.Command {
	o := &logsOptions{g: g, streams: s}
	cmd := &cobra.Command{
		Use:   "logs TASK/CONTAINER | CONTAINER-OBJECT | TASK [-c CONTAINER]",
		Short: "Print a container's log",
		Long: `Print the log of a task's container. Name it as TASK/CONTAINER, by its container object
name (TASK-CONTAINER, as "ecsctl get containers" lists it), or as a TASK with -c
CONTAINER; a task with a single container needs neither.`,
		Example: `  ecsctl logs 4c3f1e2a/app
  ecsctl logs 4c3f1e2a-app --tail 20
  ecsctl logs 4c3f1e2a -c app -f`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeLogTargets(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), args[0])
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.follow, "follow", "f", false, "keep streaming the log as it grows")
	f.Int64Var(&o.tail, "tail", -1, "print only the last N lines (-1: all)")
	f.StringVarP(&o.container, "container", "c", "", "the container of TASK")
	return cmd
}

func (o *logsOptions) run(ctx context.Context, target string) error {
	c, err := o.g.clients()
	if err != nil {
		return err
	}
	name, err := o.resolve(ctx, c, target)
	if err != nil {
		return err
	}
	m, err := c.mappingForKind("Container")
	if err != nil {
		return err
	}
	rc, err := c.typedClient()
	if err != nil {
		return err
	}
	req := rc.Get().Namespace(o.g.namespace).Resource(m.Resource.Resource).Name(name).SubResource("log")
	if o.follow {
		req = req.Param("follow", "true")
	}
	if o.tail >= 0 {
		req = req.Param("tailLines", strconv.FormatInt(o.tail, 10))
	}
	stream, err := req.Stream(ctx)
	if err != nil {
		return err
	}
	defer stream.Close()
	if _, err := io.Copy(o.streams.Out, stream); err != nil && ctx.Err() == nil {
		return fmt.Errorf("reading the log of %s: %w", name, err)
	}
	return nil
}

// resolve turns what the user typed into the container object's name.
func (o *logsOptions) resolve(ctx context.Context, c *clientGetter, target string) (string, error) {
	if task, name, ok := strings.Cut(target, "/"); ok {
		if o.container != "" {
			return "", errors.New("give the container either as TASK/CONTAINER or with -c, not both")
		}
		if task == "" || name == "" {
			return "", fmt.Errorf("%q: want TASK/CONTAINER", target)
		}
		return api.ContainerName(task, name), nil
	}
	if o.container != "" {
		return api.ContainerName(target, o.container), nil
	}
	rc, err := c.typedClient()
	if err != nil {
		return "", err
	}
	d := describer{rc: rc, c: c, ns: o.g.namespace}
	cm, err := c.mappingForKind("Container")
	if err != nil {
		return "", err
	}
	var ctr api.Container
	err = d.get(ctx, cm, target, &ctr)
	if err == nil || !apierrors.IsNotFound(err) {
		return target, err
	}
	// Not a container: a task with exactly one container is unambiguous.
	tm, terr := c.mappingForKind("Task")
	if terr != nil {
		return "", err
	}
	var t api.Task
	if terr := d.get(ctx, tm, target, &t); terr != nil {
		return "", err // report the container's NotFound: that is what was asked for
	}
	if len(t.Spec.Containers) == 1 {
		return api.ContainerName(t.Name, t.Spec.Containers[0]), nil
	}
	return "", fmt.Errorf("task %s has containers %s: name one as %s/CONTAINER or with -c",
		t.Name, strings.Join(t.Spec.Containers, ", "), t.Name)
}
