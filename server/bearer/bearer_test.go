package bearer

import (
	"net/http/httptest"
	"testing"
)

func TestAllows(t *testing.T) {
	tok := New("s3cret-token")
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"Bearer s3cret-token", true},
		{"bearer s3cret-token", true},
		{"Bearer  s3cret-token ", true},
		{"Bearer s3cret-tokeN", false},
		{"Bearer s3cret-token2", false},
		{"Bearer ", false},
		{"Basic s3cret-token", false},
		{"s3cret-token", false},
		{"", false},
	} {
		r := httptest.NewRequest("GET", "/apis", nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		if got := tok.Allows(r); got != tc.want {
			t.Errorf("Authorization %q: Allows = %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestZeroTokenAdmitsNobody(t *testing.T) {
	r := httptest.NewRequest("GET", "/apis", nil)
	r.Header.Set("Authorization", "Bearer ")
	if (Token{}).Allows(r) || New("").Allows(r) || New("").Set() {
		t.Fatal("an empty token admitted a request")
	}
}
