package store

import (
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
)

// ConflictBackoff is how writers to this store retry a resourceVersion conflict. client-go's
// retry.DefaultRetry waits 10 ms before the first retry, which suits a remote API server
// but not this one: here a conflict means another writer committed microseconds ago, and
// waiting 10 ms put a fixed 10 ms on every task launch (the task controller marks a new
// container's desired status while its pull runs, so the pull's status write conflicted
// every time). The first retry is almost immediate; repeated conflicts back off
// exponentially with jitter, to about 0.1 s in total over the 10 attempts.
func ConflictBackoff() wait.Backoff {
	return wait.Backoff{Steps: 10, Duration: 50 * time.Microsecond, Factor: 2, Jitter: 0.5}
}

// RetryOnConflict is retry.RetryOnConflict with ConflictBackoff.
func RetryOnConflict(fn func() error) error {
	return retry.RetryOnConflict(ConflictBackoff(), fn)
}
