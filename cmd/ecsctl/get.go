package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/cli-runtime/pkg/resource"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// getOptions are `ecsctl get`'s flags.
type getOptions struct {
	g       *globalOptions
	streams genericiooptions.IOStreams

	output        string
	watch         bool
	watchOnly     bool
	selector      string
	fieldSelector string
	allNamespaces bool
	noHeaders     bool
	showLabels    bool
	printFlags    *genericclioptions.PrintFlags
}

func newGetCmd(g *globalOptions, s genericiooptions.IOStreams) *cobra.Command {
	o := &getOptions{g: g, streams: s, printFlags: genericclioptions.NewPrintFlags("")}
	cmd := &cobra.Command{
		Use:   "get KIND [NAME...]",
		Short: "List or show objects: tasks (t), containers, images, attachments, instances",
		Long: `Show one or many objects of a kind. Kinds are resolved through the server's discovery,
so plural, singular and short names all work (tasks, task, t). The default output is
the server's own table, as kubectl prints it.`,
		Example: `  ecsctl get tasks
  ecsctl get t -o wide
  ecsctl get containers -l ecs.ecsd.io/task=4c3f1e2a
  ecsctl get task 4c3f1e2a -o jsonpath='{.status.knownStatus}'
  ecsctl get tasks -w`,
		ValidArgsFunction: completeKindThenNames(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "",
		"output format: wide, json, yaml, name, jsonpath=TEMPLATE, jsonpath-file=FILE, go-template=TEMPLATE, custom-columns=SPEC")
	f.BoolVarP(&o.watch, "watch", "w", false, "after listing, watch for changes")
	f.BoolVar(&o.watchOnly, "watch-only", false, "watch for changes without listing first")
	f.StringVarP(&o.selector, "selector", "l", "", "label selector, e.g. -l key=value,other!=x")
	f.StringVar(&o.fieldSelector, "field-selector", "", "field selector, e.g. --field-selector metadata.name=x")
	f.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list objects of every namespace")
	f.BoolVar(&o.noHeaders, "no-headers", false, "omit table headers")
	f.BoolVar(&o.showLabels, "show-labels", false, "show labels as the last column")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(
		[]string{"wide", "json", "yaml", "name", "jsonpath=", "custom-columns="}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// humanReadable reports whether the output is the server's table.
func (o *getOptions) humanReadable() bool { return o.output == "" || o.output == "wide" }

func (o *getOptions) run(ctx context.Context, args []string) error {
	c, err := o.g.clients()
	if err != nil {
		return err
	}
	if len(args) == 0 {
		return fmt.Errorf("you must specify the kind of object to get; %s", kindsHint(c))
	}
	printer, err := o.objectPrinter()
	if err != nil {
		return err
	}
	b := c.newBuilder().Unstructured().
		NamespaceParam(o.g.namespace).DefaultNamespace().AllNamespaces(o.allNamespaces).
		LabelSelectorParam(o.selector).FieldSelectorParam(o.fieldSelector).
		ResourceTypeOrNameArgs(true, args...).ContinueOnError().Latest()
	if o.humanReadable() {
		b = b.TransformRequests(acceptTable)
	}
	if o.watch || o.watchOnly {
		// One source, not flattened: the watch resumes from the list's resourceVersion.
		return o.runWatch(ctx, b.SingleResourceType().Do(), printer)
	}
	var single bool
	r := b.Flatten().Do().IntoSingleItemImplied(&single)
	if err := r.Err(); err != nil {
		return err
	}
	infos, err := r.Infos()
	if len(args) == 1 && !strings.Contains(args[0], "/") {
		sortInfos(infos) // a listing; named objects keep the order they were asked in
	}
	var printed int
	if o.humanReadable() {
		printed, err = o.printTables(infos, err)
	} else {
		printed, err = o.printObjects(infos, single, printer, err)
	}
	if printed == 0 && err == nil {
		o.noResources()
	}
	return err
}

// objectPrinter is the printer of every output but the server's table.
func (o *getOptions) objectPrinter() (printers.ResourcePrinter, error) {
	if o.humanReadable() {
		return nil, nil
	}
	if spec, ok := strings.CutPrefix(o.output, "custom-columns="); ok {
		return newCustomColumnsPrinter(spec, o.noHeaders)
	}
	out := o.output
	o.printFlags.OutputFormat = &out
	p, err := o.printFlags.ToPrinter()
	if genericclioptions.IsNoCompatiblePrinterError(err) {
		return nil, fmt.Errorf("unknown output format %q: want wide, json, yaml, name, jsonpath=…, custom-columns=…", o.output)
	}
	return p, err
}

// printTables prints the server's tables, one per kind, with kubectl's table printer.
// listErr (errors of some of the objects) is returned after what could be printed.
func (o *getOptions) printTables(infos []*resource.Info, listErr error) (int, error) {
	w := printers.GetNewTabWriter(o.streams.Out)
	defer w.Flush()
	withKind := multipleKinds(infos)
	var last *meta.RESTMapping
	var printer printers.ResourcePrinter
	rows := 0
	for _, info := range infos {
		if last == nil || last.Resource != info.Mapping.Resource {
			if last != nil && rows > 0 && !o.noHeaders {
				w.Flush()
				fmt.Fprintln(w)
			}
			printer = o.tablePrinter(info.Mapping, withKind)
			last = info.Mapping
		}
		obj, n, err := asTable(info.Object)
		if err != nil {
			return rows, err
		}
		rows += n
		if err := printer.PrintObj(obj, w); err != nil {
			return rows, err
		}
	}
	return rows, listErr
}

// tablePrinter is cli-runtime's TablePrinter with ecsctl's flags.
func (o *getOptions) tablePrinter(m *meta.RESTMapping, withKind bool) printers.ResourcePrinter {
	return printers.NewTablePrinter(printers.PrintOptions{
		NoHeaders:     o.noHeaders,
		WithNamespace: o.allNamespaces && m.Scope.Name() == meta.RESTScopeNameNamespace,
		WithKind:      withKind,
		Kind:          m.GroupVersionKind.GroupKind(),
		Wide:          o.output == "wide",
		ShowLabels:    o.showLabels,
	})
}

// printObjects prints full objects: one when a single object was named, else a v1 List
// of them, as kubectl does (so jsonpath works on .items).
func (o *getOptions) printObjects(infos []*resource.Info, single bool, p printers.ResourcePrinter, listErr error) (int, error) {
	if len(infos) == 0 {
		return 0, listErr
	}
	var obj runtime.Object
	if single && len(infos) == 1 {
		obj = infos[0].Object
	} else {
		list := &unstructured.UnstructuredList{Object: map[string]any{
			"apiVersion": "v1", "kind": "List", "metadata": map[string]any{"resourceVersion": ""},
		}}
		for _, info := range infos {
			u, ok := info.Object.(*unstructured.Unstructured)
			if !ok {
				return 0, fmt.Errorf("unexpected object %T", info.Object)
			}
			list.Items = append(list.Items, *u)
		}
		obj = list
	}
	if err := p.PrintObj(obj, o.streams.Out); err != nil {
		return len(infos), err
	}
	return len(infos), listErr
}

// noResources says, on stderr as kubectl does, that the selection is empty.
func (o *getOptions) noResources() {
	if o.allNamespaces {
		fmt.Fprintln(o.streams.ErrOut, "No resources found")
		return
	}
	fmt.Fprintf(o.streams.ErrOut, "No resources found in %s namespace.\n", o.g.namespace)
}

// multipleKinds reports whether infos span more than one kind, in which case names are
// printed as kind/name.
func multipleKinds(infos []*resource.Info) bool {
	for _, i := range infos {
		if i.Mapping.Resource != infos[0].Mapping.Resource {
			return true
		}
	}
	return false
}

// kindsHint lists the kinds the server offers, with their short names, for an error
// message: "tasks (t), containers (c, ctr), …".
func kindsHint(c *clientGetter) string {
	dc, err := c.ToDiscoveryClient()
	if err != nil {
		return `for example "ecsctl get tasks"`
	}
	list, err := dc.ServerResourcesForGroupVersion(api.GroupVersion.String())
	if err != nil {
		return `for example "ecsctl get tasks"`
	}
	var kinds []string
	for _, r := range list.APIResources {
		if strings.Contains(r.Name, "/") {
			continue
		}
		k := r.Name
		if len(r.ShortNames) > 0 {
			k += " (" + strings.Join(r.ShortNames, ", ") + ")"
		}
		kinds = append(kinds, k)
	}
	return "one of: " + strings.Join(kinds, ", ")
}
