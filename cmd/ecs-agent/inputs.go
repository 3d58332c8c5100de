package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/envfiles"
	"github.com/ecsd/ecsd/secrets"
)

// taskInputs gives the engine a task's secrets and environment files, both read with the
// task's execution role (controllers.TaskInputs).
type taskInputs struct {
	secrets *secrets.Resolver
	files   *envfiles.Reader
	// region is where S3 environment files are read (the agent's, as the reference does).
	region string
}

func (t *taskInputs) ContainerEnv(ctx context.Context, taskARN string, refs map[string][]api.SecretRef, container string) (map[string]string, error) {
	return t.secrets.ContainerEnv(ctx, taskARN, refs, container)
}

func (t *taskInputs) EnvFiles(ctx context.Context, taskARN string, files []api.EnvironmentFile) ([]map[string]string, error) {
	return t.files.Read(ctx, files, t.region, func() (aws.CredentialsProvider, error) {
		return t.secrets.ExecutionRole(taskARN, "environment file")
	})
}
