//go:build integration

package testenv

import (
	"strings"
	"testing"
)

func TestMotoAnswers(t *testing.T) {
	url := Moto(t)
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("moto URL %q is not on loopback", url)
	}
}
