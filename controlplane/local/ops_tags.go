package local

import "context"

type listTagsForResourceRequest struct {
	ResourceArn string `json:"resourceArn"`
}

type listTagsForResourceResponse struct {
	Tags []tag `json:"tags"`
}

// listTagsForResource serves the agent's task metadata "taskWithTags" lookups: the tags
// of a task, container instance, cluster or task definition.
func (s *Server) listTagsForResource(_ context.Context, in *listTagsForResourceRequest) (*listTagsForResourceResponse, error) {
	typ, rest, ok := s.arn.resource(in.ResourceArn)
	if !ok {
		return nil, errInvalidParameter("Invalid resourceArn %q.", in.ResourceArn)
	}
	var tags []tag
	found := false
	s.view(func(st *state) {
		switch typ {
		case "task":
			if t := st.Tasks[in.ResourceArn]; t != nil {
				tags, found = t.Tags, true
			}
		case "container-instance":
			if inst := st.Instances[in.ResourceArn]; inst != nil {
				tags, found = inst.Tags, true
			}
		case "cluster":
			if c := st.Clusters[rest]; c != nil {
				tags, found = c.Tags, true
			}
		case "task-definition":
			if rec, ok := s.taskDef(st, in.ResourceArn); ok {
				tags, found = rec.Tags, true
			}
		}
	})
	if !found {
		return nil, errInvalidParameter("The specified resource %s was not found.", in.ResourceArn)
	}
	return &listTagsForResourceResponse{Tags: nonNil(tags)}, nil
}
