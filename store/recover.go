package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ecsd/ecsd/internal/atomicfile"
	"github.com/ecsd/ecsd/store/internal/boltfile"
)

// ErrCorrupt wraps every error that means the checkpoint file itself is damaged.
var ErrCorrupt = errors.New("checkpoint is damaged")

// errPanicked marks a panic (or a memory fault) inside bbolt that contain caught.
var errPanicked = errors.New("bbolt panicked")

// CorruptSuffix is what a damaged checkpoint moved aside gets after its name, followed by the
// UTC time: ecsd.db.corrupt-20060102T150405Z. The name no longer ends in .db, so nothing
// looking for checkpoints mistakes it for one.
const CorruptSuffix = ".corrupt-"

// corruptTimeFormat is the UTC timestamp in a moved-aside checkpoint's name.
const corruptTimeFormat = "20060102T150405Z"

// closeTimeout bounds closing a bbolt handle that panicked: its locks may be in any state,
// and a handle that cannot be closed is abandoned rather than hanging the agent.
const closeTimeout = 5 * time.Second

// Recovery is one damaged checkpoint the store moved aside.
type Recovery struct {
	At time.Time
	// Path is the checkpoint; MovedTo where the damaged file went.
	Path    string
	MovedTo string
	Reason  string
}

// Recoveries returns the damaged checkpoints this store moved aside, at open or since.
func (s *Store) Recoveries() []Recovery {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.recoveries)
}

// contain runs fn, turning a panic inside it, and a fault on bbolt's memory map (a SIGBUS or
// SIGSEGV on a file shorter than its pages say), into an error wrapping ErrCorrupt and
// errPanicked. Faults on goroutines bbolt starts itself cannot be caught anywhere, which is
// why files are verified (verifyFile) before bbolt sees them.
func contain(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %w: %v", ErrCorrupt, errPanicked, r)
		}
	}()
	return fn()
}

// verifyFile checks the structure of the file at path (boltfile.Verify) before bbolt maps it.
// A missing file is fine: bbolt creates it.
func verifyFile(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: read checkpoint %s: %w", path, err)
	}
	if _, err := boltfile.Verify(data); err != nil {
		return fmt.Errorf("store: checkpoint %s: %w: %w", path, ErrCorrupt, err)
	}
	return nil
}

// openBolt opens a verified file with the store's options. bbolt's own refusals of a damaged
// file, and its panics, wrap ErrCorrupt; a held lock (another agent) does not.
func openBolt(path string, readOnly bool) (*bolt.DB, error) {
	var db *bolt.DB
	err := contain(func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{
			Timeout:        openTimeout,
			NoFreelistSync: true,
			FreelistType:   bolt.FreelistMapType,
			ReadOnly:       readOnly,
		})
		return err
	})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrInvalidMapping):
		return nil, fmt.Errorf("store: open checkpoint %s: %w: %w", path, ErrCorrupt, err)
	default:
		return nil, fmt.Errorf("store: open checkpoint %s: %w", path, err)
	}
}

// maxCheckErrors bounds the faults tx.Check reports that are kept in the error.
const maxCheckErrors = 5

// checkDB runs bbolt's consistency check (free pages, page references, key order) in a
// read-only transaction. It is cheap at a checkpoint's size (see BenchmarkOpenCheckpoint).
func checkDB(db *bolt.DB) error {
	return db.View(func(tx *bolt.Tx) error {
		var faults []string
		n := 0
		for err := range tx.Check() { // drained to the end, so the checker goroutine ends
			if n < maxCheckErrors {
				faults = append(faults, err.Error())
			}
			n++
		}
		if n == 0 {
			return nil
		}
		if n > maxCheckErrors {
			faults = append(faults, fmt.Sprintf("and %d more", n-maxCheckErrors))
		}
		return fmt.Errorf("%w: integrity check: %s", ErrCorrupt, strings.Join(faults, "; "))
	})
}

// closeBolt closes db, giving up after closeTimeout: after a panic its locks may be held
// for ever, and leaking one handle beats hanging the agent.
func closeBolt(db *bolt.DB, log logr.Logger) {
	done := make(chan error, 1)
	go func() {
		done <- contain(db.Close)
	}()
	select {
	case err := <-done:
		if err != nil {
			log.V(1).Info("closing the damaged checkpoint", "error", err.Error())
		}
	case <-time.After(closeTimeout):
		log.Info("closing the damaged checkpoint did not finish; abandoning its handle")
	}
}

// moveAside renames the checkpoint at path to path.corrupt-<UTC time> and returns the new
// name. The name is made unique if one with that second exists already.
func moveAside(path string, now time.Time) (string, error) {
	base := path + CorruptSuffix + now.UTC().Format(corruptTimeFormat)
	to := base
	for i := 1; ; i++ {
		if _, err := os.Lstat(to); errors.Is(err, fs.ErrNotExist) {
			break
		}
		to = fmt.Sprintf("%s.%d", base, i)
	}
	if err := os.Rename(path, to); err != nil {
		return "", err
	}
	return to, atomicfile.SyncDir(filepath.Dir(path))
}

// pruneCorrupt deletes all but the keep newest damaged checkpoints of path.
func pruneCorrupt(path string, keep int, log logr.Logger) {
	old := corruptFiles(path)
	if len(old) <= keep {
		return
	}
	for _, f := range old[:len(old)-keep] {
		if err := os.Remove(f); err != nil {
			log.Error(err, "cannot delete an old damaged checkpoint", "file", f)
			continue
		}
		log.Info("deleted an old damaged checkpoint", "file", f, "kept", keep)
	}
}

