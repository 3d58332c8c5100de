package controllers

import (
	"context"
	"errors"
	"fmt"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/envfiles"
	"github.com/ecsd/ecsd/secrets"
)

// TaskInputs reads, with a task's execution role, what its containers' environments need:
// secret values (SSM, Secrets Manager) and environment files (S3 and local). cmd/ecs-agent
// implements it with the secrets and envfiles packages. Errors wrapping
// secrets.ErrCredentialsPending mean "not yet"; any other error is the reason the task
// stops with.
type TaskInputs interface {
	// ContainerEnv returns container's secrets, reading those of the whole task (refs by
	// container name) on the first call.
	ContainerEnv(ctx context.Context, taskARN string, refs map[string][]api.SecretRef, container string) (map[string]string, error)
	// EnvFiles returns the variables of each file, in order.
	EnvFiles(ctx context.Context, taskARN string, files []api.EnvironmentFile) ([]map[string]string, error)
}

// containerInputs are the values a container's environment gets from outside its spec.
// They exist only while the container is being created and are never stored.
type containerInputs struct {
	secrets map[string]string
	files   []map[string]string
}

// errInputsPending: the execution role credentials the inputs need have not arrived.
var errInputsPending = errors.New("waiting for the task execution role credentials")

// readInputs reads container s.c's secrets and environment files. An error that is not
// errInputsPending is the reason the task stops with, in the reference agent's words.
func (r *CreateReconciler) readInputs(ctx context.Context, s *containerScope) (containerInputs, error) {
	var in containerInputs
	spec := s.c.Spec
	needsAWS := len(spec.Secrets) > 0
	for _, f := range spec.EnvironmentFiles {
		needsAWS = needsAWS || f.Type == envfiles.TypeS3
	}
	if r.Inputs == nil {
		if needsAWS {
			return in, fmt.Errorf("secrets and S3 environment files are not available on this instance")
		}
		files, err := envfiles.New(nil, nil).Read(ctx, spec.EnvironmentFiles, r.Options.Region, nil)
		in.files = files
		return in, err
	}
	if len(spec.Secrets) > 0 {
		// Every container's references, so the task's secrets are read once, together.
		refs := map[string][]api.SecretRef{}
		for name, c := range s.siblings {
			if len(c.Spec.Secrets) > 0 {
				refs[name] = c.Spec.Secrets
			}
		}
		refs[spec.Name] = spec.Secrets
		env, err := r.Inputs.ContainerEnv(ctx, s.task.Spec.ARN, refs, spec.Name)
		if err != nil {
			return in, pendingOr(err)
		}
		in.secrets = env
	}
	files, err := r.Inputs.EnvFiles(ctx, s.task.Spec.ARN, spec.EnvironmentFiles)
	if err != nil {
		return in, pendingOr(err)
	}
	in.files = files
	return in, nil
}

func pendingOr(err error) error {
	if errors.Is(err, secrets.ErrCredentialsPending) {
		return fmt.Errorf("%w: %w", errInputsPending, err)
	}
	return err
}

// failInputs stops the container and every container of its task not created yet with
// reason: as in the reference agent, a task whose secrets or environment files cannot be
// read does not start, and its essential containers carry the reason to the task.
func (r *CreateReconciler) failInputs(ctx context.Context, s *containerScope, reason string) error {
	if err := failContainer(ctx, r.Client, s.c, reason); err != nil {
		return err
	}
	for _, c := range s.siblings {
		if c.Name == s.c.Name || !c.Status.KnownStatus.OrNone().Before(api.ContainerStatusCreated) {
			continue
		}
		if err := failContainer(ctx, r.Client, c, reason); err != nil {
			return err
		}
	}
	return nil
}
