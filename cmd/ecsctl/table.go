package main

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
)

// tableAccept asks for the server-side Table, falling back to plain JSON for a server
// that has none — exactly what kubectl sends, so ecsctl and kubectl print the same.
var tableAccept = strings.Join([]string{
	"application/json;as=Table;v=v1;g=meta.k8s.io",
	"application/json;as=Table;v=v1beta1;g=meta.k8s.io",
	"application/json",
}, ",")

// acceptTable is a cli-runtime request transform asking for Table output.
func acceptTable(req *rest.Request) { req.SetHeader("Accept", tableAccept) }

// asTable turns a Table the unstructured client decoded back into a metav1.Table, with
// each row's object decoded too (the printer reads namespaces and labels from them). Any
// other object is returned as is, for the printer's NAME/AGE fallback. n is the number
// of rows (objects) it holds.
func asTable(obj runtime.Object) (runtime.Object, int, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok || !isTable(u) {
		return obj, 1, nil
	}
	table := &metav1.Table{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, table); err != nil {
		return nil, 0, fmt.Errorf("decoding the server's table: %w", err)
	}
	for i := range table.Rows {
		row := &table.Rows[i]
		if row.Object.Raw == nil || row.Object.Object != nil {
			continue
		}
		o, err := runtime.Decode(unstructured.UnstructuredJSONScheme, row.Object.Raw)
		if err != nil {
			return nil, 0, fmt.Errorf("decoding a table row's object: %w", err)
		}
		row.Object.Object = o
	}
	sortTableRows(table)
	return table, len(table.Rows), nil
}

func isTable(u *unstructured.Unstructured) bool {
	gvk := u.GroupVersionKind()
	return gvk.Kind == "Table" && gvk.Group == metav1.GroupName
}

// resourceVersionOf is where a watch resumes after obj: the list's or object's
// resourceVersion, or for a Table (a watch event's one-row table, a named get) its own or
// else its last row object's.
func resourceVersionOf(obj runtime.Object) string {
	switch o := obj.(type) {
	case *metav1.Table:
		if o.ResourceVersion != "" {
			return o.ResourceVersion
		}
		for i := len(o.Rows) - 1; i >= 0; i-- {
			if m, ok := o.Rows[i].Object.Object.(metav1.Object); ok && m.GetResourceVersion() != "" {
				return m.GetResourceVersion()
			}
		}
	case *unstructured.Unstructured:
		if isTable(o) {
			if t, _, err := asTable(o); err == nil {
				return resourceVersionOf(t)
			}
		}
		return o.GetResourceVersion()
	case metav1.Object:
		return o.GetResourceVersion()
	case metav1.ListInterface:
		return o.GetResourceVersion()
	}
	return ""
}
