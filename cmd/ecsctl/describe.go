package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// describeOptions are `ecsctl describe`'s flags.
type describeOptions struct {
	g        *globalOptions
	streams  genericiooptions.IOStreams
	selector string
}

func newDescribeCmd(g *globalOptions, s genericiooptions.IOStreams) *cobra.Command {
	o := &describeOptions{g: g, streams: s}
	cmd := &cobra.Command{
		Use:   "describe KIND [NAME...]",
		Short: "Show an object in detail, with its history of status changes as events",
		Long: `Show a task or container in detail: its definition, status, conditions, network,
health, containers, and an Events section built from the object's recorded status
transitions. Other kinds are shown as their metadata, spec and status.`,
		Example: `  ecsctl describe task 4c3f1e2a
  ecsctl describe t 4c3f1e2a
  ecsctl describe container 4c3f1e2a-app`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeKindThenNames(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), args)
		},
	}
	cmd.Flags().StringVarP(&o.selector, "selector", "l", "", "describe the objects matching this label selector")
	return cmd
}

func (o *describeOptions) run(ctx context.Context, args []string) error {
	c, err := o.g.clients()
	if err != nil {
		return err
	}
	kind, names := args[0], args[1:]
	if k, n, ok := strings.Cut(kind, "/"); ok && len(names) == 0 { // describe task/<name>
		kind, names = k, []string{n}
	}
	m, err := c.mappingFor(kind)
	if err != nil {
		return err
	}
	rc, err := c.typedClient()
	if err != nil {
		return err
	}
	if len(names) == 0 {
		if names, err = o.listNames(ctx, c, m); err != nil {
			return err
		}
		if len(names) == 0 {
			fmt.Fprintf(o.streams.ErrOut, "No resources found in %s namespace.\n", o.g.namespace)
			return nil
		}
	}
	d := describer{rc: rc, c: c, ns: o.g.namespace}
	var errs []error
	for i, name := range names {
		if i > 0 {
			fmt.Fprintln(o.streams.Out)
		}
		if err := d.describe(ctx, o.streams.Out, m, name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.NewAggregate(errs)
}

// listNames is every object of m's kind (matching --selector), for a describe without names.
func (o *describeOptions) listNames(ctx context.Context, c *clientGetter, m *meta.RESTMapping) ([]string, error) {
	infos, err := c.newBuilder().Unstructured().NamespaceParam(o.g.namespace).DefaultNamespace().
		LabelSelectorParam(o.selector).ResourceTypeOrNameArgs(true, m.Resource.Resource).
		Flatten().Do().Infos()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(infos))
	for _, i := range infos {
		names = append(names, i.Name)
	}
	slices.Sort(names)
	return names, ctx.Err()
}

// describer fetches and prints objects.
type describer struct {
	rc *rest.RESTClient
	c  *clientGetter
	ns string
}

func (d describer) describe(ctx context.Context, out io.Writer, m *meta.RESTMapping, name string) error {
	switch m.GroupVersionKind.GroupKind() {
	case api.GroupVersion.WithKind("Task").GroupKind():
		var t api.Task
		if err := d.get(ctx, m, name, &t); err != nil {
			return err
		}
		containers := d.taskContainers(ctx, &t)
		return describeTask(out, &t, containers)
	case api.GroupVersion.WithKind("Container").GroupKind():
		var c api.Container
		if err := d.get(ctx, m, name, &c); err != nil {
			return err
		}
		return describeContainer(out, &c)
	}
	return d.describeGeneric(ctx, out, m, name)
}

// get reads one object into obj, an api type.
func (d describer) get(ctx context.Context, m *meta.RESTMapping, name string, obj runtime.Object) error {
	return d.rc.Get().NamespaceIfScoped(d.ns, m.Scope.Name() == meta.RESTScopeNameNamespace).
		Resource(m.Resource.Resource).Name(name).Do(ctx).Into(obj)
}

// taskContainers reads the task's containers in definition order; one that cannot be read
// is nil (describe shows it as missing rather than failing the whole task).
func (d describer) taskContainers(ctx context.Context, t *api.Task) []*api.Container {
	out := make([]*api.Container, len(t.Spec.Containers))
	m, err := d.c.mappingForKind("Container")
	if err != nil {
		return out
	}
	for i, name := range t.Spec.Containers {
		var c api.Container
		if err := d.get(ctx, m, api.ContainerName(t.Name, name), &c); err == nil {
			out[i] = &c
		}
	}
	return out
}

// describeGeneric shows any other kind as its metadata, then spec and status as YAML.
func (d describer) describeGeneric(ctx context.Context, out io.Writer, m *meta.RESTMapping, name string) error {
	u := &unstructured.Unstructured{}
	raw, err := d.rc.Get().NamespaceIfScoped(d.ns, m.Scope.Name() == meta.RESTScopeNameNamespace).
		Resource(m.Resource.Resource).Name(name).Do(ctx).Raw()
	if err != nil {
		return err
	}
	if err := u.UnmarshalJSON(raw); err != nil {
		return fmt.Errorf("decoding %s %s: %w", m.Resource.Resource, name, err)
	}
	w := newDescribeWriter(out)
	describeMeta(w, u.GetName(), u.GetNamespace(), u.GetLabels(), u.GetAnnotations(), u.GetCreationTimestamp())
	for _, section := range []string{"spec", "status"} {
		v, ok := u.Object[section]
		if !ok {
			continue
		}
		y, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		w.line(0, "%s:", strings.ToUpper(section[:1])+section[1:])
		for _, l := range strings.Split(strings.TrimRight(string(y), "\n"), "\n") {
			w.line(1, "%s", l)
		}
	}
	return w.flush()
}
