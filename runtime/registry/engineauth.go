package registry

import (
	"github.com/ecsd/ecsd/runtime"
)

// EngineAuth returns the ECS_ENGINE_AUTH_DATA credentials in m for image's registry, nil if
// there are none; see runtime.EngineAuth, which the controllers call directly.
func EngineAuth(m map[string]runtime.Auth, image string) *runtime.Auth {
	return runtime.EngineAuth(m, image)
}
