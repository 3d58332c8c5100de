// Package logcredsapi is the client side of the agent's credentials socket for container
// loggers (server/logcreds serves it): the Credentials a logger gets and the Client it
// asks with. It is apart from the server so the loggers, and the log drivers the
// controllers configure, need nothing of the agent's servers.
package logcredsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Credentials are AWS credentials for a logger. Their text is never logged.
type Credentials struct {
	AccessKeyID     string    `json:"AccessKeyId"`
	SecretAccessKey string    `json:"SecretAccessKey"`
	SessionToken    string    `json:"Token,omitempty"`
	Expiration      time.Time `json:"Expiration,omitzero"`
}

// String keeps the secret members out of logs.
func (c Credentials) String() string {
	return fmt.Sprintf("{expiration:%s}", c.Expiration.UTC().Format(time.RFC3339))
}

// GoString keeps %#v from printing the secrets.
func (c Credentials) GoString() string { return "logcreds.Credentials" + c.String() }

// Client asks the agent's credentials socket; ecsd-logger uses it.
type Client struct {
	http *http.Client
}

// maxResponse bounds an answer.
const maxResponse = 64 << 10

// NewClient returns a client of the socket at path.
func NewClient(path string) *Client {
	return &Client{http: &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", path)
			},
			MaxIdleConns: 1,
		},
	}}
}

// ErrNotFound is the socket's 404: the agent does not know the task (any more).
var ErrNotFound = errors.New("the agent does not know the task")

// Credentials returns the task's log-driver credentials.
func (c *Client) Credentials(ctx context.Context, taskARN string) (Credentials, error) {
	var out Credentials
	err := c.get(ctx, "/v1/credentials?task="+url.QueryEscape(taskARN), &out)
	return out, err
}

// SecretOptions returns the container's resolved log-driver secret options.
func (c *Client) SecretOptions(ctx context.Context, taskARN, container string) (map[string]string, error) {
	var out struct {
		Options map[string]string `json:"options"`
	}
	err := c.get(ctx, "/v1/secret-options?task="+url.QueryEscape(taskARN)+"&container="+url.QueryEscape(container), &out)
	return out.Options, err
}

func (c *Client) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://ecsd"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("agent credentials socket: %w", err)
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, maxResponse)
	switch resp.StatusCode {
	case http.StatusOK:
		if err := json.NewDecoder(body).Decode(v); err != nil {
			return fmt.Errorf("agent credentials socket: %w", err)
		}
		return nil
	case http.StatusNotFound:
		return ErrNotFound
	default:
		b, _ := io.ReadAll(io.LimitReader(body, 512))
		return fmt.Errorf("agent credentials socket: %s: %s", resp.Status, b)
	}
}
