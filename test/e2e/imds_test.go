package e2e

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// imdsEmulator answers the IMDSv2 calls registration makes, on loopback. The agent reaches
// it through AWS_EC2_METADATA_SERVICE_ENDPOINT, never 169.254.169.254.
func imdsEmulator(t *testing.T, region, instanceID string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var docs atomic.Int32
	doc := `{"region":"` + region + `","instanceId":"` + instanceID + `","availabilityZone":"` + region + `b","accountId":"000000000000","instanceType":"m5.large"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
			w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "21600")
			_, _ = w.Write([]byte("emulated-token"))
			return
		}
		if r.Header.Get("X-Aws-Ec2-Metadata-Token") != "emulated-token" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/latest/dynamic/instance-identity/document":
			docs.Add(1)
			_, _ = w.Write([]byte(doc))
		case "/latest/dynamic/instance-identity/signature":
			_, _ = w.Write([]byte("emulated-signature"))
		case "/latest/meta-data/placement/region":
			_, _ = w.Write([]byte(region))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &docs
}

// TestRegistrationUsesIMDS: without AWS_DEFAULT_REGION the region comes from IMDS, and the
// instance identity document reaches ECS with the registration.
func TestRegistrationUsesIMDS(t *testing.T) {
	t.Parallel()
	h := newAgentHost(t)
	b := newBackend(t)
	imds, docs := imdsEmulator(t, backendRegion, "i-0123456789abcdef0")
	h.args = []string{}
	for _, e := range b.agentEnv() {
		if !strings.HasPrefix(e, "AWS_DEFAULT_REGION=") {
			h.env = append(h.env, e)
		}
	}
	h.env = append(h.env, "AWS_DEFAULT_REGION=", "AWS_REGION=", "AWS_EC2_METADATA_DISABLED=false",
		"AWS_EC2_METADATA_SERVICE_ENDPOINT="+imds.URL)
	h.start()
	ci := b.waitConnected(h)
	if got := aws.ToString(ci.Ec2InstanceId); got != "i-0123456789abcdef0" {
		t.Errorf("ECS sees ec2InstanceId %q, want the identity document's", got)
	}
	if docs.Load() == 0 {
		t.Error("the agent never read the identity document")
	}
}
