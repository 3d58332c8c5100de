package imdsget

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

// TestClientGet: a value (trimmed), a 404 as ErrNotFound, another status kept for
// StatusCode and Transient, through the SDK's IMDSv2 client against a loopback server.
func TestClientGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			_, _ = w.Write([]byte("token"))
			return
		}
		switch r.URL.Path {
		case "/latest/meta-data/autoscaling/target-lifecycle-state":
			_, _ = w.Write([]byte("InService\n"))
		case "/latest/meta-data/busy":
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case "/latest/meta-data/denied":
			http.Error(w, "denied", http.StatusForbidden)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := Client{IMDS: imds.New(imds.Options{Endpoint: srv.URL, Retryer: aws.NopRetryer{}})}
	ctx := context.Background()
	if v, err := c.Get(ctx, "autoscaling/target-lifecycle-state"); err != nil || v != "InService" {
		t.Errorf("Get = %q, %v", v, err)
	}
	if _, err := c.Get(ctx, "spot/instance-action"); !errors.Is(err, ErrNotFound) || StatusCode(err) != 404 || Transient(err) {
		t.Errorf("absent path: %v", err)
	}
	if _, err := c.Get(ctx, "busy"); StatusCode(err) != 503 || !Transient(err) {
		t.Errorf("503: %v (status %d)", err, StatusCode(err))
	}
	if _, err := c.Get(ctx, "denied"); StatusCode(err) != 403 || Transient(err) {
		t.Errorf("403: %v", err)
	}
	if StatusCode(&StatusError{Code: 429}) != 429 || !Transient(&StatusError{Code: 429}) || StatusCode(errors.New("refused")) != 0 {
		t.Error("StatusError")
	}
}
