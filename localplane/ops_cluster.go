package localplane

import (
	"context"
	"sort"
)

// createCluster is idempotent, as in ECS: creating an existing cluster returns it.
func (s *Server) createCluster(_ context.Context, in *createClusterRequest) (*createClusterResponse, error) {
	name := in.ClusterName
	if name == "" {
		name = "default"
	}
	if !validName(name) {
		return nil, errInvalidParameter("Cluster name can have up to 255 characters: letters (uppercase and lowercase), numbers, underscores, and hyphens.")
	}
	if len(in.CapacityProviders) > 0 {
		return nil, errInvalidParameter("Capacity providers are not supported by the local control plane.")
	}
	var out createClusterResponse
	err := s.update(func(st *state) error {
		c := s.ensureCluster(st, name, in.Tags, in.Settings)
		out.Cluster = s.clusterOutput(st, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("cluster created", "cluster", name)
	return &out, nil
}

// ensureCluster returns the ACTIVE cluster name, creating (or reactivating) it.
func (s *Server) ensureCluster(st *state, name string, tags []tag, settings []clusterSetting) *clusterRecord {
	if c, ok := st.Clusters[name]; ok && c.Status == statusActive {
		return c
	}
	c := &clusterRecord{Name: name, ARN: s.arn.cluster(name), Status: statusActive, Tags: tags,
		Settings: settings, CreatedAt: At(s.now())}
	st.Clusters[name] = c
	return c
}

// cluster resolves a cluster reference to an ACTIVE cluster, or nil.
func (s *Server) cluster(st *state, ref string) *clusterRecord {
	name, ok := s.arn.clusterName(ref)
	if !ok {
		return nil
	}
	c := st.Clusters[name]
	if c == nil || c.Status != statusActive {
		return nil
	}
	return c
}

func (s *Server) clusterOutput(st *state, c *clusterRecord) clusterOutput {
	out := clusterOutput{
		ClusterArn: c.ARN, ClusterName: c.Name, Status: c.Status,
		Statistics: []keyValuePair{}, Tags: nonNil(c.Tags), Settings: nonNil(c.Settings),
		CapacityProviders: []string{}, DefaultCapacityProviderStrategy: []struct{}{},
	}
	if len(out.Settings) == 0 {
		out.Settings = []clusterSetting{{Name: "containerInsights", Value: "disabled"}}
	}
	for _, in := range st.Instances {
		if in.Cluster == c.Name && in.Status == statusActive {
			out.RegisteredContainerInstancesCount++
		}
	}
	for _, t := range st.Tasks {
		if t.Cluster != c.Name {
			continue
		}
		switch t.LastStatus {
		case taskRunning:
			out.RunningTasksCount++
		case taskStopped:
		default:
			out.PendingTasksCount++
		}
	}
	return out
}

func (s *Server) describeClusters(_ context.Context, in *describeClustersRequest) (*describeClustersResponse, error) {
	refs := in.Clusters
	if len(refs) == 0 {
		refs = []string{"default"}
	}
	if len(refs) > 100 {
		return nil, errInvalidParameter("clusters can have at most 100 entries.")
	}
	out := describeClustersResponse{Clusters: []clusterOutput{}, Failures: []failure{}}
	s.view(func(st *state) {
		for _, ref := range refs {
			c := s.cluster(st, ref)
			if c == nil {
				arn := ref
				if name, ok := s.arn.clusterName(ref); ok {
					arn = s.arn.cluster(name)
				}
				out.Failures = append(out.Failures, failure{Arn: arn, Reason: "MISSING"})
				continue
			}
			out.Clusters = append(out.Clusters, s.clusterOutput(st, c))
		}
	})
	return &out, nil
}

func (s *Server) listClusters(_ context.Context, in *listClustersRequest) (*listClustersResponse, error) {
	var arns []string
	s.view(func(st *state) {
		for _, c := range st.Clusters {
			if c.Status == statusActive {
				arns = append(arns, c.ARN)
			}
		}
	})
	sort.Strings(arns)
	p, next, err := page(arns, in.paging)
	if err != nil {
		return nil, err
	}
	return &listClustersResponse{ClusterArns: p, NextToken: next}, nil
}

// nonNil returns s, or an empty slice for nil: ECS sends empty lists as [], and some
// clients index them without a nil check.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
