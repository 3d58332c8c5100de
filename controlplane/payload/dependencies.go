package payload

import (
	"fmt"
	"strings"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

// checkDependencies rejects a task whose container ordering has a cycle. The graph is the
// explicit dependsOn entries plus the implicit ones of spec §6.3: a volumesFrom source must
// be created first (CREATE), a link target must be started first (START). A cycle means no
// container in it can ever start; the reference agent stops such a task at once with a
// TaskDependencyError, which is what ErrDependencyCycle reads as.
func checkDependencies(taskARN string, specs []v1alpha1.ContainerSpec) error {
	index := make(map[string]int, len(specs))
	for i := range specs {
		index[specs[i].Name] = i
	}
	edges := make([][]int, len(specs))
	for i := range specs {
		s := &specs[i]
		add := func(name string) {
			if j, ok := index[name]; ok {
				edges[i] = append(edges[i], j)
			}
		}
		for _, d := range s.DependsOn {
			add(d.ContainerName)
		}
		for _, v := range s.VolumesFrom {
			add(v.SourceContainer)
		}
		for _, l := range s.Links {
			name, _, _ := strings.Cut(l, ":")
			add(name)
		}
	}
	// Iterative three-colour DFS in definition order, so the reported cycle is stable and a
	// deep chain cannot exhaust the stack.
	const (
		white = iota
		grey
		black
	)
	colour := make([]int, len(specs))
	for root := range specs {
		if colour[root] != white {
			continue
		}
		type frame struct{ node, next int }
		stack := []frame{{node: root}}
		colour[root] = grey
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next == len(edges[top.node]) {
				colour[top.node] = black
				stack = stack[:len(stack)-1]
				continue
			}
			to := edges[top.node][top.next]
			top.next++
			switch colour[to] {
			case white:
				colour[to] = grey
				stack = append(stack, frame{node: to})
			case grey:
				var path []string
				start := 0
				for k := range stack {
					if stack[k].node == to {
						start = k
						break
					}
				}
				for _, f := range stack[start:] {
					path = append(path, specs[f.node].Name)
				}
				path = append(path, specs[to].Name)
				return fmt.Errorf("%w, taskArn: %s: cycle %s", ErrDependencyCycle, taskARN, strings.Join(path, " -> "))
			}
		}
	}
	return nil
}
