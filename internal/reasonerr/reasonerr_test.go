package reasonerr

import (
	"errors"
	"io/fs"
	"testing"
)

func TestNew(t *testing.T) {
	sentinel := errors.New("unreadable")
	err := New(sentinel, fs.ErrNotExist, "unable to read %s", "x")
	if err.Error() != "unable to read x" || !errors.Is(err, sentinel) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%v: text, sentinel or cause lost", err)
	}
	if errors.Is(New(sentinel, nil, "y"), fs.ErrNotExist) || errors.Is(err, errors.New("unreadable")) {
		t.Fatal("matches what it is not")
	}
}
