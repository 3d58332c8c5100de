package store

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// DefaultCheckpointReserve is the room kept allocated in the checkpoint file beyond what
// its data uses, so that state changes can still be written when the data directory is
// full (container logs share its filesystem). 8 MiB holds a few hundred new tasks'
// objects: while a disk stays full bbolt reuses the pages it frees, so only growth of the
// data itself eats into the reserve.
const DefaultCheckpointReserve = 8 << 20

// WithCheckpointReserve sets the reserve kept in the checkpoint file
// (DefaultCheckpointReserve by default); n <= 0 keeps none.
func WithCheckpointReserve(n int64) Option {
	return func(o *options) { o.reserve = &n }
}

// reserveRetryInterval bounds how often a reserve that could not be restored is tried
// again while commits keep coming.
const reserveRetryInterval = time.Second

// CheckpointSpace is the state of the checkpoint's reserved room.
type CheckpointSpace struct {
	// Reserve is the room wanted beyond the data; Headroom what is allocated now.
	Reserve, Headroom int64
	// NoSpace is true from a commit or a top-up that failed for lack of space until a
	// top-up succeeds; Since is when it began and Err what failed.
	NoSpace bool
	Since   time.Time
	Err     string
}

// reserve keeps the checkpoint file allocated Reserve bytes beyond bbolt's high-water mark.
//
// Why not a separate reserve file that is deleted when a commit fails: the space it frees
// goes to whoever writes next, and on a full data directory that is a container's log
// (ecsd-logger retries with every chunk), so the commit that needed the room would race
// for it. Space allocated to the checkpoint file (fallocate, beyond its end with
// FALLOC_FL_KEEP_SIZE, and in the holes bbolt's truncate-growth leaves) is usable by bbolt
// alone: bbolt never shrinks its file and writes its pages in place, so its writes and its
// growth within the allocated range never need new blocks on a filesystem that overwrites
// in place (ext4, xfs, tmpfs; not on copy-on-write ones such as btrfs or zfs, where the
// reserve helps less). The file's size stays bbolt's own.
//
// After each commit the reserve is topped up once less than half of it is left; while
// that fails (the disk is full) state changes use up the headroom, and the next commit
// after space returns restores it. A commit that fails anyway (more growth than the
// reserve while full) returns an error wrapping ENOSPC; writers retry it.
type reserve struct {
	mu   sync.Mutex
	size int64
	path string
	log  logr.Logger
	now  func() time.Time
	// allocatedTo is the end of the range known to be allocated; 0 until the first top-up,
	// which allocates from the start of the file and so also fills bbolt's holes.
	allocatedTo int64
	highWater   int64
	noSpace     bool
	since       time.Time
	err         string
	triedAt     time.Time
	unsupported bool
}

func newReserve(size int64, path string, log logr.Logger) *reserve {
	return &reserve{size: size, path: path, log: log, now: time.Now}
}

// reset forgets what was allocated: the checkpoint at path is a new file (rebuilt from
// memory after damage), whose reserve the next top-up allocates from its start.
func (r *reserve) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.allocatedTo, r.highWater = 0, 0
}

// afterCommit keeps the reserve's books after the committer's transaction: a failure for
// lack of space is recorded, a success tops the reserve up.
func (s *Store) afterCommit(err error) {
	if s.space == nil {
		return
	}
	if err != nil {
		if isNoSpace(err) {
			s.space.failed(err)
		}
		return
	}
	var hw int64
	_ = s.db.View(func(tx *bolt.Tx) error {
		hw = tx.Size()
		return nil
	})
	s.space.topUp(hw)
}

// RetryCheckpointReserve tries again to restore a reserve that could not be kept for lack
// of space (at most once per reserveRetryInterval). Commits do this too; the data directory
// monitor calls it so that an agent with nothing to write also sees space return.
func (s *Store) RetryCheckpointReserve() {
	if s.space == nil || !s.space.state().NoSpace {
		return
	}
	var hw int64
	if err := s.db.View(func(tx *bolt.Tx) error {
		hw = tx.Size()
		return nil
	}); err != nil {
		return // closed
	}
	s.space.topUp(hw)
}

// CheckpointSpace reports the checkpoint's reserved room; all zero without a checkpoint.
func (s *Store) CheckpointSpace() CheckpointSpace {
	if s.space == nil {
		return CheckpointSpace{}
	}
	return s.space.state()
}

func (r *reserve) state() CheckpointSpace {
	r.mu.Lock()
	defer r.mu.Unlock()
	return CheckpointSpace{
		Reserve:  r.size,
		Headroom: max(0, r.allocatedTo-r.highWater),
		NoSpace:  r.noSpace,
		Since:    r.since,
		Err:      r.err,
	}
}

func (r *reserve) failed(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.setNoSpaceLocked(err, "a checkpoint commit ran out of space: the data directory is full and the checkpoint's reserve is used up; the write is retried")
}

func (r *reserve) setNoSpaceLocked(err error, msg string) {
	r.err = err.Error()
	if r.noSpace {
		return
	}
	r.noSpace, r.since = true, r.now()
	r.log.Error(err, msg, "reserve", r.size, "headroom", max(0, r.allocatedTo-r.highWater))
}

// topUp extends the allocated range to hw + size when less than half the reserve is left,
// or, after a failure for lack of space, at most once per reserveRetryInterval.
func (r *reserve) topUp(hw int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.highWater = hw
	if r.size <= 0 || r.unsupported {
		return
	}
	if r.noSpace {
		if r.now().Sub(r.triedAt) < reserveRetryInterval {
			return
		}
	} else if r.allocatedTo-hw >= r.size/2 {
		return
	}
	r.triedAt = r.now()
	want := hw + r.size
	if err := allocate(r.path, r.allocatedTo, want); err != nil {
		switch {
		case isNoSpace(err):
			r.setNoSpaceLocked(err, "cannot restore the checkpoint's reserve: the data directory is full; state changes use what is left of it")
		case errors.Is(err, syscall.EOPNOTSUPP):
			r.unsupported = true
			r.log.Info("the checkpoint's filesystem cannot preallocate; no room is reserved for state changes on a full disk", "path", r.path)
		default:
			r.log.Error(err, "cannot reserve room in the checkpoint", "path", r.path)
		}
		return
	}
	r.allocatedTo = want
	if r.noSpace {
		r.log.Info("the checkpoint's reserve is restored: the data directory has space again", "reserve", r.size,
			"fullFor", r.now().Sub(r.since).Round(time.Second).String())
		r.noSpace, r.since, r.err = false, time.Time{}, ""
	}
}

// allocate makes the range [from, to) of the file at path allocated without changing the
// file's size (FALLOC_FL_KEEP_SIZE): the blocks beyond the end are the file's, so bbolt's
// growth into them needs none, while the file's size stays what bbolt wrote, so a file cut
// short is still seen as damaged and ls shows the data's size.
func allocate(path string, from, to int64) error {
	if to <= from {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("store: reserve room in %s: %w", path, err)
	}
	defer f.Close()
	if err := syscall.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, from, to-from); err != nil {
		return fmt.Errorf("store: reserve room in %s: %w", path, &os.PathError{Op: "fallocate", Path: path, Err: err})
	}
	return nil
}

// isNoSpace tells a full filesystem or quota. bbolt reports a failed file resize with %s,
// not %w, so its text is checked as well.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		strings.Contains(err.Error(), syscall.ENOSPC.Error()) || strings.Contains(err.Error(), syscall.EDQUOT.Error())
}
