package instancetags

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	clocktesting "k8s.io/utils/clock/testing"
)

const tagsXML = `<?xml version="1.0" encoding="UTF-8"?>
<DescribeTagsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><tagSet>
<item><resourceId>i-0abc</resourceId><resourceType>instance</resourceType><key>team</key><value>blue</value></item>
<item><resourceId>i-0abc</resourceId><resourceType>instance</resourceType><key>env</key><value>prod</value></item>
<item><resourceId>i-0abc</resourceId><resourceType>instance</resourceType><key>aws:autoscaling:groupName</key><value>asg</value></item>
<item><resourceId>i-0abc</resourceId><resourceType>instance</resourceType><key>origin</key><value>AWS:cloudformation</value></item>
</tagSet></DescribeTagsResponse>`

// ec2 is a DescribeTags endpoint answering each call with the next of answers (the last
// repeated) and checking the request's form and signature scope.
func ec2(t *testing.T, answers ...func(w http.ResponseWriter)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1)) - 1
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		if got := r.Form.Get("Action") + " " + r.Form.Get("Filter.1.Name") + "=" + r.Form.Get("Filter.1.Value.1") + " " +
			r.Form.Get("Filter.2.Name") + "=" + r.Form.Get("Filter.2.Value.1") + " " + r.Form.Get("MaxResults"); got != "DescribeTags resource-id=i-0abc resource-type=instance 50" {
			t.Errorf("request %q", got)
		}
		if auth := r.Header.Get("Authorization"); !strings.Contains(auth, "Credential=AKIDINSTANCE/") || !strings.Contains(auth, "/us-east-1/ec2/aws4_request") {
			t.Errorf("Authorization %q: not signed for ec2 with the instance key", auth)
		}
		answers[min(n, len(answers)-1)](w)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func ok(w http.ResponseWriter) { _, _ = w.Write([]byte(tagsXML)) }

func fail(status int, code string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`<?xml version="1.0"?><Response><Errors><Error><Code>` + code + `</Code><Message>no</Message></Error></Errors><RequestID>r</RequestID></Response>`))
	}
}

func client(url string, clk *clocktesting.FakeClock) *Client {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDINSTANCE", "secret", "")}
	return New(cfg, url, clk)
}

// stepWhileWaiting moves the fake clock whenever the client sleeps, until done.
func stepWhileWaiting(clk *clocktesting.FakeClock, done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		default:
		}
		if clk.HasWaiters() {
			clk.Step(10 * time.Second)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestInstanceTags: aws:-prefixed keys and values are left out; throttling is retried.
func TestInstanceTags(t *testing.T) {
	srv, calls := ec2(t, fail(http.StatusServiceUnavailable, "Unavailable"), fail(http.StatusBadRequest, "RequestLimitExceeded"), ok)
	clk := clocktesting.NewFakeClock(time.Now())
	done := make(chan struct{})
	go stepWhileWaiting(clk, done)
	tags, err := client(srv.URL, clk).InstanceTags(context.Background(), "i-0abc")
	close(done)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"team": "blue", "env": "prod"}; !reflect.DeepEqual(tags, want) {
		t.Errorf("tags %v, want %v", tags, want)
	}
	if calls.Load() != 3 {
		t.Errorf("%d calls, want 3 (two retried failures)", calls.Load())
	}
}

// TestInstanceTagsRefused: an access denial is not retried and says ErrRefused.
func TestInstanceTagsRefused(t *testing.T) {
	srv, calls := ec2(t, fail(http.StatusForbidden, "UnauthorizedOperation"))
	_, err := client(srv.URL, clocktesting.NewFakeClock(time.Now())).InstanceTags(context.Background(), "i-0abc")
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "UnauthorizedOperation") {
		t.Fatalf("err = %v, want ErrRefused naming UnauthorizedOperation", err)
	}
	if calls.Load() != 1 {
		t.Errorf("%d calls, want 1", calls.Load())
	}
	if _, err := client(srv.URL, nil).InstanceTags(context.Background(), ""); err == nil {
		t.Error("no instance ID: no error")
	}
}

// TestInstanceTagsGivesUp: a server that keeps failing costs five attempts, then an error.
func TestInstanceTagsGivesUp(t *testing.T) {
	srv, calls := ec2(t, fail(http.StatusInternalServerError, "InternalError"))
	clk := clocktesting.NewFakeClock(time.Now())
	done := make(chan struct{})
	go stepWhileWaiting(clk, done)
	_, err := client(srv.URL, clk).InstanceTags(context.Background(), "i-0abc")
	close(done)
	if err == nil || errors.Is(err, ErrRefused) || calls.Load() != attempts {
		t.Fatalf("err = %v after %d calls, want a retryable error after %d", err, calls.Load(), attempts)
	}
}

func TestMerge(t *testing.T) {
	got := Merge(map[string]string{"team": "red", "owner": "ops"}, map[string]string{"team": "blue", "env": "prod"})
	if want := map[string]string{"team": "red", "owner": "ops", "env": "prod"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Merge = %v, want %v (explicit wins)", got, want)
	}
	if got := Merge(nil, nil); got == nil || len(got) != 0 {
		t.Errorf("Merge(nil, nil) = %v", got)
	}
}
