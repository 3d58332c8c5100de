package ecsapi

import (
	"bytes"
	"context"
	"fmt"
	"time"

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
