package runtime

import (
	"errors"
	"strings"
)

// Registry authentication types of a container's registryAuthentication.
const (
	RegistryAuthECR = "ecr"
	RegistryAuthASM = "asm"
)

// ErrCredentialsPending means a call needs the task's execution role credentials and
// they have not arrived yet; the caller retries shortly. runtime/registry's errors wrap it.
var ErrCredentialsPending = errors.New("waiting for the task execution role credentials")

// EngineAuth returns the ECS_ENGINE_AUTH_DATA credentials in m for image's registry, nil if
// there are none. Docker Hub images match "docker.io", "index.docker.io" and the legacy
// "https://index.docker.io/v1/" keys.
func EngineAuth(m map[string]Auth, image string) *Auth {
	if len(m) == 0 {
		return nil
	}
	host := RegistryHost(image)
	for _, h := range []string{host, "https://" + host, "index." + host} {
		if a, ok := m[h]; ok {
			return &a
		}
	}
	if host == "docker.io" {
		if a, ok := m["https://index.docker.io/v1/"]; ok {
			return &a
		}
	}
	return nil
}

// RegistryHost is the registry host of a Docker-style reference: the first path component
// when it looks like a host (has a dot or a port, or is localhost), else docker.io.
func RegistryHost(image string) string {
	host, _, found := strings.Cut(image, "/")
	if !found || !(strings.ContainsAny(host, ".:") || host == "localhost") {
		return "docker.io"
	}
	return host
}
