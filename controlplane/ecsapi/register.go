package ecsapi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Registration is what the agent registers.
type Registration struct {
	Cluster string
	// ContainerInstanceARN is the saved ARN on re-registration, empty the first time.
	ContainerInstanceARN string
	Resources            []types.Resource
	// Attributes are sent as given (capabilities, OS attributes and, on first registration
	// only, ECS_INSTANCE_ATTRIBUTES: the caller decides).
	Attributes map[string]string
	Tags       map[string]string
	// IdentityDocument and IdentitySignature come from IMDS; both empty without IMDS.
	IdentityDocument  string
	IdentitySignature string
}

// Registered is the backend's answer.
type Registered struct {
	ContainerInstanceARN string
	AvailabilityZone     string
	Attributes           map[string]string
}

// Register calls RegisterContainerInstance, retrying transient errors with backoff for at
// most RegisterRetryFor. One client token is used across the retries, so a call that
// succeeded but whose answer was lost does not register a second instance. The error of a
// terminal failure wraps ErrTerminal.
func (c *Client) Register(ctx context.Context, r Registration) (Registered, error) {
	token := newClientToken()
	deadline := time.Now().Add(c.opts.RegisterRetryFor)
	for attempt := 0; ; attempt++ {
		out, err := c.registerOnce(ctx, r, token)
		if err == nil {
			return out, nil
		}
		class := Classify(err)
		if class == Terminal {
			return Registered{}, fmt.Errorf("register container instance: %w", errors.Join(ErrTerminal, err))
		}
		wait := c.opts.RegisterBackoff.Delay(attempt)
		if class == Fatal || time.Now().Add(wait).After(deadline) {
			return Registered{}, fmt.Errorf("register container instance: %w", err)
		}
		c.log.Info("registration failed; retrying", "error", err.Error(), "retryIn", wait.String())
		select {
		case <-ctx.Done():
			return Registered{}, ctx.Err()
		case <-time.After(wait):
		}
	}
}

func (c *Client) registerOnce(ctx context.Context, r Registration, token string) (Registered, error) {
	in := &ecs.RegisterContainerInstanceInput{
		Cluster:                           aws.String(r.Cluster),
		TotalResources:                    r.Resources,
		InstanceIdentityDocument:          aws.String(r.IdentityDocument),
		InstanceIdentityDocumentSignature: aws.String(r.IdentitySignature),
	}
	if r.ContainerInstanceARN != "" {
		in.ContainerInstanceArn = aws.String(r.ContainerInstanceARN)
	}
	for _, k := range sortedKeys(r.Attributes) {
		a := types.Attribute{Name: aws.String(k)}
		if v := r.Attributes[k]; v != "" {
			a.Value = aws.String(v)
		}
		in.Attributes = append(in.Attributes, a)
	}
	for _, k := range sortedKeys(r.Tags) {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(r.Tags[k])})
	}
	cctx, cancel := withTimeout(ctx, 42*time.Second)
	defer cancel()
	out, err := c.api.RegisterContainerInstance(cctx, in, withClientToken(token))
	if err != nil {
		return Registered{}, err
	}
	ci := out.ContainerInstance
	if ci == nil || aws.ToString(ci.ContainerInstanceArn) == "" {
		return Registered{}, fmt.Errorf("RegisterContainerInstance answered without a container instance ARN")
	}
	res := Registered{ContainerInstanceARN: aws.ToString(ci.ContainerInstanceArn), Attributes: map[string]string{}}
	for _, a := range ci.Attributes {
		res.Attributes[aws.ToString(a.Name)] = aws.ToString(a.Value)
	}
	res.AvailabilityZone = res.Attributes["ecs.availability-zone"]
	// Every attribute sent must come back unchanged; otherwise the backend refused it and
	// placement would rely on something this instance does not have.
	for _, k := range sortedKeys(r.Attributes) {
		if got, ok := res.Attributes[k]; !ok || got != r.Attributes[k] {
			return Registered{}, fmt.Errorf("%w: %s=%q (custom attributes: name 1-128 of [A-Za-z0-9-_/.], value 1-128 of letters, digits and -_.@/\\: or space)", ErrAttributeMismatch, k, r.Attributes[k])
		}
	}
	return res, nil
}

// withClientToken adds the agent-only RegisterContainerInstance member clientToken, which
// the public SDK model lacks, to the serialized JSON body.
func withClientToken(token string) func(*ecs.Options) {
	return func(o *ecs.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Build.Add(middleware.BuildMiddlewareFunc("ecsdClientToken",
				func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
					req, ok := in.Request.(*smithyhttp.Request)
					if !ok || req.GetStream() == nil {
						return next.HandleBuild(ctx, in)
					}
					body, err := io.ReadAll(req.GetStream())
					if err != nil {
						return middleware.BuildOutput{}, middleware.Metadata{}, err
					}
					var doc map[string]json.RawMessage
					if err := json.Unmarshal(body, &doc); err != nil {
						return middleware.BuildOutput{}, middleware.Metadata{}, err
					}
					doc["clientToken"], _ = json.Marshal(token)
					if body, err = json.Marshal(doc); err != nil {
						return middleware.BuildOutput{}, middleware.Metadata{}, err
					}
					if req, err = req.SetStream(bytesReader(body)); err != nil {
						return middleware.BuildOutput{}, middleware.Metadata{}, err
					}
					req.ContentLength = int64(len(body))
					in.Request = req
					return next.HandleBuild(ctx, in)
				}), middleware.Before)
		})
	}
}

// newClientToken is a random UUID (version 4), the shape ECS expects.
func newClientToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
