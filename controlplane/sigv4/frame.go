package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// TCS frames are signed one by one (protocol spec §4): the frame is the header block of a
// SigV4-signed "GET <TCS URL>" whose body is the JSON message, written by http.Header.Write
// (so keys sorted: Authorization, Host, X-Amz-Date[, X-Amz-Security-Token]), then an
// empty line, then the JSON. The signature covers sha256(JSON); no Content-Length or
// X-Amz-Content-Sha256 is signed or written, as the reference agent's signer does not add
// them for service "ecs".

// SignFrame builds a signed TCS frame around body, for the TCS session at tcsURL (the URL
// the websocket was opened with, query included).
func SignFrame(ctx context.Context, creds aws.CredentialsProvider, region, tcsURL string, body []byte) ([]byte, error) {
	return signFrameAt(ctx, creds, region, tcsURL, body, time.Now())
}

func signFrameAt(ctx context.Context, creds aws.CredentialsProvider, region, tcsURL string, body []byte, at time.Time) ([]byte, error) {
	req, err := signedGet(ctx, creds, region, tcsURL, PayloadHash(body), at)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Host", req.Host)
	var buf bytes.Buffer
	if err := req.Header.Write(&buf); err != nil {
		return nil, fmt.Errorf("sign frame: %w", err)
	}
	buf.WriteString("\r\n")
	buf.Write(body)
	return buf.Bytes(), nil
}

// SplitFrame separates a TCS frame into its header block and body without checking the
// signature, for a server that does not authenticate. A frame without a header block
// (a bare JSON message) is ErrMissingAuth.
func SplitFrame(frame []byte) (http.Header, []byte, error) {
	i := bytes.Index(frame, []byte("\r\n\r\n"))
	if i < 0 {
		return nil, nil, fmt.Errorf("%w: frame has no header block", ErrMissingAuth)
	}
	tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(frame[:i+4])))
	mh, err := tr.ReadMIMEHeader()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: frame header block: %w", ErrMissingAuth, err)
	}
	return http.Header(mh), frame[i+4:], nil
}

// VerifyFrame checks a signed TCS frame received on the session opened at tcsURL and
// returns its body. Only the path and query of tcsURL enter the signature (and its host
// when the frame has no Host header); the scheme only decides which port is a default.
func VerifyFrame(frame []byte, tcsURL string, lookup SecretLookup, now time.Time) ([]byte, Identity, error) {
	h, body, err := SplitFrame(frame)
	if err != nil {
		return nil, Identity{}, err
	}
	u, err := url.Parse(tcsURL)
	if err != nil {
		return nil, Identity{}, fmt.Errorf("verify frame: parse URL: %w", err)
	}
	host := h.Get("Host")
	if host == "" {
		host = u.Host
	}
	h.Del("Host")
	r := &http.Request{Method: http.MethodGet, URL: u, Host: host, Header: h}
	id, err := verify(r, int64(len(body)), PayloadHash(body), lookup, now)
	if err != nil {
		return nil, id, err
	}
	return body, id, nil
}
