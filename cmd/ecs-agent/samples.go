package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/go-logr/logr"

	"github.com/ecsd/ecsd/controlplane/ecsapi"
)

// runSamples registers each task definition file of dir with the (local) control plane and
// runs it once, unless a task of its family is already desired RUNNING: `make run` can be
// repeated without piling up copies. Files are RegisterTaskDefinition input, the format
// of `aws ecs register-task-definition --cli-input-json`.
func runSamples(ctx context.Context, c *ecsapi.Client, cluster, dir string, log logr.Logger) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	api := c.API()
	for _, f := range files {
		if err := runSample(ctx, api, cluster, f, log); err != nil {
			log.Error(err, "sample not run", "file", f)
		}
	}
	return nil
}

func runSample(ctx context.Context, api *ecs.Client, cluster, file string, log logr.Logger) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	// The SDK's input types have no JSON tags; encoding/json matches the model's camelCase
	// member names to their Go names case-insensitively, which is exact for this model.
	var in ecs.RegisterTaskDefinitionInput
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("%s is not a task definition: %w", file, err)
	}
	if aws.ToString(in.Family) == "" {
		return fmt.Errorf("%s: no family", file)
	}
	running, err := api.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(cluster), Family: in.Family, DesiredStatus: types.DesiredStatusRunning})
	if err != nil {
		return err
	}
	if len(running.TaskArns) > 0 {
		log.Info("sample already running", "family", aws.ToString(in.Family), "task", running.TaskArns[0])
		return nil
	}
	td, err := api.RegisterTaskDefinition(ctx, &in)
	if err != nil {
		return err
	}
	out, err := api.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: td.TaskDefinition.TaskDefinitionArn, StartedBy: aws.String("ecsd-samples")})
	if err != nil {
		return err
	}
	for _, f := range out.Failures {
		return fmt.Errorf("run %s: %s %s", aws.ToString(in.Family), aws.ToString(f.Reason), aws.ToString(f.Detail))
	}
	for _, t := range out.Tasks {
		log.Info("sample task started", "family", aws.ToString(in.Family), "task", aws.ToString(t.TaskArn))
	}
	return nil
}
