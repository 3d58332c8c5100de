package controllers

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/metadatafile"
	"github.com/ecsd/ecsd/runtime"
)

func TestMetadataMountDir(t *testing.T) {
	withID := unitContainer("app", "", "", func(c *api.Container) { c.Spec.EndpointID = "0f1e2d3c" })
	if got := metadataMountDir(withID); got != "/opt/ecs/metadata/0f1e2d3c" {
		t.Errorf("with an endpoint ID: %q", got)
	}
	// Containers accepted before endpoint IDs existed use their name: still stable.
	if got := metadataMountDir(unitContainer("app", "", "")); got != "/opt/ecs/metadata/app" {
		t.Errorf("without an endpoint ID: %q", got)
	}
}

// TestMountMetadataFile covers ECS_ENABLE_CONTAINER_METADATA off, on, and a file the agent
// cannot write.
func TestMountMetadataFile(t *testing.T) {
	task, c := unitTask("app"), unitContainer("app", api.ContainerStatusPulled, api.ContainerStatusRunning)

	t.Run("off: nothing mounted, nothing written", func(t *testing.T) {
		dataDir := t.TempDir()
		var cfg runtime.ContainerConfig
		if err := mountMetadataFile(dataDir, MetadataOptions{}, task, c, &cfg); err != nil {
			t.Fatal(err)
		}
		if len(cfg.Mounts) != 0 || len(cfg.Env) != 0 {
			t.Fatalf("cfg %+v", cfg)
		}
		if _, err := os.Stat(filepath.Join(dataDir, "metadata")); !os.IsNotExist(err) {
			t.Fatalf("metadata directory written with the feature off: %v", err)
		}
	})
	t.Run("a data directory that is not absolute cannot be a mount source", func(t *testing.T) {
		var cfg runtime.ContainerConfig
		err := mountMetadataFile("relative/data", MetadataOptions{Enabled: true}, task, c, &cfg)
		if err == nil || !strings.Contains(err.Error(), "container metadata file") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a task ID that is not one path element is refused", func(t *testing.T) {
		bad := task.DeepCopy()
		bad.Name = "../escape"
		var cfg runtime.ContainerConfig
		if err := mountMetadataFile(t.TempDir(), MetadataOptions{Enabled: true}, bad, c, &cfg); err == nil {
			t.Fatal("a task ID with a path separator was written")
		}
	})
}

// TestWriteMetadataReady: once the container runs, its file says READY; a write that fails
// is an error the start reconciler logs.
func TestWriteMetadataReady(t *testing.T) {
	dataDir := t.TempDir()
	on := MetadataOptions{Enabled: true, Instance: metadatafile.Instance{Cluster: "prod"}}
	task := unitTask("app")
	c := unitContainer("app", api.ContainerStatusCreated, api.ContainerStatusRunning, func(c *api.Container) { c.Status.RuntimeID = "rid-7" })
	var cfg runtime.ContainerConfig
	if err := mountMetadataFile(dataDir, on, task, c, &cfg); err != nil {
		t.Fatal(err)
	}
	dir, _ := metadatafile.Dir(dataDir, task.Name, "app")
	read := func() map[string]any {
		b, err := os.ReadFile(filepath.Join(dir, metadatafile.FileName))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("file is not JSON: %v: %s", err, b)
		}
		return m
	}
	if m := read(); m["MetadataFileStatus"] != nil {
		t.Fatalf("first file says %v, want no status (INITIAL)", m["MetadataFileStatus"])
	}
	if err := writeMetadataReady(dataDir, on, task, c); err != nil {
		t.Fatal(err)
	}
	if m := read(); m["MetadataFileStatus"] != metadatafile.StatusReady {
		t.Fatalf("after start the file says %v, want READY: %v", m["MetadataFileStatus"], m)
	}

	bad := task.DeepCopy()
	bad.Name = "../escape"
	if err := writeMetadataReady(dataDir, on, bad, c); err == nil {
		t.Error("a task ID with a path separator was written")
	}

	// off: nothing written
	if err := writeMetadataReady(dataDir, MetadataOptions{}, task, unitContainer("other", "", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "other")); !os.IsNotExist(err) {
		t.Fatalf("file written with the feature off: %v", err)
	}
}
