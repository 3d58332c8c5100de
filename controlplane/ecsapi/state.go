package ecsapi

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// SetDraining sets the container instance DRAINING (UpdateContainerInstancesState), as
// the reference agent does on a Spot interruption notice. A failure ECS reports for the
// instance (in the answer's failures) is an error too. Retrying is the caller's job.
func (c *Client) SetDraining(ctx context.Context, cluster, instanceARN string) error {
	cctx, cancel := withTimeout(ctx, 42*time.Second)
	defer cancel()
	out, err := c.api.UpdateContainerInstancesState(cctx, &ecs.UpdateContainerInstancesStateInput{
		Cluster:            aws.String(cluster),
		ContainerInstances: []string{instanceARN},
		Status:             types.ContainerInstanceStatusDraining,
	})
	if err != nil {
		return fmt.Errorf("set %s DRAINING: %w", instanceARN, err)
	}
	if len(out.Failures) > 0 {
		f := out.Failures[0]
		return fmt.Errorf("set %s DRAINING: %s %s", instanceARN, aws.ToString(f.Reason), aws.ToString(f.Detail))
	}
	return nil
}
