package store

import (
	"time"

	"github.com/go-logr/logr"
)

// DefaultHistory is the default number of watch events kept per kind. An informer that falls
// further behind than this relists, which is cheap for the few thousand objects ecsd holds.
const DefaultHistory = 1024

// Option configures a Store.
type Option func(*options)

type options struct {
	checkpoint  string
	log         logr.Logger
	history     int
	now         func() time.Time
	keepCorrupt int
	reserve     *int64 // nil: DefaultCheckpointReserve
}

// DefaultKeepCorrupt is how many damaged checkpoints moved aside are kept for diagnosis; older
// ones are deleted so a disk that keeps damaging files cannot fill up with them.
const DefaultKeepCorrupt = 3

// WithCheckpoint makes the store durable in the bbolt file at path (created with mode 0600).
// Without it the store lives in memory only, which is meant for unit tests.
func WithCheckpoint(path string) Option {
	return func(o *options) { o.checkpoint = path }
}

// WithLogger sets the logger used for quarantined records and terminated watchers.
func WithLogger(log logr.Logger) Option {
	return func(o *options) { o.log = log }
}

// WithHistory sets how many watch events are kept per kind; n <= 0 keeps the default.
func WithHistory(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.history = n
		}
	}
}

// WithClock sets the clock that names damaged checkpoints moved aside (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithKeepCorrupt sets how many damaged checkpoints moved aside are kept; n <= 0 keeps the
// default, DefaultKeepCorrupt.
func WithKeepCorrupt(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.keepCorrupt = n
		}
	}
}
