package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/envfiles"
	"github.com/ecsd/ecsd/secrets"
)

func TestPendingOr(t *testing.T) {
	pending := fmt.Errorf("ssm: %w", secrets.ErrCredentialsPending)
	got := pendingOr(pending)
	if !errors.Is(got, errInputsPending) || !errors.Is(got, secrets.ErrCredentialsPending) {
		t.Errorf("pendingOr(%v) = %v, want it to be errInputsPending and keep its cause", pending, got)
	}
	final := errors.New("ResourceNotFoundException: Secrets Manager can't find the specified secret")
	if got := pendingOr(final); got != final { //nolint:errorlint // the very same error, not one wrapping it
		t.Errorf("pendingOr(%v) = %v, want the error unchanged: it is the task's stop reason", final, got)
	}
}

// unitInputs is a TaskInputs that records its calls.
type unitInputs struct {
	env      map[string]string
	envErr   error
	files    []map[string]string
	filesErr error
	refs     map[string][]api.SecretRef
	asked    []string
}

func (u *unitInputs) ContainerEnv(_ context.Context, taskARN string, refs map[string][]api.SecretRef, container string) (map[string]string, error) {
	u.refs = refs
	u.asked = append(u.asked, "env "+taskARN+" "+container)
	return u.env, u.envErr
}

func (u *unitInputs) EnvFiles(_ context.Context, taskARN string, files []api.EnvironmentFile) ([]map[string]string, error) {
	u.asked = append(u.asked, fmt.Sprintf("files %s %d", taskARN, len(files)))
	return u.files, u.filesErr
}

// TestReadInputs covers where a container's secrets and environment files come from and
// what happens when they cannot be read.
func TestReadInputs(t *testing.T) {
	secret := func(name string) api.SecretRef {
		return api.SecretRef{Name: name, ValueFrom: "/p/" + name, Provider: api.SecretProviderSSM, Target: api.SecretTargetContainer}
	}
	withSecrets := func(names ...string) func(*api.Container) {
		return func(c *api.Container) {
			for _, n := range names {
				c.Spec.Secrets = append(c.Spec.Secrets, secret(n))
			}
		}
	}
	s3file := func(c *api.Container) {
		c.Spec.EnvironmentFiles = []api.EnvironmentFile{{Type: envfiles.TypeS3, Value: "arn:aws:s3:::bucket/app.env"}}
	}
	task := unitTask("app", "side", "plain")
	side := unitContainer("side", api.ContainerStatusPulled, api.ContainerStatusRunning, withSecrets("SIDE_TOKEN"))
	plain := unitContainer("plain", api.ContainerStatusPulled, api.ContainerStatusRunning)

	t.Run("without an inputs reader, secrets are refused", func(t *testing.T) {
		e := unitCreate(t, unitOptions(t), Deps{})
		app := unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning, withSecrets("DB_PASSWORD"))
		_, err := e.readInputs(context.Background(), &containerScope{task: task, c: app, siblings: unitSiblings(app, side, plain)})
		if err == nil || errors.Is(err, errInputsPending) || !strings.Contains(err.Error(), "secrets and S3 environment files are not available on this instance") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("without an inputs reader, S3 environment files are refused", func(t *testing.T) {
		e := unitCreate(t, unitOptions(t), Deps{})
		app := unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning, s3file)
		if _, err := e.readInputs(context.Background(), &containerScope{task: task, c: app}); err == nil {
			t.Fatal("an S3 environment file was read without credentials")
		}
	})
	t.Run("without an inputs reader, local environment files are read", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "app.env")
		if err := os.WriteFile(path, []byte("# comment\nMODE=dev\nLEVEL=3\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		e := unitCreate(t, unitOptions(t), Deps{})
		app := unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning, func(c *api.Container) {
			c.Spec.EnvironmentFiles = []api.EnvironmentFile{{Type: envfiles.TypeLocal, Value: path}}
		})
		in, err := e.readInputs(context.Background(), &containerScope{task: task, c: app})
		if err != nil {
			t.Fatal(err)
		}
		if len(in.files) != 1 || in.files[0]["MODE"] != "dev" || in.files[0]["LEVEL"] != "3" {
			t.Fatalf("files %v", in.files)
		}
	})
	t.Run("a task's secrets are read together, for every container that has some", func(t *testing.T) {
		u := &unitInputs{env: map[string]string{"DB_PASSWORD": "pw"}, files: []map[string]string{{"A": "1"}}}
		app := unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning, withSecrets("DB_PASSWORD"))
		in, err := unitCreate(t, unitOptions(t), Deps{Inputs: u}).readInputs(context.Background(), &containerScope{task: task, c: app, siblings: unitSiblings(app, side, plain)})
		if err != nil {
			t.Fatal(err)
		}
		if in.secrets["DB_PASSWORD"] != "pw" || len(in.files) != 1 || in.files[0]["A"] != "1" {
			t.Fatalf("inputs %+v", in)
		}
		if got := slices.Sorted(maps.Keys(u.refs)); !slices.Equal(got, []string{"app", "side"}) {
			t.Fatalf("secret references of %v, want app and side (plain has none)", got)
		}
		if want := []string{"env " + task.Spec.ARN + " app", "files " + task.Spec.ARN + " 0"}; !slices.Equal(u.asked, want) {
			t.Fatalf("asked %v, want %v", u.asked, want)
		}
	})
	t.Run("a container without secrets does not read them", func(t *testing.T) {
		u := &unitInputs{}
		if _, err := unitCreate(t, unitOptions(t), Deps{Inputs: u}).readInputs(context.Background(), &containerScope{task: task, c: plain}); err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(u.asked, func(a string) bool { return strings.HasPrefix(a, "env") }) {
			t.Fatalf("secrets read for a container without any: %v", u.asked)
		}
	})
	for _, tc := range []struct {
		name        string
		u           *unitInputs
		pending     bool
		wantMessage string
	}{
		{"secrets waiting for the execution role: pending", &unitInputs{envErr: fmt.Errorf("ssm: %w", secrets.ErrCredentialsPending)}, true, ""},
		{"environment files waiting for the execution role: pending", &unitInputs{filesErr: fmt.Errorf("s3: %w", secrets.ErrCredentialsPending)}, true, ""},
		{"a secret that cannot be read is the reason", &unitInputs{envErr: errors.New("ParameterNotFound: /p/DB_PASSWORD")}, false, "ParameterNotFound: /p/DB_PASSWORD"},
		{"a file that cannot be read is the reason", &unitInputs{filesErr: errors.New("AccessDenied: bucket/app.env")}, false, "AccessDenied: bucket/app.env"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning, withSecrets("DB_PASSWORD"))
			_, err := unitCreate(t, unitOptions(t), Deps{Inputs: tc.u}).readInputs(context.Background(), &containerScope{task: task, c: app})
			if errors.Is(err, errInputsPending) != tc.pending {
				t.Fatalf("err = %v, pending %v, want pending %v", err, !tc.pending, tc.pending)
			}
			if tc.wantMessage != "" && (err == nil || err.Error() != tc.wantMessage) {
				t.Fatalf("err = %v, want exactly %q as the stop reason", err, tc.wantMessage)
			}
		})
	}
}
