package acs

import (
	"time"

	"github.com/ecsd/ecsd/controlplane/ecsapi"
)

func ecsapiBackoff() ecsapi.Backoff {
	return ecsapi.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond, Factor: 2}
}
