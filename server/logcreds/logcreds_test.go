//go:build integration

package logcreds

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/ecsd/ecsd/internal/logcredsapi"
)

type fakeCreds map[string]Credentials

func (f fakeCreds) LogCredentials(_ context.Context, task string) (Credentials, error) {
	c, ok := f[task]
	if !ok {
		return Credentials{}, ErrUnknownTask
	}
	return c, nil
}

type fakeSecrets struct{}

func (fakeSecrets) LogDriverSecrets(_ context.Context, task, ctr string) (map[string]string, error) {
	if task == "broken" {
		return nil, errors.New("ssm down")
	}
	return map[string]string{"awslogs-group": task + "/" + ctr}, nil
}

func serve(t *testing.T, secrets SecretsSource) (*logcredsapi.Client, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "d", "s.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	srv := &http.Server{Handler: Handler(fakeCreds{"arn:t/1": {AccessKeyID: "AK", SecretAccessKey: "S", SessionToken: "T", Expiration: exp}}, secrets, logr.Discard())}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return logcredsapi.NewClient(path), path
}

func TestCredentials(t *testing.T) {
	c, path := serve(t, fakeSecrets{})
	ctx := context.Background()
	got, err := c.Credentials(ctx, "arn:t/1")
	if err != nil || got.AccessKeyID != "AK" || got.SecretAccessKey != "S" || got.SessionToken != "T" || got.Expiration.Year() != 2030 {
		t.Fatalf("Credentials = %v, %v", got, err)
	}
	if _, err := c.Credentials(ctx, "arn:t/other"); !errors.Is(err, logcredsapi.ErrNotFound) {
		t.Errorf("unknown task: %v", err)
	}
	opts, err := c.SecretOptions(ctx, "arn:t/1", "web")
	if err != nil || opts["awslogs-group"] != "arn:t/1/web" {
		t.Errorf("SecretOptions = %v, %v", opts, err)
	}
	if _, err := c.SecretOptions(ctx, "broken", "web"); err == nil || errors.Is(err, logcredsapi.ErrNotFound) {
		t.Errorf("failing source: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, %v", fi.Mode(), err)
	}
	if di, err := os.Stat(filepath.Dir(path)); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("socket directory mode %v, %v", di.Mode(), err)
	}
}

func TestNoSecretsSource(t *testing.T) {
	c, _ := serve(t, nil)
	opts, err := c.SecretOptions(context.Background(), "arn:t/1", "web")
	if err != nil || len(opts) != 0 {
		t.Errorf("SecretOptions = %v, %v", opts, err)
	}
}

func TestCredentialsNeverPrinted(t *testing.T) {
	c := Credentials{AccessKeyID: "AKIDSECRET", SecretAccessKey: "SECRET", SessionToken: "TOKEN"}
	for _, s := range []string{c.String(), c.GoString()} {
		for _, secret := range []string{"AKIDSECRET", "SECRET", "TOKEN"} {
			if strings.Contains(s, secret) {
				t.Errorf("%q shows %s", s, secret)
			}
		}
	}
}
