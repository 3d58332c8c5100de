package tmds

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestCredentials(t *testing.T) {
	f := newFixture(t)
	ok := func(role, key string) string {
		return `{"RoleArn":"arn:aws:iam::111122223333:role/` + role + `","AccessKeyId":"` + key + `","SecretAccessKey":"` + secretKey +
			`","Token":"` + token + `","Expiration":"2026-07-01T18:00:00Z"}`
	}
	notFound := func(v string) string {
		return `{"code":"InvalidIdInRequest","message":"CredentialsV` + v + `Request: Credentials not found","HTTPErrorCode":400}`
	}
	noHostNet := func(o *Options) { o.HostNetworkCredentials = false }
	hostNet := func(o *Options) { o.HostNetworkCredentials = true }
	noCheck := func(o *Options) { o.CheckCredentialsSource = false }
	for _, tc := range []struct {
		name, source, path string
		opt                func(*Options)
		status             int
		want               string
	}{
		{"v2 bridge container gets its task's", bridgeIP + ":1", "/v2/credentials/" + credApp, nil, 200, ok("app", "ASIAAPP")},
		{"v1 legacy", bridgeIP + ":1", "/v1/credentials?id=" + credApp, nil, 200, ok("app", "ASIAAPP")},
		{"awsvpc task from its agent-bridge leg", legIP + ":1", "/v2/credentials/" + credWeb, nil, 200, ok("web", "ASIAWEB")},
		{"awsvpc task from its ENI address", eniIP + ":1", "/v2/credentials/" + credWeb, nil, 200, ok("web", "ASIAWEB")},
		{"another task's ID is refused", legIP + ":1", "/v2/credentials/" + credApp, nil, 400, notFound("2")},
		{"v1 refusal says V1", legIP + ":1", "/v1/credentials?id=" + credApp, nil, 400, notFound("1")},
		{"released address is refused", sidecarIP + ":1", "/v2/credentials/" + credApp, nil, 400, notFound("2")},
		{"loopback is not a bridge task", "127.0.0.1:1", "/v2/credentials/" + credApp, nil, 400, notFound("2")},
		{"unknown ID", bridgeIP + ":1", "/v2/credentials/nope", nil, 400, notFound("2")},
		{"unknown ID with slash", bridgeIP + ":1", "/v2/credentials/a/b", nil, 400, notFound("2")},
		{"empty v2 ID", bridgeIP + ":1", "/v2/credentials/", nil, 400, `{"code":"NoIdInRequest","message":"CredentialsV2Request: No Credential ID in the request","HTTPErrorCode":400}`},
		{"missing v1 ID", bridgeIP + ":1", "/v1/credentials", nil, 400, `{"code":"NoIdInRequest","message":"CredentialsV1Request: No Credential ID in the request","HTTPErrorCode":400}`},
		{"host network off: refused even locally", hostIP + ":1", "/v2/credentials/" + credHost, noHostNet, 400, notFound("2")},
		{"host network on: host address", hostIP + ":1", "/v2/credentials/" + credHost, hostNet, 200, ok("host", "ASIAHOST")},
		{"host network on: loopback", "127.0.0.1:1", "/v2/credentials/" + credHost, hostNet, 200, ok("host", "ASIAHOST")},
		{"host network on: IPv6 loopback", "[::1]:1", "/v2/credentials/" + credHost, hostNet, 200, ok("host", "ASIAHOST")},
		{"host network on: a bridge container is not the host", bridgeIP + ":1", "/v2/credentials/" + credHost, hostNet, 400, notFound("2")},
		{"execution role to a local caller", "127.0.0.1:1", "/v2/credentials/" + credExec, nil, 200, ok("exec", "ASIAEXEC")},
		{"execution role never to the task's container", bridgeIP + ":1", "/v2/credentials/" + credExec, nil, 400, notFound("2")},
		{"expired", "127.0.0.1:1", "/v2/credentials/" + credOld, nil, 400, notFound("2")},
		{"expired even without the source check", "10.9.9.9:1", "/v2/credentials/" + credOld, noCheck, 400, notFound("2")},
		{"not delivered yet", "127.0.0.1:1", "/v2/credentials/" + credUninit, nil, 503, `{"code":"CredentialsUninitialized","message":"CredentialsV2Request: Credentials uninitialized for ID","HTTPErrorCode":503}`},
		{"check off: anyone with the ID", "10.9.9.9:1", "/v2/credentials/" + credApp, noCheck, 200, ok("app", "ASIAAPP")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []func(*Options)
			if tc.opt != nil {
				opts = append(opts, tc.opt)
			}
			assertJSON(t, do(f.handler(t, opts...), tc.source, tc.path), tc.status, tc.want)
		})
	}
}

func TestCredentialsWithoutManager(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, func(o *Options) { o.Credentials = nil })
	assertJSON(t, do(h, bridgeIP+":1", "/v2/credentials/"+credApp), 400,
		`{"code":"InvalidIdInRequest","message":"CredentialsV2Request: Credentials not found","HTTPErrorCode":400}`)
}

// TestCredentialsIgnoreForwardedFor proves the source check trusts only the connection.
func TestCredentialsIgnoreForwardedFor(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t)
	req, _ := http.NewRequest(http.MethodGet, "/v2/credentials/"+credApp, nil)
	req.RemoteAddr = legIP + ":1"
	req.Header.Set("X-Forwarded-For", bridgeIP)
	req.Header.Set("X-Real-IP", bridgeIP)
	rec := httpRecorder(h, req)
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("status = %d, want 400: a forwarded-for header must not pass the source check", rec.Code)
	}
}

// TestAuditLog checks that credential requests are audited without any secret, including
// the credentials ID that is part of the v2 URL.
func TestAuditLog(t *testing.T) {
	f := newFixture(t)
	h := f.handler(t, func(o *Options) { o.HostAddrs = func() ([]netip.Addr, error) { return nil, nil } })
	do(h, bridgeIP+":1", "/v2/credentials/"+credApp)
	do(h, legIP+":1", "/v2/credentials/"+credApp)
	var audit []string
	for _, l := range f.logLines() {
		for _, secret := range []string{secretKey, token, "ASIAAPP", credApp} {
			if strings.Contains(l, secret) {
				t.Errorf("log line leaks %q: %s", secret, l)
			}
		}
		if strings.HasPrefix(l, "audit ") && strings.Contains(l, "credentials request") {
			audit = append(audit, l)
		}
	}
	if len(audit) != 2 {
		t.Fatalf("audit entries = %d, want 2: %q", len(audit), f.logLines())
	}
	for i, want := range []string{`"status"=200`, `"status"=400`} {
		if !strings.Contains(audit[i], want) || !strings.Contains(audit[i], `"event"="GetCredentials"`) || !strings.Contains(audit[i], "/v2/credentials/REDACTED") {
			t.Errorf("audit[%d] = %s, want %s, event and redacted path", i, audit[i], want)
		}
	}
	if !strings.Contains(audit[1], `"refused"="source address does not belong to the owning task"`) {
		t.Errorf("refusal reason not audited: %s", audit[1])
	}
}
