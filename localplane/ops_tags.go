package localplane

import (
	"context"
	"strings"
)

// ECS's tag limits: user tags per resource, key and value lengths, and the prefix
// reserved for AWS.
const (
	maxTags        = 50
	maxTagKeyLen   = 128
	maxTagValueLen = 256
	reservedPrefix = "aws:"
)

// RunTask's and StartTask's propagateTags values.
const (
	propagateNone           = "NONE"
	propagateTaskDefinition = "TASK_DEFINITION"
	propagateService        = "SERVICE"
)

type listTagsForResourceRequest struct {
	ResourceArn string `json:"resourceArn"`
}

type listTagsForResourceResponse struct {
	Tags []tag `json:"tags"`
}

type tagResourceRequest struct {
	ResourceArn string `json:"resourceArn"`
	Tags        []tag  `json:"tags"`
}

type untagResourceRequest struct {
	ResourceArn string   `json:"resourceArn"`
	TagKeys     []string `json:"tagKeys"`
}

// tagResourceResponse is TagResource's and UntagResource's empty answer.
type tagResourceResponse struct{}

// listTagsForResource serves the agent's task metadata "taskWithTags" lookups: the tags
// of a task, container instance, cluster or task definition.
func (s *Server) listTagsForResource(_ context.Context, in *listTagsForResourceRequest) (*listTagsForResourceResponse, error) {
	var tags []tag
	var err error
	s.view(func(st *state) {
		var p *[]tag
		if p, err = s.tagsOf(st, in.ResourceArn); err == nil {
			tags = *p
		}
	})
	if err != nil {
		return nil, err
	}
	return &listTagsForResourceResponse{Tags: nonNil(tags)}, nil
}

// tagResource adds tags to a resource, replacing the values of keys it already has.
func (s *Server) tagResource(_ context.Context, in *tagResourceRequest) (*tagResourceResponse, error) {
	if len(in.Tags) == 0 {
		return nil, errInvalidParameter("tags must not be empty.")
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	err := s.update(func(st *state) error {
		p, err := s.tagsOf(st, in.ResourceArn)
		if err != nil {
			return err
		}
		merged := mergeTags(*p, in.Tags)
		if len(merged) > maxTags {
			return errInvalidParameter("A resource can have at most %d tags.", maxTags)
		}
		*p = merged
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &tagResourceResponse{}, nil
}

// untagResource removes tag keys from a resource; keys it does not have are ignored.
func (s *Server) untagResource(_ context.Context, in *untagResourceRequest) (*tagResourceResponse, error) {
	if len(in.TagKeys) == 0 {
		return nil, errInvalidParameter("tagKeys must not be empty.")
	}
	for _, k := range in.TagKeys {
		if isReservedTagKey(k) {
			return nil, errInvalidParameter("Tag keys with the prefix %q are reserved for AWS use.", reservedPrefix)
		}
	}
	err := s.update(func(st *state) error {
		p, err := s.tagsOf(st, in.ResourceArn)
		if err != nil {
			return err
		}
		drop := make(map[string]bool, len(in.TagKeys))
		for _, k := range in.TagKeys {
			drop[k] = true
		}
		kept := make([]tag, 0, len(*p))
		for _, t := range *p {
			if !drop[t.Key] {
				kept = append(kept, t)
			}
		}
		*p = kept
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &tagResourceResponse{}, nil
}

// tagsOf returns where the tags of the resource arn are stored. Callers holding the
// lock in update replace the slice, never modify it in place, so a slice handed out by
// listTagsForResource stays valid after the lock is released.
func (s *Server) tagsOf(st *state, arn string) (*[]tag, error) {
	typ, rest, ok := s.arn.resource(arn)
	if !ok {
		return nil, errInvalidParameter("Invalid resourceArn %q.", arn)
	}
	switch typ {
	case "task":
		if t := st.Tasks[arn]; t != nil {
			return &t.Tags, nil
		}
	case "container-instance":
		if inst := st.Instances[arn]; inst != nil {
			return &inst.Tags, nil
		}
	case "cluster":
		if c := st.Clusters[rest]; c != nil {
			return &c.Tags, nil
		}
	case "task-definition":
		if rec, ok := s.taskDef(st, arn); ok {
			return &rec.Tags, nil
		}
	}
	return nil, errInvalidParameter("The specified resource %s was not found.", arn)
}

// launchTags are the tags a new task gets: with propagateTags=TASK_DEFINITION the
// definition's tags, then the request's, which win on a shared key.
func launchTags(def *taskDefRecord, propagate string, request []tag) ([]tag, error) {
	if err := validateTags(request); err != nil {
		return nil, err
	}
	switch propagate {
	case "", propagateNone:
		return request, nil
	case propagateTaskDefinition:
		tags := mergeTags(nil, def.Tags)
		tags = mergeTags(tags, request)
		if len(tags) > maxTags {
			return nil, errInvalidParameter("A task can have at most %d tags.", maxTags)
		}
		return tags, nil
	case propagateService:
		return nil, errInvalidParameter("Tags can only be propagated from a service for tasks a service starts.")
	}
	return nil, errInvalidParameter("Invalid propagateTags value %q.", propagate)
}

// validateTags applies ECS's limits to user tags.
func validateTags(tags []tag) error {
	if len(tags) > maxTags {
		return errInvalidParameter("A resource can have at most %d tags.", maxTags)
	}
	for _, t := range tags {
		switch {
		case t.Key == "" || len(t.Key) > maxTagKeyLen:
			return errInvalidParameter("Tag keys must be between 1 and %d characters.", maxTagKeyLen)
		case len(t.Value) > maxTagValueLen:
			return errInvalidParameter("Tag values must be at most %d characters.", maxTagValueLen)
		case isReservedTagKey(t.Key):
			return errInvalidParameter("Tag keys with the prefix %q are reserved for AWS use.", reservedPrefix)
		}
	}
	return nil
}

func isReservedTagKey(k string) bool {
	return len(k) >= len(reservedPrefix) && strings.EqualFold(k[:len(reservedPrefix)], reservedPrefix)
}

// mergeTags returns a new slice: base with add's values for keys both have, and add's
// other keys appended in order.
func mergeTags(base, add []tag) []tag {
	out := make([]tag, len(base), len(base)+len(add))
	copy(out, base)
	at := make(map[string]int, len(out))
	for i, t := range out {
		at[t.Key] = i
	}
	for _, t := range add {
		if i, ok := at[t.Key]; ok {
			out[i].Value = t.Value
			continue
		}
		at[t.Key] = len(out)
		out = append(out, t)
	}
	return out
}
