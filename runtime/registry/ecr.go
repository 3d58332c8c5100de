package registry

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/runtime"
)

// ecrAuth returns the ECR token for image's registry, from the cache while it is valid.
func (r *Resolver) ecrAuth(ctx context.Context, image string, ra *api.RegistryAuth, taskARN string) (*runtime.Auth, error) {
	region := cmp.Or(ra.Region, r.o.region)
	if region == "" {
		return nil, fmt.Errorf("%w: no region for registry %q", ErrECR, ra.RegistryID)
	}
	var s signer
	var err error
	if ra.UseExecutionRole {
		s, err = r.executionRole(taskARN)
	} else {
		s, err = r.agentRole()
	}
	if err != nil {
		return nil, err
	}
	key := tokenKey{region: region, registryID: ra.RegistryID, identity: s.identity}
	tok, ok := r.tokens.get(key, r.o.now().Add(r.o.margin))
	if !ok {
		// The fetch is shared, so it must not die with whichever caller started it: it is
		// bounded by the SDK's retries and the HTTP client's timeout instead, and each caller
		// stops waiting when its own context ends.
		ch := r.fetches.DoChan(key.String(), func() (any, error) {
			return r.fetchToken(context.WithoutCancel(ctx), key, s)
		})
		select {
		case res := <-ch:
			if res.Err != nil {
				return nil, res.Err
			}
			tok = res.Val.(token)
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: get authorization token: %w", ErrECR, context.Cause(ctx))
		}
	}
	host := runtime.RegistryHost(image)
	if tok.host != host {
		return nil, fmt.Errorf("%w: the token for registry %q (region %s) is for %s, not for the image's registry %s",
			ErrECR, ra.RegistryID, region, tok.host, host)
	}
	a := tok.auth
	return &a, nil
}

// fetchToken calls GetAuthorizationToken and caches the answer until its expiry.
func (r *Resolver) fetchToken(ctx context.Context, key tokenKey, s signer) (token, error) {
	client := ecr.NewFromConfig(r.o.aws.Config(key.region, s.provider), func(o *ecr.Options) {
		if r.o.ecrURL != "" {
			o.BaseEndpoint = aws.String(r.o.ecrURL)
		}
	})
	in := &ecr.GetAuthorizationTokenInput{}
	if key.registryID != "" {
		in.RegistryIds = []string{key.registryID}
	}
	out, err := client.GetAuthorizationToken(ctx, in)
	if err != nil {
		return token{}, fmt.Errorf("%w: get authorization token for registry %q in %s: %w", ErrECR, key.registryID, key.region, err)
	}
	if len(out.AuthorizationData) == 0 {
		return token{}, fmt.Errorf("%w: no authorization data for registry %q in %s", ErrECR, key.registryID, key.region)
	}
	tok, err := parseToken(out.AuthorizationData[0].AuthorizationToken, out.AuthorizationData[0].ProxyEndpoint)
	if err != nil {
		return token{}, fmt.Errorf("%w: registry %q in %s: %w", ErrECR, key.registryID, key.region, err)
	}
	if exp := out.AuthorizationData[0].ExpiresAt; exp != nil {
		tok.expires = *exp
		r.tokens.put(key, tok, r.o.now())
	}
	r.o.log.V(1).Info("fetched ECR authorization token", "region", key.region, "registryId", key.registryID,
		"proxyEndpoint", tok.host, "expiresAt", tok.expires)
	return tok, nil
}

// parseToken decodes a base64 "user:password" token. Its contents never go into the error.
func parseToken(b64, proxyEndpoint *string) (token, error) {
	if b64 == nil || proxyEndpoint == nil {
		return token{}, fmt.Errorf("authorization data without a token or a proxy endpoint")
	}
	u, err := url.Parse(*proxyEndpoint)
	if err != nil || u.Host == "" {
		return token{}, fmt.Errorf("proxy endpoint %q is not a URL", *proxyEndpoint)
	}
	raw, err := base64.StdEncoding.DecodeString(*b64)
	if err != nil {
		return token{}, fmt.Errorf("authorization token is not base64")
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || user == "" || pass == "" {
		return token{}, fmt.Errorf("authorization token is not user:password")
	}
	return token{auth: runtime.Auth{Username: user, Password: pass}, host: u.Host}, nil
}

// tokenKey is what a token is good for: one registry in one region, obtained as one role.
type tokenKey struct {
	region, registryID, identity string
}

func (k tokenKey) String() string { return k.region + "\x00" + k.registryID + "\x00" + k.identity }

// token is a decoded ECR authorization token.
type token struct {
	auth runtime.Auth
	// host is the registry the token is for (the proxy endpoint's host).
	host    string
	expires time.Time
}

// tokenCache holds ECR tokens until they expire. ECR tokens live 12 hours and the reference
// agent caches them too: without a cache every pull would call ECR.
type tokenCache struct {
	mu      sync.Mutex
	entries map[tokenKey]token
}

// get returns the token for key if it is still valid at validAt (now plus the margin).
func (c *tokenCache) get(key tokenKey, validAt time.Time) (token, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.entries[key]
	if !ok || !validAt.Before(t.expires) {
		return token{}, false
	}
	return t, true
}

// put stores t and drops expired tokens, so the cache stays as small as the set of roles and
// registries in use.
func (c *tokenCache) put(key tokenKey, t token, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	c.entries[key] = t
}
