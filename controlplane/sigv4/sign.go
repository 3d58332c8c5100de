package sigv4

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SignWebsocketHandshake signs the ACS or TCS websocket handshake the way the reference
// agent does: a GET of rawURL (query included) for service "ecs" with the empty payload
// hash. It returns the headers to put on the upgrade request: Authorization, X-Amz-Date
// and, for session credentials, X-Amz-Security-Token. rawURL may use the http(s) form
// DiscoverPollEndpoint returns or the ws(s) form that is dialled; both sign the same.
func SignWebsocketHandshake(ctx context.Context, creds aws.CredentialsProvider, region, rawURL string) (http.Header, error) {
	return signHandshakeAt(ctx, creds, region, rawURL, time.Now())
}

func signHandshakeAt(ctx context.Context, creds aws.CredentialsProvider, region, rawURL string, at time.Time) (http.Header, error) {
	req, err := signedGet(ctx, creds, region, rawURL, EmptyPayloadHash, at)
	if err != nil {
		return nil, err
	}
	out := http.Header{}
	for _, k := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
		if v := req.Header.Get(k); v != "" {
			out.Set(k, v)
		}
	}
	return out, nil
}

// signedGet builds a GET of rawURL with no body and signs it with payloadHash.
func signedGet(ctx context.Context, creds aws.CredentialsProvider, region, rawURL, payloadHash string, at time.Time) (*http.Request, error) {
	if creds == nil {
		return nil, fmt.Errorf("sign %s: no credentials provider", redactURL(rawURL))
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("sign: parse URL: %w", err)
	}
	u.Scheme = httpScheme(u.Scheme)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", redactURL(rawURL), err)
	}
	c, err := creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("sign %s: retrieve credentials: %w", redactURL(rawURL), err)
	}
	if err := v4.NewSigner().SignHTTP(ctx, c, req, payloadHash, ServiceECS, region, at); err != nil {
		return nil, fmt.Errorf("sign %s: %w", redactURL(rawURL), err)
	}
	return req, nil
}

// httpScheme maps the websocket schemes to the HTTP ones they upgrade from, so that a
// URL signs the same in either form (the signer drops default ports by HTTP scheme).
func httpScheme(s string) string {
	switch strings.ToLower(s) {
	case "ws":
		return "http"
	case "wss":
		return "https"
	}
	return s
}

// redactURL drops the query from a URL for error messages: it names the cluster and
// instance, harmless, but keeping errors short and free of parameters is simpler to audit.
func redactURL(raw string) string {
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		return raw[:i]
	}
	return raw
}
