package controllers

import (
	"encoding/json"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// adoptionRecordVersion is the format of the record kept with each runtime container.
const adoptionRecordVersion = 1

// adoptionRecord is what the create controller keeps with every runtime container
// (runtime.ContainerConfig.Record): the task's spec and the specs of all its containers, as
// the control plane sent them, with the labels and owner references of their objects. It is
// enough to rebuild the task's objects from the runtime alone when the checkpoint lost them
// (Adopter), including containers of the task not created yet. It carries no secrets: task
// role and execution credentials live in the credentials manager and the specs only name
// them by ID (which the containers' environment in the runtime holds anyway).
type adoptionRecord struct {
	Version    int                 `json:"version"`
	Task       recordedTask        `json:"task"`
	Containers []recordedContainer `json:"containers"`
}

type recordedTask struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	Spec   api.TaskSpec      `json:"spec"`
}

type recordedContainer struct {
	Name            string                  `json:"name"`
	Labels          map[string]string       `json:"labels,omitempty"`
	OwnerReferences []metav1.OwnerReference `json:"ownerReferences,omitempty"`
	Spec            api.ContainerSpec       `json:"spec"`
}

// encodeAdoptionRecord builds the record for a container of task t; siblings are the task's
// Container objects by container name.
func encodeAdoptionRecord(t *api.Task, siblings map[string]*api.Container) ([]byte, error) {
	r := adoptionRecord{
		Version: adoptionRecordVersion,
		Task:    recordedTask{Name: t.Name, Labels: t.Labels, Spec: t.Spec},
	}
	for _, name := range t.Spec.Containers {
		c, ok := siblings[name]
		if !ok {
			continue
		}
		r.Containers = append(r.Containers, recordedContainer{Name: c.Name, Labels: c.Labels, OwnerReferences: c.OwnerReferences, Spec: c.Spec})
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode adoption record: %w", err)
	}
	if len(b) > runtime.MaxRecordSize {
		return nil, fmt.Errorf("adoption record of %d bytes is larger than the runtime keeps (%d)", len(b), runtime.MaxRecordSize)
	}
	return b, nil
}

// errBadRecord marks a record that cannot be used to rebuild its task.
var errBadRecord = errors.New("unusable adoption record")

// decodeAdoptionRecord decodes a record and checks it describes task taskName with ARN arn.
func decodeAdoptionRecord(b []byte, taskName, arn string) (*adoptionRecord, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: the container has none (created by an older agent?)", errBadRecord)
	}
	var r adoptionRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadRecord, err)
	}
	switch {
	case r.Version != adoptionRecordVersion:
		return nil, fmt.Errorf("%w: version %d, this agent reads %d", errBadRecord, r.Version, adoptionRecordVersion)
	case r.Task.Name != taskName || r.Task.Spec.ARN != arn:
		return nil, fmt.Errorf("%w: it describes task %q (%s), the container's labels say %q (%s)", errBadRecord, r.Task.Name, r.Task.Spec.ARN, taskName, arn)
	}
	listed := make(map[string]bool, len(r.Task.Spec.Containers))
	for _, n := range r.Task.Spec.Containers {
		listed[n] = true
	}
	seen := map[string]bool{}
	for _, c := range r.Containers {
		switch {
		case c.Spec.TaskName != taskName || c.Name != api.ContainerName(taskName, c.Spec.Name):
			return nil, fmt.Errorf("%w: container %q does not belong to task %q", errBadRecord, c.Name, taskName)
		case !listed[c.Spec.Name] || seen[c.Spec.Name]:
			return nil, fmt.Errorf("%w: container %q is not listed once in the task", errBadRecord, c.Spec.Name)
		}
		seen[c.Spec.Name] = true
	}
	return &r, nil
}

// container returns the recorded container named name (the name within the task), or nil.
func (r *adoptionRecord) container(name string) *recordedContainer {
	for i := range r.Containers {
		if r.Containers[i].Spec.Name == name {
			return &r.Containers[i]
		}
	}
	return nil
}
