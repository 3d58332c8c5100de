package wsframe

import (
	"errors"
	"testing"
)

type ping struct {
	N int `json:"n"`
}

func newShape(typ string) any {
	if typ == "Ping" {
		return &ping{}
	}
	return nil
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		in    string
		wantN int
		err   error
	}{
		{in: `{"type":"Ping","message":{"n":3,"newer":true}}`, wantN: 3},
		{in: `{"type":"Ping","message":"x"}`, err: ErrMalformedFrame},
		{in: `{"type":"Ping"}`, err: ErrMalformedFrame},
		{in: `{"type":"Ping","message":{"n":"3"}}`, err: ErrMalformedFrame},
		{in: `{"type":"Other","message":{}}`, err: ErrUnknownType},
		{in: `{"message":{}}`, err: ErrMalformedFrame},
		{in: `[1]`, err: ErrMalformedFrame},
		{in: ``, err: ErrMalformedFrame},
	} {
		f, err := Parse([]byte(tc.in))
		var m any
		if err == nil {
			m, err = Decode(f, newShape)
		}
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: error %v, want %v", tc.in, err, tc.err)
			}
			continue
		}
		if p, ok := m.(*ping); err != nil || !ok || p.N != tc.wantN {
			t.Errorf("%s: %#v, %v", tc.in, m, err)
		}
	}
}

func TestWrap(t *testing.T) {
	for _, tc := range []struct {
		typ  string
		msg  any
		want string
	}{
		{"Ping", ping{N: 1}, `{"type":"Ping","message":{"n":1}}`},
		{"Empty", nil, `{"type":"Empty","message":{}}`},
	} {
		got, err := Wrap(tc.typ, tc.msg)
		if err != nil || string(got) != tc.want {
			t.Errorf("Wrap(%s) = %s, %v; want %s", tc.typ, got, err, tc.want)
		}
	}
	if _, err := Wrap("", nil); !errors.Is(err, ErrMalformedFrame) {
		t.Errorf("Wrap without a type: %v", err)
	}
}

func TestErrorBody(t *testing.T) {
	known := []string{"GoneException", "ServerException"}
	for _, tc := range []struct {
		body, typ, msg string
	}{
		{`{"type":"ServerException","message":{"message":"boom"}}`, "ServerException", "boom"},
		{`{"type":"ServerException","message":"weird"}`, "ServerException", `"weird"`},
		{`{"GoneException":"deregistered"}`, "GoneException", "deregistered"},
		{`{"ServerException":{"detail":1}}`, "ServerException", `{"detail":1}`},
		{`{"ServerException":"b","GoneException":"a"}`, "GoneException", "a"}, // known's order
		{`{"type":"Ping","message":{}}`, "", ""},
		{`{"Other":"x"}`, "", ""},
		{`<html>503</html>`, "", ""},
		{``, "", ""},
	} {
		typ, msg, ok := ErrorBody([]byte(tc.body), known)
		if typ != tc.typ || msg != tc.msg || ok != (tc.typ != "") {
			t.Errorf("%s: %q %q %v, want %q %q", tc.body, typ, msg, ok, tc.typ, tc.msg)
		}
	}
}
