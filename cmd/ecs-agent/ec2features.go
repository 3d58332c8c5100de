package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/go-logr/logr"

	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/internal/awsclient"
	"github.com/ecsd/ecsd/internal/imdsget"
	"github.com/ecsd/ecsd/internal/instancetags"
	"github.com/ecsd/ecsd/internal/spotdrain"
	"github.com/ecsd/ecsd/internal/warmpool"
)

// noIMDS says why a feature that reads the instance metadata does nothing on this host.
const noIMDS = "there is no instance metadata service here (local mode, ECS_EXTERNAL=true or AWS_EC2_METADATA_DISABLED=true)"

// waitForWarmPool holds registration while the instance is in an Auto Scaling warm pool
// (ECS_WARM_POOLS_CHECK). Failing to learn the lifecycle state is terminal, as with the
// reference agent: an instance that may be warmed must not join the cluster.
func waitForWarmPool(ctx context.Context, cfg *config.Config, md *imds.Client, log logr.Logger) error {
	if !cfg.WarmPoolsSupport.Enabled() {
		return nil
	}
	if md == nil {
		log.Info("ECS_WARM_POOLS_CHECK has no effect: " + noIMDS)
		return nil
	}
	err := warmpool.Wait(ctx, warmpool.Options{Metadata: imdsget.Client{IMDS: md}, PollInterval: cfg.WarmPoolsPollInterval, Log: log})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("%w: ECS_WARM_POOLS_CHECK: %w", errTerminal, err)
	}
	return err
}

// ec2InstanceTags reads the instance's EC2 tags when
// ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM=ec2_instance, signed with the instance's
// credentials. A failure is terminal, as with the reference agent: the SDK-level retries
// are spent, and registering without the tags would place tasks by a wrong picture.
func ec2InstanceTags(ctx context.Context, cfg *config.Config, f *awsclient.Factory, be backend, instanceID string, local bool, log logr.Logger) (map[string]string, error) {
	if cfg.ContainerInstancePropagateTagsFrom != config.ContainerInstancePropagateTagsFromEC2InstanceType {
		return nil, nil
	}
	if local {
		log.Info("ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM=ec2_instance has no effect in local mode: the local control plane's instances are not EC2 instances")
		return nil, nil
	}
	if instanceID == "" {
		return nil, fmt.Errorf("%w: ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM=ec2_instance needs the EC2 instance ID, and the instance identity document could not be read (%s)",
			errTerminal, "is this an EC2 instance with its metadata service reachable?")
	}
	client := instancetags.New(f.Config(cfg.AWSRegion, be.creds), f.ServiceEndpoint(ctx, "EC2"), nil)
	tags, err := client.InstanceTags(ctx, instanceID)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM=ec2_instance: %w", errTerminal, err)
	}
	log.Info("registering the EC2 instance's tags with the container instance", "instance", instanceID, "tags", len(tags))
	return tags, nil
}

// registrationTags are the tags sent with RegisterContainerInstance: the configured ones
// over the EC2 instance's, if propagated.
func registrationTags(cfg *config.Config, id identity) map[string]string {
	if id.ec2Tags == nil {
		return cfg.ContainerInstanceTags
	}
	return instancetags.Merge(cfg.ContainerInstanceTags, id.ec2Tags)
}

// spotDraining returns the Spot interruption watcher of ECS_ENABLE_SPOT_INSTANCE_DRAINING,
// or nil when it is off or cannot work here (said in a log line).
func spotDraining(cfg *config.Config, md *imds.Client, cp *connected, log logr.Logger) func(context.Context) {
	if !cfg.SpotInstanceDrainingEnabled.Enabled() {
		return nil
	}
	if md == nil {
		log.Info("ECS_ENABLE_SPOT_INSTANCE_DRAINING has no effect: " + noIMDS)
		return nil
	}
	log.Info("watching for Spot interruption notices", "path", spotdrain.Path, "every", spotdrain.DefaultInterval)
	return func(ctx context.Context) {
		_ = spotdrain.Run(ctx, spotdrain.Options{
			Metadata: imdsget.Client{IMDS: md},
			Drain: func(ctx context.Context) error {
				return cp.client.SetDraining(ctx, cfg.Cluster, cp.reg.ContainerInstanceARN)
			},
			Log: log,
		})
	}
}
