package controllers

import (
	"fmt"
	"path"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/metadatafile"
	"github.com/ecsd/ecsd/runtime"
)

// metadataMountDir is where a container sees its metadata directory. The endpoint ID keeps
// the path stable for the container's life (a restarted agent writes the same file) and
// apart from any volume of the definition, as the reference agent's random directory does.
func metadataMountDir(c *api.Container) string {
	id := c.Spec.EndpointID
	if id == "" {
		id = c.Spec.Name
	}
	return path.Join(metadatafile.ContainerDir, id)
}

// mountMetadataFile writes the container's first metadata file (ECS_ENABLE_CONTAINER_METADATA)
// and adds its directory and ECS_CONTAINER_METADATA_FILE to cfg. The file exists before the
// container does, so a reader never sees a dangling path; it says READY once the container
// runs (writeMetadataReady).
func mountMetadataFile(dataDir string, o MetadataOptions, t *api.Task, c *api.Container, cfg *runtime.ContainerConfig) error {
	if !o.Enabled {
		return nil
	}
	dir, err := metadatafile.Dir(dataDir, t.Name, c.Spec.Name)
	if err != nil {
		return fmt.Errorf("container metadata file: %w", err)
	}
	if _, err := metadatafile.Write(dir, metadatafile.Build(t, c, o.Instance, false)); err != nil {
		return fmt.Errorf("container metadata file: %w", err)
	}
	target := metadataMountDir(c)
	cfg.Mounts = append(cfg.Mounts, runtime.Mount{Type: "bind", Source: dir, Destination: target, Options: []string{"rbind", "ro"}})
	cfg.Env = append(cfg.Env, metadatafile.EnvVar+"="+path.Join(target, metadatafile.FileName))
	return nil
}

// writeMetadataReady rewrites the file with the runtime details and READY. Everything it
// holds is known once the container is created, so it is written right after the start, before
// RUNNING is recorded: a crash in between only makes the next pass write it again.
func writeMetadataReady(dataDir string, o MetadataOptions, t *api.Task, c *api.Container) error {
	if !o.Enabled {
		return nil
	}
	dir, err := metadatafile.Dir(dataDir, t.Name, c.Spec.Name)
	if err == nil {
		_, err = metadatafile.Write(dir, metadatafile.Build(t, c, o.Instance, true))
	}
	return err
}
