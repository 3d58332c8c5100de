package main

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// completionTimeout keeps a shell responsive when the agent is down.
const completionTimeout = 2 * time.Second

type completeFunc = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective)

// completeKindThenNames completes a kind (from discovery) first, then names of that kind.
func completeKindThenNames(g *globalOptions) completeFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		c, err := g.clients()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		if len(args) == 0 {
			names, err := resourceNames(c)
			if err != nil {
				return nil, cobra.ShellCompDirectiveError
			}
			return filterPrefix(names, toComplete), cobra.ShellCompDirectiveNoFileComp
		}
		m, err := c.mappingFor(args[0])
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		return filterPrefix(objectNames(cmd.Context(), c, m, g.namespace), toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeNamesOf completes names of one kind, e.g. tasks for stop.
func completeNamesOf(g *globalOptions, kind string) completeFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		c, err := g.clients()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		m, err := c.mappingForKind(kind)
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		return filterPrefix(objectNames(cmd.Context(), c, m, g.namespace), toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeLogTargets completes TASK/CONTAINER pairs, built from the container objects.
func completeLogTargets(g *globalOptions) completeFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := g.clients()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		m, err := c.mappingForKind("Container")
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var out []string
		for _, u := range listObjects(cmd.Context(), c, m, g.namespace) {
			task, _, _ := unstructured.NestedString(u.Object, "spec", "taskName")
			name, _, _ := unstructured.NestedString(u.Object, "spec", "name")
			if task != "" && name != "" {
				out = append(out, task+"/"+name)
			}
		}
		sort.Strings(out)
		return filterPrefix(out, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// resourceNames are the names of the server's ecsd kinds: plural, singular and short.
func resourceNames(c *clientGetter) ([]string, error) {
	dc, err := c.ToDiscoveryClient()
	if err != nil {
		return nil, err
	}
	list, err := dc.ServerResourcesForGroupVersion(api.GroupVersion.String())
	if err != nil {
		return nil, err
	}
	var names []string
	for _, r := range list.APIResources {
		if strings.Contains(r.Name, "/") { // subresources such as containers/log
			continue
		}
		names = append(names, r.Name)
		if r.SingularName != "" {
			names = append(names, r.SingularName)
		}
		names = append(names, r.ShortNames...)
	}
	sort.Strings(names)
	return names, nil
}

// objectNames are the names of m's objects, or none when the server does not answer.
func objectNames(ctx context.Context, c *clientGetter, m *meta.RESTMapping, ns string) []string {
	var names []string
	for _, u := range listObjects(ctx, c, m, ns) {
		names = append(names, u.GetName())
	}
	sort.Strings(names)
	return names
}

// listObjects lists m's objects within completionTimeout.
func listObjects(ctx context.Context, c *clientGetter, m *meta.RESTMapping, ns string) []unstructured.Unstructured {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	rc, err := c.typedClient()
	if err != nil {
		return nil
	}
	raw, err := rc.Get().NamespaceIfScoped(ns, m.Scope.Name() == meta.RESTScopeNameNamespace).
		Resource(m.Resource.Resource).Do(ctx).Raw()
	if err != nil {
		return nil
	}
	list := &unstructured.UnstructuredList{}
	if err := list.UnmarshalJSON(raw); err != nil {
		return nil
	}
	return list.Items
}

func filterPrefix(names []string, prefix string) []string {
	out := names[:0:0]
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}
