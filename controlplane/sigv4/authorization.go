package sigv4

import (
	"fmt"
	"strings"
	"time"
)

const (
	algorithm = "AWS4-HMAC-SHA256"
	// amzDateFormat is the layout of X-Amz-Date.
	amzDateFormat = "20060102T150405Z"
	// scopeTerminator ends every SigV4 credential scope.
	scopeTerminator = "aws4_request"
)

// authorization is a parsed SigV4 Authorization header.
type authorization struct {
	accessKeyID   string
	date          string // yyyymmdd of the credential scope
	region        string
	service       string
	signedHeaders []string // lower case, as listed
	signature     string
}

// parseAuthorization parses "AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request,
// SignedHeaders=a;b, Signature=hex". The three parts may be separated by "," with or
// without spaces, as clients differ there.
func parseAuthorization(h string) (authorization, error) {
	var a authorization
	rest, ok := strings.CutPrefix(h, algorithm+" ")
	if !ok {
		return a, fmt.Errorf("%w: Authorization is not %s", ErrBadSignature, algorithm)
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("%w: malformed Authorization component %q", ErrBadSignature, part)
		}
		switch k {
		case "Credential":
			scope := strings.Split(v, "/")
			if len(scope) != 5 || scope[0] == "" || scope[4] != scopeTerminator {
				return a, fmt.Errorf("%w: malformed credential scope", ErrBadSignature)
			}
			a.accessKeyID, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	switch {
	case a.accessKeyID == "":
		return a, fmt.Errorf("%w: Authorization has no Credential", ErrBadSignature)
	case len(a.signedHeaders) == 0 || a.signedHeaders[0] == "":
		return a, fmt.Errorf("%w: Authorization has no SignedHeaders", ErrBadSignature)
	case a.signature == "":
		return a, fmt.Errorf("%w: Authorization has no Signature", ErrBadSignature)
	case a.region == "" || a.service == "":
		return a, fmt.Errorf("%w: credential scope lacks region or service", ErrBadSignature)
	}
	if !a.signs("host") {
		// SigV4 requires host; without it a signature could be replayed to another endpoint.
		return a, fmt.Errorf("%w: host is not a signed header", ErrBadSignature)
	}
	return a, nil
}

// signs reports whether the lower-case header name is among the signed headers.
func (a authorization) signs(name string) bool {
	for _, h := range a.signedHeaders {
		if h == name {
			return true
		}
	}
	return false
}

// parseAmzDate parses X-Amz-Date and checks it against the credential scope date.
func parseAmzDate(v, scopeDate string) (time.Time, error) {
	if v == "" {
		return time.Time{}, fmt.Errorf("%w: no X-Amz-Date", ErrBadSignature)
	}
	t, err := time.Parse(amzDateFormat, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: malformed X-Amz-Date %q", ErrBadSignature, v)
	}
	if t.Format("20060102") != scopeDate {
		return time.Time{}, fmt.Errorf("%w: credential scope date %q does not match X-Amz-Date", ErrBadSignature, scopeDate)
	}
	return t, nil
}
