package objectapi

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// tableDef is how a kind is shown as a Table: its columns (priority 0 always shown,
// priority 1 with -o wide) and the cells of one object, in column order.
type tableDef struct {
	columns []metav1.TableColumnDefinition
	cells   func(rc *rowContext, obj runtime.Object) []any
}

// none is what kubectl shows for an absent value.
const none = "<none>"

// rowContext is what cells may need beyond their own object, read at most once per
// response: a task's READY column counts its Container objects.
type rowContext struct {
	ctx    context.Context
	h      *Handler
	now    time.Time
	byTask map[string][]*api.Container // namespace/task name -> containers; nil until read
}

func (h *Handler) newRowContext(ctx context.Context) *rowContext {
	return &rowContext{ctx: ctx, h: h, now: h.o.Now()}
}

// containersOf returns the Container objects of task t.
func (rc *rowContext) containersOf(t *api.Task) []*api.Container {
	if rc.byTask == nil {
		rc.byTask = map[string][]*api.Container{}
		var l api.ContainerList
		if err := rc.h.o.Store.List(rc.ctx, &l); err != nil {
			rc.h.log.Error(err, "list containers for the task table")
		}
		for i := range l.Items {
			c := &l.Items[i]
			k := c.Namespace + "/" + c.Spec.TaskName
			rc.byTask[k] = append(rc.byTask[k], c)
		}
	}
	return rc.byTask[t.Namespace+"/"+t.Name]
}

// age formats how long ago t was, as kubectl does; the zero time is "<unknown>".
func (rc *rowContext) age(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(rc.now.Sub(t.Time))
}

// ageOf is age for an optional time; absent is "<none>".
func (rc *rowContext) ageOf(t *metav1.Time) string {
	if t == nil {
		return none
	}
	return rc.age(*t)
}

// table builds the Table of objs, which are redacted already.
func (h *Handler) table(rc *rowContext, f format, res *resource, objs []runtime.Object, resourceVersion string) (*metav1.Table, error) {
	t := &metav1.Table{
		TypeMeta:          metav1.TypeMeta{APIVersion: metav1.GroupName + "/" + f.metaVersion, Kind: "Table"},
		ListMeta:          metav1.ListMeta{ResourceVersion: resourceVersion},
		ColumnDefinitions: res.table.columns,
		Rows:              make([]metav1.TableRow, 0, len(objs)),
	}
	for _, obj := range objs {
		row := metav1.TableRow{Cells: res.table.cells(rc, obj)}
		switch f.includeObject {
		case metav1.IncludeObject:
			b, err := marshal(obj)
			if err != nil {
				return nil, fmt.Errorf("object api: encode table row: %w", err)
			}
			row.Object.Raw = b
		case metav1.IncludeMetadata:
			pom, err := partialMetadata(f.metaVersion, obj)
			if err != nil {
				return nil, err
			}
			b, err := marshal(pom)
			if err != nil {
				return nil, fmt.Errorf("object api: encode table row: %w", err)
			}
			row.Object.Raw = b
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// partialMetadata is obj's metadata as PartialObjectMetadata: what kubectl reads from a
// table row for its NAMESPACE column and --show-labels.
func partialMetadata(metaVersion string, obj runtime.Object) (*metav1.PartialObjectMetadata, error) {
	var om *metav1.ObjectMeta
	if a, ok := obj.(metav1.ObjectMetaAccessor); ok {
		om, _ = a.GetObjectMeta().(*metav1.ObjectMeta)
	}
	if om == nil {
		return nil, fmt.Errorf("object api: metadata of %T is not an ObjectMeta", obj)
	}
	out := &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: metav1.GroupName + "/" + metaVersion, Kind: "PartialObjectMetadata"},
		ObjectMeta: *om.DeepCopy(),
	}
	out.ManagedFields = nil
	return out, nil
}

// nameCell is the first column of every table.
func nameCell(obj runtime.Object) string {
	if o, ok := obj.(client.Object); ok {
		return o.GetName()
	}
	return ""
}

// nameColumn and ageColumn are the columns every kind shows.
var (
	nameColumn = metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: "Name of the object: the task ID, <task ID>-<container name>, the image digest or the attachment ID."}
	ageColumn  = metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: "Time since the agent created the object."}
)

// defaultTable serves a kind with no columns of its own.
var defaultTable = tableDef{
	columns: []metav1.TableColumnDefinition{nameColumn, ageColumn},
	cells: func(rc *rowContext, obj runtime.Object) []any {
		var created metav1.Time
		if o, ok := obj.(client.Object); ok {
			created = o.GetCreationTimestamp()
		}
		return []any{nameCell(obj), rc.age(created)}
	},
}
