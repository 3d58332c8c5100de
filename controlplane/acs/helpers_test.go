package acs

import (
	"time"

	"github.com/ecsd/ecsd/internal/backoff"
)

func ecsapiBackoff() backoff.Backoff {
	return backoff.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond, Factor: 2}
}
