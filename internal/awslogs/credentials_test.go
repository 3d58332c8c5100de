package awslogs

import (
	"context"
	"errors"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/ecsd/ecsd/internal/logcredsapi"
)

type fakeGetter struct {
	c   logcredsapi.Credentials
	err error
	n   int
}

func (f *fakeGetter) Credentials(context.Context, string) (logcredsapi.Credentials, error) {
	f.n++
	return f.c, f.err
}

// While the agent cannot be reached, the credentials the logger has are used until they
// expire, and the agent is asked again soon.
func TestProviderKeepsCredentialsWhileTheAgentIsDown(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(now)
	g := &fakeGetter{c: logcredsapi.Credentials{AccessKeyID: "A", SecretAccessKey: "S", Expiration: now.Add(time.Hour)}}
	p := &Provider{Getter: g, TaskARN: "t", Clock: clk}
	c, err := p.Retrieve(context.Background())
	if err != nil || c.AccessKeyID != "A" || !c.Expires.Equal(now.Add(55*time.Minute)) {
		t.Fatalf("Retrieve = %+v, %v; want a refresh 5 min before expiry", c, err)
	}
	g.err = errors.New("connection refused")
	clk.Step(56 * time.Minute)
	c, err = p.Retrieve(context.Background())
	if err != nil || c.AccessKeyID != "A" || !c.Expires.Equal(clk.Now().Add(retryAfter)) {
		t.Fatalf("agent down: Retrieve = %+v, %v; want the cached credentials, asked again in 30 s", c, err)
	}
	clk.Step(3*time.Minute + 50*time.Second)
	if c, err = p.Retrieve(context.Background()); err != nil || !c.Expires.Equal(now.Add(time.Hour)) {
		t.Fatalf("near expiry: Retrieve = %+v, %v; want them until they expire", c, err)
	}
	clk.Step(time.Minute)
	if _, err := p.Retrieve(context.Background()); err == nil {
		t.Fatal("expired credentials handed out")
	}
}
