package main

import (
	"context"
	"fmt"
	"io"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/cli-runtime/pkg/resource"
)

// minWatchLife is how long a watch must have lasted for ecsctl to re-open it at once when
// the server ends it; a watch that keeps ending sooner is re-opened at this pace instead.
const minWatchLife = time.Second

// runWatch prints the current state (unless --watch-only) and then every change, until
// ctx ends. A watch the server closes (an idle or write timeout) is resumed from the last
// resourceVersion seen, so nothing is missed or printed twice; a watch too old to resume
// (410 Gone) is reported, as kubectl does.
func (o *getOptions) runWatch(ctx context.Context, r *resource.Result, p printers.ResourcePrinter) error {
	if err := r.Err(); err != nil {
		return err
	}
	infos, err := r.Infos()
	if err != nil {
		return err
	}
	if len(infos) != 1 {
		return fmt.Errorf("watch is only supported on one kind of object, or one object, at a time; %d were given", len(infos))
	}
	info := infos[0]
	if p == nil {
		p = o.tablePrinter(info.Mapping, false)
	}
	w := printers.GetNewTabWriter(o.streams.Out)
	defer w.Flush()
	rv := resourceVersionOf(info.Object)
	if !o.watchOnly {
		obj, _, err := asTable(info.Object)
		if err != nil {
			return err
		}
		if err := p.PrintObj(obj, w); err != nil {
			return err
		}
		w.Flush()
	}
	for {
		started := time.Now()
		wi, err := o.openWatch(ctx, info, rv)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		rv, err = o.printEvents(ctx, wi, rv, p, w)
		wi.Stop()
		if err != nil || ctx.Err() != nil {
			return err
		}
		if wait := minWatchLife - time.Since(started); wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		}
	}
}

// openWatch starts a watch of info's selection (its kind with the label and field
// selectors, or one named object) from resourceVersion rv, bound to ctx.
func (o *getOptions) openWatch(ctx context.Context, info *resource.Info, rv string) (watch.Interface, error) {
	opts := metav1.ListOptions{
		Watch:           true,
		ResourceVersion: rv,
		LabelSelector:   o.selector,
		FieldSelector:   o.fieldSelector,
	}
	if info.Name != "" {
		opts.LabelSelector = ""
		opts.FieldSelector = fields.OneTermEqualSelector("metadata.name", info.Name).String()
	}
	namespaced := info.Mapping.Scope.Name() == meta.RESTScopeNameNamespace
	return info.Client.Get().
		NamespaceIfScoped(info.Namespace, namespaced && info.Namespace != "").
		Resource(info.Mapping.Resource.Resource).
		VersionedParams(&opts, metav1.ParameterCodec).
		Watch(ctx)
}

// printEvents prints each event of wi until it ends, and returns the resourceVersion to
// resume from.
func (o *getOptions) printEvents(ctx context.Context, wi watch.Interface, rv string, p printers.ResourcePrinter, w flushWriter) (string, error) {
	for {
		select {
		case <-ctx.Done():
			return rv, nil
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return rv, nil
			}
			switch ev.Type {
			case watch.Error:
				return rv, watchError(ev.Object)
			case watch.Bookmark:
				if v := resourceVersionOf(ev.Object); v != "" {
					rv = v
				}
				continue
			}
			obj, _, err := asTable(ev.Object)
			if err != nil {
				return rv, err
			}
			if v := resourceVersionOf(obj); v != "" {
				rv = v
			}
			if err := p.PrintObj(obj, w); err != nil {
				return rv, err
			}
			_ = w.Flush()
		}
	}
}

// flushWriter is the tabwriter the table printer aligns columns with; flushing after each
// event shows it at once while keeping the widths of the first rows.
type flushWriter interface {
	io.Writer
	Flush() error
}

// watchError is the error a watch's ERROR event carries.
func watchError(obj runtime.Object) error {
	if err := apierrors.FromObject(obj); err != nil {
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			return fmt.Errorf("the watch fell too far behind the server (%w); run the command again", err)
		}
		return err
	}
	return fmt.Errorf("watch error: %v", obj)
}
