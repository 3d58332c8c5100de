package main

import (
	"cmp"
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/resource"
)

// ecsd's store keeps objects in maps, so a list comes back in no particular order, where
// an API server lists by key. ecsctl sorts by namespace and name so that the same state
// always prints the same way.

// sortInfos orders objects by namespace and name, keeping each kind's objects together
// in the order the kinds were asked for.
func sortInfos(infos []*resource.Info) {
	kindOrder := map[string]int{}
	for _, i := range infos {
		if _, ok := kindOrder[i.Mapping.Resource.String()]; !ok {
			kindOrder[i.Mapping.Resource.String()] = len(kindOrder)
		}
	}
	slices.SortStableFunc(infos, func(a, b *resource.Info) int {
		return cmp.Or(
			cmp.Compare(kindOrder[a.Mapping.Resource.String()], kindOrder[b.Mapping.Resource.String()]),
			cmp.Compare(a.Namespace, b.Namespace),
			cmp.Compare(a.Name, b.Name))
	})
}

// sortTableRows orders a table's rows by their objects' namespace and name; rows without
// an object keep their place relative to each other, after the others.
func sortTableRows(t *metav1.Table) {
	key := func(r metav1.TableRow) (string, string, bool) {
		m, err := meta.Accessor(r.Object.Object)
		if r.Object.Object == nil || err != nil {
			return "", "", false
		}
		return m.GetNamespace(), m.GetName(), true
	}
	slices.SortStableFunc(t.Rows, func(a, b metav1.TableRow) int {
		ans, an, aok := key(a)
		bns, bn, bok := key(b)
		if aok != bok {
			if aok {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(ans, bns), cmp.Compare(an, bn))
	})
}
