package main

import (
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/util/jsonpath"
)

// customColumnsPrinter prints -o custom-columns=HEADER:.json.path,… — kubectl's format,
// which lives in k8s.io/kubectl rather than cli-runtime, so ecsctl carries its own small
// copy instead of pulling kubectl in.
type customColumnsPrinter struct {
	headers   []string
	paths     []*jsonpath.JSONPath
	noHeaders bool
	printed   bool
}

// newCustomColumnsPrinter parses spec, e.g. "NAME:.metadata.name,STATUS:.status.knownStatus".
func newCustomColumnsPrinter(spec string, noHeaders bool) (*customColumnsPrinter, error) {
	if spec == "" {
		return nil, fmt.Errorf("custom-columns format specified but no custom columns given")
	}
	p := &customColumnsPrinter{noHeaders: noHeaders}
	for _, col := range strings.Split(spec, ",") {
		header, expr, ok := strings.Cut(col, ":")
		if !ok || header == "" || expr == "" {
			return nil, fmt.Errorf("custom-columns: %q is not HEADER:JSONPATH", col)
		}
		tmpl, err := relaxedJSONPath(expr)
		if err != nil {
			return nil, fmt.Errorf("custom-columns %q: %w", col, err)
		}
		jp := jsonpath.New(header).AllowMissingKeys(true)
		if err := jp.Parse(tmpl); err != nil {
			return nil, fmt.Errorf("custom-columns %q: %w", col, err)
		}
		p.headers = append(p.headers, header)
		p.paths = append(p.paths, jp)
	}
	return p, nil
}

var relaxedJSONPathRe = regexp.MustCompile(`^\{?(\.?[^{}]*)\}?$`)

// relaxedJSONPath accepts ".a.b", "a.b" and "{.a.b}", as kubectl does.
func relaxedJSONPath(expr string) (string, error) {
	m := relaxedJSONPathRe.FindStringSubmatch(expr)
	if m == nil {
		return "", fmt.Errorf("unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'")
	}
	path := m[1]
	if !strings.HasPrefix(path, ".") {
		path = "." + path
	}
	return "{" + path + "}", nil
}

// PrintObj prints one row per object (per item of a list); the header only once, so a
// watch can call it per event.
func (p *customColumnsPrinter) PrintObj(obj runtime.Object, out io.Writer) error {
	w := printers.GetNewTabWriter(out)
	defer w.Flush()
	if !p.noHeaders && !p.printed {
		fmt.Fprintln(w, strings.Join(p.headers, "\t"))
		p.printed = true
	}
	if meta.IsListType(obj) {
		items, err := meta.ExtractList(obj)
		if err != nil {
			return err
		}
		for _, item := range items {
			if err := p.row(item, w); err != nil {
				return err
			}
		}
		return nil
	}
	return p.row(obj, w)
}

func (p *customColumnsPrinter) row(obj runtime.Object, w io.Writer) error {
	var data map[string]any
	if u, ok := obj.(*unstructured.Unstructured); ok {
		data = u.Object
	} else {
		var err error
		if data, err = runtime.DefaultUnstructuredConverter.ToUnstructured(obj); err != nil {
			return err
		}
	}
	cells := make([]string, len(p.paths))
	for i, jp := range p.paths {
		results, err := jp.FindResults(data)
		if err != nil {
			return err
		}
		var vals []string
		for _, r := range results {
			for _, v := range r {
				vals = append(vals, cellString(v))
			}
		}
		cells[i] = strings.Join(vals, ",")
		if cells[i] == "" {
			cells[i] = "<none>"
		}
	}
	_, err := fmt.Fprintln(w, strings.Join(cells, "\t"))
	return err
}

// cellString prints a jsonpath result like kubectl: scalars plainly, nothing for nil.
func cellString(v reflect.Value) string {
	for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if !v.IsValid() {
		return ""
	}
	return fmt.Sprint(v.Interface())
}
