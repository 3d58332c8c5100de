package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// MaxSkew is how far X-Amz-Date may be from the verifier's clock, as AWS allows.
const MaxSkew = 15 * time.Minute

// EmptyPayloadHash is the hex SHA-256 of an empty body: the payload hash of a GET, such as
// the ACS and TCS websocket handshakes.
const EmptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// ServiceECS is the signing name of ECS, ACS and TCS.
const ServiceECS = "ecs"

// PayloadHash is the hex SHA-256 of body, the payload hash SigV4 signs.
func PayloadHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// SecretLookup returns the secret access key of an access key ID, and whether the key is
// known.
type SecretLookup func(accessKeyID string) (secret string, ok bool)

// Identity is who signed a verified request, and for what.
type Identity struct {
	AccessKeyID string
	Region      string
	Service     string
	// SignedAt is the request's X-Amz-Date.
	SignedAt time.Time
}

// Verify checks the SigV4 signature of r, whose body hashes to payloadHash (see
// PayloadHash; EmptyPayloadHash for a GET), against the secret lookup returns for its
// access key, and that it was signed within MaxSkew of now. The session token, when the
// request carries one, is taken as signed but not checked against anything: this verifier
// knows long-term keys only. Only header-signed requests are understood, not presigned
// URLs.
//
// r is not modified; its body is not read.
func Verify(r *http.Request, payloadHash string, lookup SecretLookup, now time.Time) (Identity, error) {
	return verify(r, r.ContentLength, payloadHash, lookup, now)
}

// verify is Verify with the content length given separately, so that a TCS frame (which
// has a body but no Content-Length header) can be checked the same way.
func verify(r *http.Request, contentLength int64, payloadHash string, lookup SecretLookup, now time.Time) (Identity, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return Identity{}, ErrMissingAuth
	}
	a, err := parseAuthorization(h)
	if err != nil {
		return Identity{}, err
	}
	signedAt, err := parseAmzDate(r.Header.Get("X-Amz-Date"), a.date)
	if err != nil {
		return Identity{}, err
	}
	id := Identity{AccessKeyID: a.accessKeyID, Region: a.region, Service: a.service, SignedAt: signedAt}
	secret, ok := lookup(a.accessKeyID)
	if !ok {
		return id, fmt.Errorf("%w: %s", ErrUnknownKey, a.accessKeyID)
	}
	if d := now.Sub(signedAt); d > MaxSkew || d < -MaxSkew {
		return id, fmt.Errorf("%w: signed at %s, now %s", ErrExpired, signedAt.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	want, err := resign(r, contentLength, a, payloadHash, secret, signedAt)
	if err != nil {
		return id, err
	}
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return id, ErrBadSignature
	}
	return id, nil
}

// resign rebuilds the request from the headers a says were signed and signs it with
// secret, returning the expected signature.
func resign(r *http.Request, contentLength int64, a authorization, payloadHash, secret string, signedAt time.Time) (string, error) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if r.URL.Scheme != "" {
		scheme = httpScheme(r.URL.Scheme)
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	rebuilt := &http.Request{
		Method: r.Method,
		URL: &url.URL{Scheme: scheme, Host: host, Path: r.URL.Path, RawPath: r.URL.RawPath,
			RawQuery: r.URL.RawQuery},
		Host:   host,
		Header: http.Header{},
	}
	creds := aws.Credentials{AccessKeyID: a.accessKeyID, SecretAccessKey: secret}
	for _, name := range a.signedHeaders {
		switch name {
		case "host":
			continue // taken from rebuilt.Host by the signer
		case "content-length":
			rebuilt.ContentLength = contentLength
			if v := r.Header.Get("Content-Length"); v != "" {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return "", fmt.Errorf("%w: malformed Content-Length", ErrBadSignature)
				}
				rebuilt.ContentLength = n
			}
			continue
		case "x-amz-security-token":
			// The signer adds the token itself from the credentials.
			creds.SessionToken = r.Header.Get("X-Amz-Security-Token")
			continue
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		vals := r.Header.Values(key)
		if len(vals) == 0 {
			return "", fmt.Errorf("%w: signed header %q is absent", ErrBadSignature, name)
		}
		rebuilt.Header[key] = vals
	}
	err := v4.NewSigner().SignHTTP(context.Background(), creds, rebuilt, payloadHash, a.service, a.region, signedAt)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	got, err := parseAuthorization(rebuilt.Header.Get("Authorization"))
	if err != nil {
		return "", err
	}
	return got.signature, nil
}
