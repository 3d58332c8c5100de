package acs

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/ecsd/ecsd/store"
)

// MetaCleanedTasks is the store metadata key of the recently cleaned-up task ARNs.
const MetaCleanedTasks = "cleaned-tasks"

// Tombstones remembers, for a while, the tasks this instance has cleaned up, so that a
// stale payload still carrying one of them as RUNNING (a resend of a payload whose ack was
// lost, say) does not run it a second time. Kept in the checkpoint, pruned after TTL and
// to the MaxTombstones most recent, so the checkpoint does not grow with the number of
// tasks that have come and gone.
type Tombstones struct {
	st  *store.Store
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
}

// MaxTombstones bounds the tombstones kept: a stale payload is a resend within minutes, not
// thousands of tasks later, and the set is rewritten whole at every cleanup.
const MaxTombstones = 1024

// NewTombstones keeps tombstones in st for ttl.
func NewTombstones(st *store.Store, ttl time.Duration) *Tombstones {
	return &Tombstones{st: st, ttl: ttl, now: time.Now}
}

// Add records that the task was cleaned up.
func (t *Tombstones) Add(taskARN string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, err := t.load()
	if err != nil {
		return err
	}
	now := t.now()
	for arn, at := range m {
		if now.Sub(time.Unix(at, 0)) > t.ttl {
			delete(m, arn)
		}
	}
	m[taskARN] = now.Unix()
	if extra := len(m) - MaxTombstones; extra > 0 {
		arns := slices.SortedFunc(maps.Keys(m), func(a, b string) int { return cmp.Compare(m[a], m[b]) })
		for _, arn := range arns[:extra] {
			delete(m, arn)
		}
	}
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return t.st.PutMeta(MetaCleanedTasks, string(data))
}

// Has reports whether the task was cleaned up within the TTL.
func (t *Tombstones) Has(taskARN string) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, err := t.load()
	if err != nil {
		return false, err
	}
	at, ok := m[taskARN]
	return ok && t.now().Sub(time.Unix(at, 0)) <= t.ttl, nil
}

func (t *Tombstones) load() (map[string]int64, error) {
	m := map[string]int64{}
	v, ok, err := t.st.GetMeta(MetaCleanedTasks)
	if err != nil || !ok {
		return m, err
	}
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		// Losing tombstones only reopens the window they close; never fail a payload on it.
		return map[string]int64{}, fmt.Errorf("%s: %w", MetaCleanedTasks, err)
	}
	return m, nil
}
