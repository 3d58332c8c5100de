package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/go-logr/logr"

	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/internal/sharedcreds"
)

// TestInstanceCredentialsOrder: keys in the configuration win; without them ECS Anywhere
// signs with the rotating file's profile even when the default chain has keys, and an EC2
// instance whose default chain has none falls back to the file.
func TestInstanceCredentialsOrder(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_PROFILE", "")
	dir := t.TempDir()
	file := filepath.Join(dir, "credentials")
	if err := os.WriteFile(file, []byte("[default]\naws_access_key_id = AKIDDEFAULTCHAIN\naws_secret_access_key = d\n\n"+
		"[ecsa]\naws_access_key_id = AKIDROTATINGFILE\naws_secret_access_key = r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", file)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		cfg     config.Config
		wantKey string
	}{
		{"configured keys", config.Config{AWSAccessKeyID: "AKIDCONFIGURED", AWSSecretAccessKey: "c", AlternateCredentialProfile: "ecsa"}, "AKIDCONFIGURED"},
		{"ECS Anywhere: the rotating profile first", config.Config{External: config.BooleanDefaultFalse{Value: config.ExplicitlyEnabled}, AlternateCredentialProfile: "ecsa"}, "AKIDROTATINGFILE"},
		{"EC2: the default chain first", config.Config{AlternateCredentialProfile: "ecsa"}, "AKIDDEFAULTCHAIN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.AWSRegion = "us-east-1"
			p, err := instanceCredentials(ctx, &tc.cfg, logr.Discard())
			if err != nil {
				t.Fatal(err)
			}
			c, err := p.Retrieve(ctx)
			if err != nil || c.AccessKeyID != tc.wantKey {
				t.Fatalf("signs with %q (%v), want %s", c.AccessKeyID, err, tc.wantKey)
			}
		})
	}
	// EC2 without a default profile: the default chain has nothing, the file's profile answers.
	if err := os.WriteFile(file, []byte("[ecsa]\naws_access_key_id = AKIDROTATINGFILE\naws_secret_access_key = r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{AWSRegion: "us-east-1", AlternateCredentialProfile: "ecsa"}
	p, err := instanceCredentials(ctx, &cfg, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if c, err := p.Retrieve(ctx); err != nil || c.AccessKeyID != "AKIDROTATINGFILE" || c.Source != sharedcreds.Source {
		t.Fatalf("EC2 fallback: %+v %v", c, err)
	}
}

func TestRegistrationTags(t *testing.T) {
	cfg := &config.Config{ContainerInstanceTags: map[string]string{"team": "red"}}
	if got := registrationTags(cfg, identity{}); !reflect.DeepEqual(got, cfg.ContainerInstanceTags) {
		t.Errorf("without EC2 tags: %v", got)
	}
	got := registrationTags(cfg, identity{ec2Tags: map[string]string{"team": "blue", "env": "prod"}})
	if want := map[string]string{"team": "red", "env": "prod"}; !reflect.DeepEqual(got, want) {
		t.Errorf("with EC2 tags: %v, want %v", got, want)
	}
}
