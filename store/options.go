package store

import "github.com/go-logr/logr"

// DefaultHistory is the default number of watch events kept per kind. An informer that falls
// further behind than this relists, which is cheap for the few thousand objects ecsd holds.
const DefaultHistory = 1024

// Option configures a Store.
type Option func(*options)

type options struct {
	checkpoint string
	log        logr.Logger
	history    int
	reserve    *int64 // nil: DefaultCheckpointReserve
}

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
