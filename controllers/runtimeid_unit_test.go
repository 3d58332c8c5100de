package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

func TestIndexRuntimeID(t *testing.T) {
	if got := indexRuntimeID(unitTask("app")); got != nil {
		t.Errorf("a Task is indexed as %v", got)
	}
	c := unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning)
	if got := indexRuntimeID(c); got != nil {
		t.Errorf("a container not created yet is indexed as %v", got)
	}
	c.Status.RuntimeID = "abc"
	if got := indexRuntimeID(c); !slices.Equal(got, []string{"abc"}) {
		t.Errorf("indexed as %v, want [abc]", got)
	}
}

// TestChooseRuntimeID: a recorded ID is kept; an older agent's container under the old-form
// ID is adopted only when its labels say it is this container; otherwise the derived ID.
func TestChooseRuntimeID(t *testing.T) {
	task := unitTask("app")
	c := unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning)
	legacy, derived := api.LegacyRuntimeID(c), api.ContainerRuntimeID(task, c)
	ours := map[string]string{api.LabelTaskARN: task.Spec.ARN, api.LabelContainerName: "app"}
	for _, tc := range []struct {
		name      string
		recorded  string
		inspect   func(id string) (runtime.ContainerState, error)
		wantID    string
		wantAdopt bool
		wantErr   error
	}{
		{name: "a recorded ID is kept without asking the runtime", recorded: "recorded-id", wantID: "recorded-id"},
		{name: "no old-form container: the derived ID",
			inspect: func(id string) (runtime.ContainerState, error) {
				return runtime.ContainerState{}, fmt.Errorf("container %s: %w", id, runtime.ErrNotFound)
			},
			wantID: derived},
		{name: "an old-form container of this task and name is adopted",
			inspect: func(id string) (runtime.ContainerState, error) {
				return runtime.ContainerState{ID: id, Labels: ours, Status: runtime.StatusCreated}, nil
			},
			wantID: legacy, wantAdopt: true},
		{name: "an old-form container of another task is not adopted",
			inspect: func(id string) (runtime.ContainerState, error) {
				return runtime.ContainerState{ID: id, Labels: map[string]string{api.LabelTaskARN: "arn:other", api.LabelContainerName: "app"}}, nil
			},
			wantID: derived},
		{name: "an old-form container of another name is not adopted",
			inspect: func(id string) (runtime.ContainerState, error) {
				return runtime.ContainerState{ID: id, Labels: map[string]string{api.LabelTaskARN: task.Spec.ARN, api.LabelContainerName: "other"}}, nil
			},
			wantID: derived},
		{name: "a runtime that cannot answer: retry later, create nothing",
			inspect: func(string) (runtime.ContainerState, error) {
				return runtime.ContainerState{}, fmt.Errorf("dial: %w", runtime.ErrUnavailable)
			},
			wantErr: runtime.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked []string
			rt := &unitRuntime{inspectContainer: func(id string) (runtime.ContainerState, error) {
				asked = append(asked, id)
				return tc.inspect(id)
			}}
			c := c.DeepCopy()
			c.Status.RuntimeID = tc.recorded
			id, adopt, err := unitCreate(t, unitOptions(t), Deps{Runtime: rt}).chooseRuntimeID(context.Background(), &containerScope{task: task, c: c})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || id != "" {
					t.Fatalf("got %q, %v; want no ID and %v", id, err, tc.wantErr)
				}
				return
			}
			if err != nil || id != tc.wantID || adopt != tc.wantAdopt {
				t.Fatalf("got %q adopt %v err %v; want %q adopt %v", id, adopt, err, tc.wantID, tc.wantAdopt)
			}
			if tc.inspect != nil && !slices.Equal(asked, []string{legacy}) {
				t.Fatalf("runtime asked about %v, want only the old-form ID %s", asked, legacy)
			}
		})
	}
}
