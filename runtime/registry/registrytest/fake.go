// Package registrytest is a local fake of the two AWS APIs image pulls authenticate with:
// ECR GetAuthorizationToken and Secrets Manager GetSecretValue, spoken as the SDK speaks
// them (JSON 1.1 over HTTP) on 127.0.0.1. It checks every request's SigV4 signature
// against the keys it was given, so a test proves which credentials signed a call.
package registrytest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// JSON 1.1 targets the fake answers.
const (
	TargetGetAuthorizationToken = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
	TargetGetSecretValue        = "secretsmanager.GetSecretValue"
)

// Call is one request the fake received.
type Call struct {
	Target string
	// AccessKeyID, Region and Service are from the signature's credential scope.
	AccessKeyID string
	Region      string
	Service     string
	// SessionToken is the X-Amz-Security-Token header.
	SessionToken string
	// RegistryIDs (ECR) and SecretID (Secrets Manager) are from the request body.
	RegistryIDs []string
	SecretID    string
	// Error is the error type answered, "" on success.
	Error string
}

// Token is what GetAuthorizationToken answers.
type Token struct {
	Username, Password string
	// ProxyEndpoint is the registry URL the token is for, e.g. "https://127.0.0.1:5001".
	ProxyEndpoint string
	ExpiresAt     time.Time
}

// AWS is the fake. Its zero value is not usable; call New.
type AWS struct {
	// URL is the endpoint to give the SDK ("http://127.0.0.1:port").
	URL string

	mu      sync.Mutex
	keys    map[string]aws.Credentials
	token   *Token
	secrets map[string]string
	calls   []Call
}

// New starts a fake on 127.0.0.1 that stops when the test ends.
func New(t testing.TB) *AWS {
	t.Helper()
	f := &AWS{keys: map[string]aws.Credentials{}, secrets: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// AddKey lets requests signed with these credentials in; any other key is refused.
func (f *AWS) AddKey(accessKeyID, secretAccessKey, sessionToken string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[accessKeyID] = aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secretAccessKey, SessionToken: sessionToken}
}

// SetToken sets what GetAuthorizationToken answers; without one it answers an empty list.
func (f *AWS) SetToken(t Token) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token = &t
}

// SetSecret stores a SecretString under id (the ARN or name callers ask for).
func (f *AWS) SetSecret(id, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[id] = value
}

// Calls returns the requests received so far.
func (f *AWS) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// CallsTo returns the requests received so far for target.
func (f *AWS) CallsTo(target string) []Call {
	var out []Call
	for _, c := range f.Calls() {
		if c.Target == target {
			out = append(out, c)
		}
	}
	return out
}

func (f *AWS) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c := Call{Target: r.Header.Get("X-Amz-Target"), SessionToken: r.Header.Get("X-Amz-Security-Token")}
	resp, errType, msg := f.handle(r, body, &c)
	c.Error = errType
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if errType != "" {
		w.WriteHeader(http.StatusBadRequest)
		resp = map[string]string{"__type": errType, "message": msg}
	}
	_ = json.NewEncoder(w).Encode(resp)
}

// handle checks the signature and answers the target; a non-empty errType is an error
// answer.
func (f *AWS) handle(r *http.Request, body []byte, c *Call) (resp any, errType, msg string) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.1") {
		return nil, "SerializationException", "not a JSON 1.1 POST"
	}
	if err := f.verify(r, body, c); err != nil {
		return nil, "UnrecognizedClientException", err.Error()
	}
	switch c.Target {
	case TargetGetAuthorizationToken:
		if c.Service != "ecr" {
			return nil, "InvalidSignatureException", "credential scope is not ecr"
		}
		var in struct{ RegistryIds []string }
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, "SerializationException", err.Error()
		}
		c.RegistryIDs = in.RegistryIds
		return f.getAuthorizationToken(), "", ""
	case TargetGetSecretValue:
		if c.Service != "secretsmanager" {
			return nil, "InvalidSignatureException", "credential scope is not secretsmanager"
		}
		var in struct{ SecretId string }
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, "SerializationException", err.Error()
		}
		c.SecretID = in.SecretId
		f.mu.Lock()
		v, ok := f.secrets[in.SecretId]
		f.mu.Unlock()
		if !ok {
			return nil, "ResourceNotFoundException", "Secrets Manager can't find the specified secret."
		}
		return map[string]any{"ARN": in.SecretId, "Name": in.SecretId, "SecretString": v, "VersionId": "v1"}, "", ""
	}
	return nil, "UnknownOperationException", "unknown target " + c.Target
}

func (f *AWS) getAuthorizationToken() any {
	f.mu.Lock()
	defer f.mu.Unlock()
	data := []any{}
	if t := f.token; t != nil {
		data = append(data, map[string]any{
			"authorizationToken": base64.StdEncoding.EncodeToString([]byte(t.Username + ":" + t.Password)),
			"expiresAt":          float64(t.ExpiresAt.UnixMilli()) / 1000,
			"proxyEndpoint":      t.ProxyEndpoint,
		})
	}
	return map[string]any{"authorizationData": data}
}

// verify recomputes the request's SigV4 signature with the secret of the access key it
// names, over exactly the headers it says it signed.
func (f *AWS) verify(r *http.Request, body []byte, c *Call) error {
	const prefix = "AWS4-HMAC-SHA256 "
	authz := r.Header.Get("Authorization")
	if !strings.HasPrefix(authz, prefix) {
		return fmt.Errorf("request is not SigV4-signed")
	}
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(authz, prefix), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return fmt.Errorf("malformed credential scope")
	}
	c.AccessKeyID, c.Region, c.Service = scope[0], scope[2], scope[3]
	f.mu.Lock()
	creds, ok := f.keys[c.AccessKeyID]
	f.mu.Unlock()
	if !ok {
		return fmt.Errorf("the security token included in the request is invalid")
	}
	if c.SessionToken != creds.SessionToken {
		return fmt.Errorf("session token does not belong to the access key")
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("bad X-Amz-Date")
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	req, err := http.NewRequestWithContext(context.Background(), r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	if !slices.Contains(signed, "content-length") {
		req.ContentLength = 0
	}
	for _, h := range signed {
		if h != "host" && h != "content-length" {
			req.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), c.Service, c.Region, at); err != nil {
		return err
	}
	_, want, _ := strings.Cut(req.Header.Get("Authorization"), "Signature=")
	if want == "" || want != fields["Signature"] {
		return fmt.Errorf("the request signature we calculated does not match the signature you provided")
	}
	return nil
}
