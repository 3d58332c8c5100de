package localplane

import (
	"slices"
	"sort"
	"strconv"
)

// demand is what a task takes from its container instance while it is not STOPPED: ECS
// reserves CPU units, MiB of memory and static host ports at placement and releases them
// when the agent reports the task STOPPED.
type demand struct {
	CPU    int64   `json:"cpu"`
	Memory int64   `json:"memory"`
	TCP    []int32 `json:"tcp,omitempty"`
	UDP    []int32 `json:"udp,omitempty"`
	GPUs   int64   `json:"gpus,omitempty"`
}

// Registered resource names, as the agent sends them.
const (
	resCPU      = "CPU"
	resMemory   = "MEMORY"
	resPorts    = "PORTS"
	resPortsUDP = "PORTS_UDP"
)

// capacity is an instance's registered resources minus what its tasks hold.
type capacity struct {
	cpu, memory int64
	tcp, udp    map[int32]bool // ports taken: reserved at registration or held by a task
}

// capacityOf computes an instance's remaining capacity from its registration and the
// tasks placed on it that are not STOPPED (plus extra, tasks being placed right now).
func capacityOf(st *state, in *instanceRecord, extra []demand) capacity {
	c := capacity{tcp: map[int32]bool{}, udp: map[int32]bool{}}
	for _, r := range in.Resources {
		switch r.Name {
		case resCPU:
			c.cpu = resourceNumber(r)
		case resMemory:
			c.memory = resourceNumber(r)
		case resPorts:
			addPorts(c.tcp, r.StringSetValue)
		case resPortsUDP:
			addPorts(c.udp, r.StringSetValue)
		}
	}
	take := func(d demand) {
		c.cpu -= d.CPU
		c.memory -= d.Memory
		for _, p := range d.TCP {
			c.tcp[p] = true
		}
		for _, p := range d.UDP {
			c.udp[p] = true
		}
	}
	for _, t := range st.tasksOn(in.ARN) {
		if t.LastStatus == taskStopped {
			continue
		}
		take(t.Demand)
		// Dynamic host ports the agent reported are taken too.
		for _, ctr := range t.Containers {
			for _, b := range ctr.NetworkBindings {
				if b.HostPort == nil {
					continue
				}
				if b.Protocol == "udp" {
					c.udp[*b.HostPort] = true
				} else {
					c.tcp[*b.HostPort] = true
				}
			}
		}
	}
	for _, d := range extra {
		take(d)
	}
	return c
}

// fit returns "" when d fits in c, else the ECS failure reason naming the first
// resource short, checked in ECS's order.
func (c capacity) fit(d demand) string {
	switch {
	case d.CPU > c.cpu:
		return "RESOURCE:CPU"
	case d.Memory > c.memory:
		return "RESOURCE:MEMORY"
	case d.GPUs > 0:
		// GPUs would need platform device accounting and payload associations, which
		// ecsd does not run anyway.
		return "RESOURCE:GPU"
	}
	for _, p := range d.TCP {
		if c.tcp[p] {
			return "RESOURCE:PORTS"
		}
	}
	for _, p := range d.UDP {
		if c.udp[p] {
			return "RESOURCE:PORTS_UDP"
		}
	}
	return ""
}

// remainingResources renders c in the shape of the registered resources.
func (c capacity) remainingResources(registered []resource) []resource {
	out := make([]resource, 0, len(registered))
	for _, r := range registered {
		switch r.Name {
		case resCPU:
			r = numberResource(r, c.cpu)
		case resMemory:
			r = numberResource(r, c.memory)
		case resPorts:
			r.StringSetValue = portStrings(c.tcp)
		case resPortsUDP:
			r.StringSetValue = portStrings(c.udp)
		}
		out = append(out, r)
	}
	return out
}

// resourceNumber reads a numeric resource whichever member the sender used.
func resourceNumber(r resource) int64 {
	switch r.Type {
	case "LONG":
		return r.LongValue
	case "DOUBLE":
		return int64(r.DoubleValue)
	}
	return int64(r.IntegerValue)
}

func numberResource(r resource, v int64) resource {
	switch r.Type {
	case "LONG":
		r.LongValue = v
	case "DOUBLE":
		r.DoubleValue = float64(v)
	default:
		r.IntegerValue = int32(v)
	}
	return r
}

func addPorts(set map[int32]bool, ports []string) {
	for _, p := range ports {
		if n, err := strconv.ParseInt(p, 10, 32); err == nil {
			set[int32(n)] = true
		}
	}
}

func portStrings(set map[int32]bool) []string {
	ports := make([]int, 0, len(set))
	for p := range set {
		ports = append(ports, int(p))
	}
	sort.Ints(ports)
	out := make([]string, len(ports))
	for i, p := range ports {
		out[i] = strconv.Itoa(p)
	}
	return out
}

// spread orders a RunTask's candidate instances for each task it places: the instance
// with the fewest tasks not STOPPED first (counting those this call placed already), the
// earliest registered among equals. The first candidate that passes placementFailure
// (connected agent, required attributes, CPU, memory, ports) takes the task, so a count of
// N goes round the instances of a local cluster instead of filling the first one; an
// instance that cannot take a task is skipped, not waited for. This is ECS's "spread by
// instance" in its simplest form and all the local plane needs: it has no placement
// strategies or constraints.
type spread struct {
	instances []*instanceRecord // registration order
	running   map[string]int    // instance ARN → tasks not STOPPED
}

func newSpread(st *state, instances []*instanceRecord) *spread {
	s := &spread{instances: slices.Clone(instances), running: map[string]int{}}
	for _, in := range instances {
		for _, t := range st.tasksOn(in.ARN) {
			if t.LastStatus != taskStopped {
				s.running[in.ARN]++
			}
		}
	}
	return s
}

// order returns the instances, least loaded first; ties keep registration order.
func (s *spread) order() []*instanceRecord {
	out := slices.Clone(s.instances)
	slices.SortStableFunc(out, func(a, b *instanceRecord) int { return s.running[a.ARN] - s.running[b.ARN] })
	return out
}

// placed counts a task just placed on in.
func (s *spread) placed(in *instanceRecord) { s.running[in.ARN]++ }
