package sigv4

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testKey    = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testRegion = "local"
)

func lookup(id string) (string, bool) {
	if id == testKey {
		return testSecret, true
	}
	return "", false
}

func staticCreds(token string) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret, SessionToken: token}, nil
	})
}

// received is what the test server saw: the verification result of one request.
type received struct {
	id  Identity
	err error
}

// verifyServer verifies every request it receives at the given clock and reports the result.
func verifyServer(t *testing.T, now time.Time, emptyBody bool) (*httptest.Server, <-chan received) {
	t.Helper()
	ch := make(chan received, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		hash := PayloadHash(body)
		if emptyBody {
			hash = EmptyPayloadHash
		}
		id, err := Verify(r, hash, lookup, now)
		ch <- received{id, err}
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

func TestVerify(t *testing.T) {
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"cluster":"default"}`)
	tests := []struct {
		name string
		// signedAt is when the client signed; secret and token what it signed with.
		signedAt time.Time
		key      string
		token    string
		// tamper changes the request after signing.
		tamper  func(r *http.Request)
		sendRaw []byte // body actually sent; nil = body
		want    error
	}{
		{name: "valid", signedAt: now},
		{name: "valid with session token", signedAt: now, token: "FwoGZXIvYXdzEJr"},
		{name: "valid within skew", signedAt: now.Add(-14 * time.Minute)},
		{name: "unsigned header changed", signedAt: now, tamper: func(r *http.Request) { r.Header.Set("User-Agent", "other") }},
		{name: "tampered signature", signedAt: now, want: ErrBadSignature, tamper: func(r *http.Request) {
			h := r.Header.Get("Authorization")
			last := h[len(h)-1]
			repl := byte('0')
			if last == '0' {
				repl = '1'
			}
			r.Header.Set("Authorization", h[:len(h)-1]+string(repl))
		}},
		{name: "tampered body", signedAt: now, sendRaw: []byte(`{"cluster":"other!!"}`), want: ErrBadSignature},
		{name: "tampered date", signedAt: now, want: ErrBadSignature, tamper: func(r *http.Request) {
			r.Header.Set("X-Amz-Date", now.Add(time.Second).Format(amzDateFormat))
		}},
		{name: "tampered signed header", signedAt: now, want: ErrBadSignature, tamper: func(r *http.Request) {
			r.Header.Set("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.StopTask")
		}},
		{name: "tampered session token", signedAt: now, token: "FwoGZXIvYXdzEJr", want: ErrBadSignature, tamper: func(r *http.Request) {
			r.Header.Set("X-Amz-Security-Token", "other")
		}},
		{name: "unknown key", signedAt: now, key: "AKIDUNKNOWN", want: ErrUnknownKey},
		{name: "too old", signedAt: now.Add(-16 * time.Minute), want: ErrExpired},
		{name: "from the future", signedAt: now.Add(16 * time.Minute), want: ErrExpired},
		{name: "no authorization", signedAt: now, want: ErrMissingAuth, tamper: func(r *http.Request) { r.Header.Del("Authorization") }},
		{name: "malformed authorization", signedAt: now, want: ErrBadSignature, tamper: func(r *http.Request) {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x")
		}},
		{name: "host not signed", signedAt: now, want: ErrBadSignature, tamper: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SignedHeaders=", "SignedHeaders=x-amz-date;", 1))
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ";host;", ";", 1))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := verifyServer(t, now, false)
			key := tc.key
			if key == "" {
				key = testKey
			}
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/?a=b%20c&a=a", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			req.Header.Set("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.ListClusters")
			creds := aws.Credentials{AccessKeyID: key, SecretAccessKey: testSecret, SessionToken: tc.token}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, PayloadHash(body), ServiceECS, testRegion, tc.signedAt); err != nil {
				t.Fatal(err)
			}
			if tc.tamper != nil {
				tc.tamper(req)
			}
			if tc.sendRaw != nil {
				req.Body = io.NopCloser(bytes.NewReader(tc.sendRaw))
				req.ContentLength = int64(len(tc.sendRaw))
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			r := <-got
			if !errors.Is(r.err, tc.want) || (tc.want == nil && r.err != nil) {
				t.Fatalf("Verify error = %v, want %v", r.err, tc.want)
			}
			if tc.want == nil {
				want := Identity{AccessKeyID: testKey, Region: testRegion, Service: ServiceECS, SignedAt: tc.signedAt.Truncate(time.Second)}
				if r.id != want {
					t.Fatalf("identity = %+v, want %+v", r.id, want)
				}
			}
		})
	}
}

func TestSignWebsocketHandshake(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name   string
		scheme string // scheme the client signs with; the request itself is plain http
		token  string
	}{
		{name: "http form", scheme: "http"},
		{name: "ws form", scheme: "ws"},
		{name: "session credentials", scheme: "http", token: "session-token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := verifyServer(t, now, true)
			query := "/acs/ws?agentVersion=1.0.0&clusterArn=arn%3Aaws%3Aecs%3Alocal%3A000000000000%3Acluster%2Fdefault&dockerVersion=DockerVersion%3A+25.0.8&seqNum=1"
			signURL := tc.scheme + strings.TrimPrefix(srv.URL, "http") + query
			h, err := SignWebsocketHandshake(context.Background(), staticCreds(tc.token), testRegion, signURL)
			if err != nil {
				t.Fatal(err)
			}
			if h.Get("Authorization") == "" || h.Get("X-Amz-Date") == "" {
				t.Fatalf("headers lack Authorization or X-Amz-Date: %v", h)
			}
			if (h.Get("X-Amz-Security-Token") != "") != (tc.token != "") {
				t.Fatalf("X-Amz-Security-Token = %q with token %q", h.Get("X-Amz-Security-Token"), tc.token)
			}
			req, _ := http.NewRequest(http.MethodGet, srv.URL+query, nil)
			for k, v := range h {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if r := <-got; r.err != nil {
				t.Fatalf("Verify: %v", r.err)
			}

			// The same headers on another query must not verify.
			req, _ = http.NewRequest(http.MethodGet, srv.URL+strings.Replace(query, "seqNum=1", "seqNum=2", 1), nil)
			for k, v := range h {
				req.Header[k] = v
			}
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if r := <-got; !errors.Is(r.err, ErrBadSignature) {
				t.Fatalf("Verify with another query: %v, want ErrBadSignature", r.err)
			}
		})
	}
}

func TestFrame(t *testing.T) {
	const tcsURL = "http://127.0.0.1:4321/tcs/ws?agentHash=abc&agentVersion=1.0.0&cluster=default&containerInstance=arn%3Aaws%3Aecs%3Alocal%3A000000000000%3Acontainer-instance%2Fdefault%2Fab"
	body := []byte(`{"type":"PublishMetricsRequest","message":{"metadata":{"fin":true}}}`)
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	sign := func(t *testing.T, token string, at time.Time) []byte {
		t.Helper()
		f, err := signFrameAt(context.Background(), staticCreds(token), testRegion, tcsURL, body, at)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}

	t.Run("layout", func(t *testing.T) {
		for _, token := range []string{"", "tok"} {
			f := string(sign(t, token, now))
			var names []string
			head, rest, ok := strings.Cut(f, "\r\n\r\n")
			if !ok || rest != string(body) {
				t.Fatalf("frame %q: want header block, empty line, body", f)
			}
			for _, line := range strings.Split(head, "\r\n") {
				k, _, _ := strings.Cut(line, ": ")
				names = append(names, k)
			}
			want := "Authorization Host X-Amz-Date"
			if token != "" {
				want += " X-Amz-Security-Token"
			}
			if got := strings.Join(names, " "); got != want {
				t.Fatalf("headers %q, want %q", got, want)
			}
			if !strings.Contains(head, "Host: 127.0.0.1:4321\r\n") {
				t.Fatalf("header block %q lacks Host", head)
			}
		}
	})

	tamperSig := func(f []byte) []byte {
		return bytes.Replace(f, []byte("Signature="), []byte("Signature=0"), 1)
	}
	tests := []struct {
		name   string
		frame  []byte
		url    string
		now    time.Time
		lookup SecretLookup
		want   error
	}{
		{name: "valid", frame: sign(t, "", now)},
		{name: "valid with token", frame: sign(t, "tok", now)},
		{name: "tampered body", frame: append(sign(t, "", now), ' '), want: ErrBadSignature},
		{name: "tampered signature", frame: tamperSig(sign(t, "", now)), want: ErrBadSignature},
		{name: "tampered date", frame: bytes.Replace(sign(t, "", now), []byte(now.Format(amzDateFormat)), []byte(now.Add(time.Second).Format(amzDateFormat)), 1), want: ErrBadSignature},
		{name: "other session URL", frame: sign(t, "", now), url: strings.Replace(tcsURL, "cluster=default", "cluster=other", 1), want: ErrBadSignature},
		{name: "unknown key", frame: sign(t, "", now), lookup: func(string) (string, bool) { return "", false }, want: ErrUnknownKey},
		{name: "skew", frame: sign(t, "", now), now: now.Add(time.Hour), want: ErrExpired},
		{name: "bare JSON", frame: body, want: ErrMissingAuth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, at, lk := tc.url, tc.now, tc.lookup
			if u == "" {
				u = tcsURL
			}
			if at.IsZero() {
				at = now
			}
			if lk == nil {
				lk = lookup
			}
			got, id, err := VerifyFrame(tc.frame, u, lk, at)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("VerifyFrame error = %v, want %v", err, tc.want)
			}
			if tc.want == nil {
				if !bytes.Equal(got, body) {
					t.Fatalf("body = %q, want %q", got, body)
				}
				if id.AccessKeyID != testKey || id.Region != testRegion || id.Service != ServiceECS {
					t.Fatalf("identity = %+v", id)
				}
			}
		})
	}
}

func TestSplitFrame(t *testing.T) {
	h, body, err := SplitFrame([]byte("Authorization: x\r\nHost: h\r\n\r\n{\"a\":\"\r\n\r\n\"}"))
	if err != nil {
		t.Fatal(err)
	}
	if h.Get("Host") != "h" || string(body) != "{\"a\":\"\r\n\r\n\"}" {
		t.Fatalf("got %v %q", h, body)
	}
}