// corruptFiles lists the damaged checkpoints of path moved aside, oldest first.
func corruptFiles(path string) []string {
	matches, _ := filepath.Glob(globEscape(path) + CorruptSuffix + "*")
	type file struct {
		name string
		mod  time.Time
	}
	var files []file
	for _, m := range matches {
		if fi, err := os.Lstat(m); err == nil && fi.Mode().IsRegular() {
			files = append(files, file{m, fi.ModTime()})
		}
	}
	slices.SortFunc(files, func(a, b file) int {
		if c := a.mod.Compare(b.mod); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.name
	}
	return out
}

// globEscape quotes the glob metacharacters of a literal path.
func globEscape(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)
	return r.Replace(p)
}

// rebuildCheckpoint replaces a checkpoint that broke while the agent was running: bbolt
// panicked on it, or the file shrank or vanished.
// Memory is authoritative: every object, every write already in the file (visible or not
// yet), the metadata values and the quarantined records are written to a fresh file, the
// damaged one is moved aside and the fresh one takes its place. Runs on the committer
// goroutine, the only user of s.db.
func (s *Store) rebuildCheckpoint(cause error) error {
	snap := s.snapshotForRebuild()
	tmp := s.path + ".rebuild"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", tmp, err)
	}
	if err := writeCheckpoint(tmp, snap); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write a fresh checkpoint from memory: %w", err)
	}
	if errors.Is(cause, errPanicked) {
		// Its write transaction was left open (see writeBatch): Close would wait for it for
		// ever. Abandon the handle; its lock is on the file that is moved aside.
		s.log.Info("abandoning the checkpoint handle that panicked", "checkpoint", s.path)
	} else {
		closeBolt(s.db, s.log)
	}
	moved, err := moveAside(s.path, s.now())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("move the damaged checkpoint aside: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("put the fresh checkpoint in place: %w", err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(s.path)); err != nil {
		return fmt.Errorf("sync the checkpoint directory: %w", err)
	}
	db, err := openBolt(s.path, false)
	if err != nil {
		return err
	}
	s.db = db
	if s.space != nil {
		s.space.reset()
	}
	s.log.Error(cause, "checkpoint failed while running; wrote a fresh one from memory and moved the damaged one aside",
		"checkpoint", s.path, "movedTo", moved, "objects", snap.objects)
	s.mu.Lock()
	s.recoveries = append(s.recoveries, Recovery{At: s.now(), Path: s.path, MovedTo: moved, Reason: cause.Error()})
	s.mu.Unlock()
	pruneCorrupt(s.path, s.keepCorrupt, s.log)
	return nil
}

// checkpointSnapshot is everything a checkpoint holds, taken from memory.
type checkpointSnapshot struct {
	rv          uint64
	kinds       []*kindInfo
	objs        []map[string]client.Object // by kindInfo.idx
	meta        map[string]string
	quarantined map[string][]byte
	objects     int
}

// snapshotForRebuild is the durable state: the visible objects plus the writes the committer
// has made durable that are not visible yet (they wait for an earlier write still in flight).
func (s *Store) snapshotForRebuild() checkpointSnapshot {
	s.mu.RLock()
	defer s.mu.RUnlock()
	snap := checkpointSnapshot{
		rv:          s.rv,
		kinds:       s.kinds,
		objs:        make([]map[string]client.Object, len(s.state)),
		meta:        make(map[string]string, len(s.memMeta)),
		quarantined: make(map[string][]byte, len(s.quarantined)),
	}
	for i, st := range s.state {
		snap.objs[i] = make(map[string]client.Object, len(st.objs))
		for k, o := range st.objs {
			snap.objs[i][k] = o
		}
	}
	for _, p := range s.pending {
		if !p.durable {
			continue
		}
		for _, c := range p.changes {
			if c.obj == nil {
				delete(snap.objs[c.kind.idx], c.key)
			} else {
				snap.objs[c.kind.idx][c.key] = c.obj
			}
		}
	}
	for k, v := range s.memMeta {
		snap.meta[k] = v
	}
	for k, v := range s.quarantined {
		snap.quarantined[k] = v
	}
	for _, m := range snap.objs {
		snap.objects += len(m)
	}
	return snap
}

// writeCheckpoint creates a checkpoint file at path holding snap, synced.
func writeCheckpoint(path string, snap checkpointSnapshot) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return err
	}
	err = contain(func() error {
		return db.Update(func(tx *bolt.Tx) error {
			meta, err := tx.CreateBucket(bucketMeta)
			if err != nil {
				return err
			}
			if err := meta.Put(keySchemaVersion, []byte(schemaVersion)); err != nil {
				return err
			}
			if err := meta.Put(keyResourceVer, []byte(formatRV(snap.rv))); err != nil {
				return err
			}
			kv, err := tx.CreateBucket(bucketKV)
			if err != nil {
				return err
			}
			for k, v := range snap.meta {
				if err := kv.Put([]byte(k), []byte(v)); err != nil {
					return err
				}
			}
			q, err := tx.CreateBucket(bucketQuarantine)
			if err != nil {
				return err
			}
			for k, v := range snap.quarantined {
				if err := q.Put([]byte(k), v); err != nil {
					return err
				}
			}
			for _, k := range snap.kinds {
				b, err := tx.CreateBucket(k.bucket)
				if err != nil {
					return err
				}
				for key, o := range snap.objs[k.idx] {
					v, err := json.Marshal(o)
					if err != nil {
						return fmt.Errorf("encode %s %s: %w", k.gvk.Kind, key, err)
					}
					if err := b.Put([]byte(key), v); err != nil {
						return err
					}
				}
			}
			return nil
		})
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}
