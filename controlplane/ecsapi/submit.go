package ecsapi

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// SubmitTaskStateChange sends one task state change. Retrying is the caller's job (the
// report controller's per-task backoff), which also decides what an error means.
func (c *Client) SubmitTaskStateChange(ctx context.Context, in *ecs.SubmitTaskStateChangeInput) error {
	cctx, cancel := withTimeout(ctx, 42*time.Second)
	defer cancel()
	if _, err := c.api.SubmitTaskStateChange(cctx, in); err != nil {
		return fmt.Errorf("submit task state change: %w", err)
	}
	return nil
}

// SubmitAttachmentStateChanges confirms attachments (instance ENIs, EBS volumes).
func (c *Client) SubmitAttachmentStateChanges(ctx context.Context, in *ecs.SubmitAttachmentStateChangesInput) error {
	cctx, cancel := withTimeout(ctx, 42*time.Second)
	defer cancel()
	if _, err := c.api.SubmitAttachmentStateChanges(cctx, in); err != nil {
		return fmt.Errorf("submit attachment state changes: %w", err)
	}
	return nil
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// CreateCluster creates a cluster (the reference agent does so only for "default").
func (c *Client) CreateCluster(ctx context.Context, name string) error {
	cctx, cancel := withTimeout(ctx, 42*time.Second)
	defer cancel()
	if _, err := c.api.CreateCluster(cctx, &ecs.CreateClusterInput{ClusterName: aws.String(name)}); err != nil {
		return fmt.Errorf("create cluster %s: %w", name, err)
	}
	return nil
}
