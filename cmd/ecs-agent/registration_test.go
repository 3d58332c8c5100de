package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRegistrationFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if r, err := loadRegistration(dir); r != nil || err != nil {
		t.Fatalf("no file: %+v %v, want nil nil", r, err)
	}
	want := savedRegistration{ContainerInstanceARN: "arn:aws:ecs:us-west-2:1:container-instance/c/abc", Cluster: "c",
		EC2InstanceID: "i-1", AvailabilityZone: "us-west-2a", AgentVersion: "0.1.0", RegisteredAt: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := saveRegistration(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := loadRegistration(dir)
	if err != nil || *got != want {
		t.Fatalf("loaded %+v %v, want %+v", got, err, want)
	}
	fi, err := os.Stat(filepath.Join(dir, registrationFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v, want 0600", fi.Mode().Perm(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
}

func TestRegistrationFileRefusesBadContent(t *testing.T) {
	for name, content := range map[string]string{
		"not json":  "{",
		"no arn":    `{"cluster":"c"}`,
		"too large": `{"containerInstanceArn":"` + strings.Repeat("x", maxRegistrationSize) + `","cluster":"c"}`,
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, registrationFile), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if r, err := loadRegistration(dir); err == nil {
			t.Errorf("%s: loaded %+v, want an error", name, r)
		}
	}
}
