// Package bearer checks the bearer token that guards the agent's operator surfaces: the
// object API (objects, watches, logs) and pprof. It is the one secret those surfaces trust,
// written root-only by the agent (ECSD_API_TOKEN_FILE), so a caller that presents it is root
// on the host or was handed the token by root, as with kubelet's API.
package bearer

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// Token is the expected bearer token. The zero Token admits nobody: an agent that could not
// load its token keeps its operator surfaces closed rather than open.
type Token struct{ b []byte }

// New returns the Token tok; an empty tok admits nobody.
func New(tok string) Token { return Token{b: []byte(tok)} }

// Set reports whether the token admits anybody.
func (t Token) Set() bool { return len(t.b) > 0 }

// Allows reports whether r carries the token as "Authorization: Bearer <token>". The
// comparison takes the same time whatever the token presented, so it leaks nothing.
func (t Token) Allows(r *http.Request) bool {
	if len(t.b) == 0 {
		return false
	}
	got, ok := fromHeader(r.Header.Get("Authorization"))
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), t.b) == 1
}

// fromHeader extracts the token of an Authorization header value; the scheme is
// case-insensitive (RFC 7235).
func fromHeader(v string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// Challenge is the WWW-Authenticate value of a 401, telling a client what to present.
const Challenge = `Bearer realm="ecsd"`
