package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Checkpoint layout: one bucket per kind (key "namespace/name", value the object's JSON with
// status), a meta bucket with the schema version and the last resourceVersion, a kv bucket for
// GetMeta/PutMeta, and a quarantine bucket for records that failed to decode.
const (
	schemaVersion = "1"
	// maxCommitBatch bounds how many writes share one transaction.
	maxCommitBatch = 1024
	// openTimeout bounds the wait for bbolt's file lock, so a second agent fails instead of
	// hanging.
	openTimeout = 10 * time.Second
)

var (
	bucketMeta       = []byte("meta")
	bucketKV         = []byte("kv")
	bucketQuarantine = []byte("quarantine")
	keySchemaVersion = []byte("schema-version")
	keyResourceVer   = []byte("resource-version")
)

// commitReq is one write handed to the committer. Writes to different keys that arrive while
// a transaction is committing share the next one, and so share its fsync.
type commitReq struct {
	records []record
	rv      uint64
	// pw is the store write this request persists (nil for PutMeta); the committer marks it
	// durable so that a checkpoint rebuilt from memory includes it (see rebuildCheckpoint).
	pw   *pendingWrite
	done chan error
	// lazy requests need not wait for fsync (status writes); a batch is lazy when all are.
	lazy bool
}

// lazySyncDelay bounds how long a status write stays unsynced. Status is observed state:
// the agent derives it again from containerd, so a status write goes to the file (it
// survives an agent crash: the page cache keeps it) without waiting for fsync, which takes
// milliseconds off every step of a launch. The committer fsyncs within this delay, or at the
// next spec write or deletion, which always wait for fsync. A host crash in between, which
// ends every container anyway, can only lose those last status changes; should it leave
// the file damaged, the file is moved aside and the tasks rebuilt from containerd.
const lazySyncDelay = time.Second

// record is one bbolt put (value != nil) or delete.
type record struct {
	bucket, key, value []byte
}

// openCheckpoint opens (or creates) the bbolt file, loads every object and starts the
// committer. A file that is damaged (it fails the structure walk, bbolt refuses or panics on
// it, tx.Check finds faults, or its schema is unknown) is moved aside as
// <path>.corrupt-<UTC time> and the store starts from an empty checkpoint: the agent must
// never crash-loop on its own state. Other failures (the lock held by another agent,
// permissions, I/O errors) are returned: they are not the file's fault and moving it would
// lose good state.
func (s *Store) openCheckpoint(ctx context.Context, path string) error {
	db, err := s.openAndLoad(ctx, path)
	if errors.Is(err, ErrCorrupt) {
		s.resetState()
		moved, merr := moveAside(path, s.now())
		if merr != nil {
			return fmt.Errorf("store: checkpoint %s is damaged (%v) and could not be moved aside: %w", path, err, merr)
		}
		s.log.Error(err, "checkpoint is damaged; moved it aside and starting with an empty checkpoint",
			"checkpoint", path, "movedTo", moved)
		s.recoveries = append(s.recoveries, Recovery{At: s.now(), Path: path, MovedTo: moved, Reason: err.Error()})
		pruneCorrupt(path, s.keepCorrupt, s.log)
		db, err = s.openAndLoad(ctx, path)
	}
	if err != nil {
		return err
	}
	s.db = db
	s.path = path
	s.durable = true
	s.commitCh = make(chan *commitReq, maxCommitBatch)
	s.committerDone = make(chan struct{})
	go s.runCommitter()
	return nil
}

// openAndLoad verifies, opens, checks and loads the checkpoint at path. Damage of any kind,
// panics and memory faults inside bbolt included, comes back wrapped in ErrCorrupt.
func (s *Store) openAndLoad(ctx context.Context, path string) (*bolt.DB, error) {
	if err := verifyFile(path); err != nil {
		return nil, err
	}
	db, err := openBolt(path, false)
	if err != nil {
		return nil, err
	}
	err = contain(func() error { return checkDB(db) })
	if err == nil {
		err = contain(func() error { return db.Update(func(tx *bolt.Tx) error { return s.load(ctx, tx) }) })
	}
	if errors.Is(err, berrors.ErrIncompatibleValue) {
		// A plain value where one of the store's buckets belongs.
		err = fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if err != nil {
		closeBolt(db, s.log)
		return nil, fmt.Errorf("store: load checkpoint %s: %w", path, err)
	}
	return db, nil
}

// resetState forgets whatever a failed load put in memory.
func (s *Store) resetState() {
	for _, st := range s.state {
		st.objs = make(map[string]client.Object)
	}
	s.rv = 1
	s.memMeta = make(map[string]string)
	s.quarantined = make(map[string][]byte)
}

// load reads the checkpoint into memory. An unknown schema version is damage (ErrCorrupt); a
// bad record never is: that is logged and moved to the quarantine bucket so the agent starts
// anyway.
func (s *Store) load(ctx context.Context, tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	switch v := meta.Get(keySchemaVersion); {
	case v == nil:
		if err := meta.Put(keySchemaVersion, []byte(schemaVersion)); err != nil {
			return err
		}
	case string(v) != schemaVersion:
		return fmt.Errorf("%w: unknown checkpoint schema version %q (this build reads %q)", ErrCorrupt, v, schemaVersion)
	}
	if v := meta.Get(keyResourceVer); v != nil {
		// A bad value is not fatal: the objects' own resourceVersions still bound it below.
		if rv, err := parseRV(string(v)); err != nil {
			s.log.Error(err, "ignoring bad checkpoint resource-version", "value", string(v))
		} else {
			s.rv = max(s.rv, rv)
		}
	}
	for _, name := range [][]byte{bucketKV, bucketQuarantine} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	// The metadata values live in memory too, so that GetMeta never reads the file and a
	// checkpoint rebuilt from memory keeps them.
	err = tx.Bucket(bucketKV).ForEach(func(k, v []byte) error {
		if v != nil {
			s.memMeta[string(k)] = string(v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	quarantine := tx.Bucket(bucketQuarantine)
	err = quarantine.ForEach(func(k, v []byte) error {
		if v != nil {
			s.quarantined[string(k)] = append([]byte{}, v...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range s.kinds {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(k.bucket)
		if err != nil {
			return err
		}
		var bad [][]byte
		err = b.ForEach(func(key, value []byte) error {
			if value == nil {
				s.log.Info("ignoring nested bucket in checkpoint", "bucket", string(k.bucket), "key", string(key))
				return nil
			}
			obj, rv, err := decodeRecord(k, key, value)
			if err != nil {
				qk := quarantineKey(k.bucket, key)
				s.log.Error(err, "quarantining undecodable checkpoint record",
					"bucket", string(k.bucket), "key", string(key), "quarantineKey", qk)
				if err := quarantine.Put([]byte(qk), append([]byte{}, value...)); err != nil {
					return err
				}
				s.quarantined[qk] = append([]byte{}, value...)
				bad = append(bad, append([]byte{}, key...))
				return nil
			}
			s.state[k.idx].objs[string(key)] = obj
			s.rv = max(s.rv, rv)
			return nil
		})
		if err != nil {
			return err
		}
		for _, key := range bad {
			if err := b.Delete(key); err != nil {
				return err
			}
		}
	}
	return nil
}

// quarantineKey names a quarantined record: its bucket, a slash, its key.
func quarantineKey(bucket, key []byte) string { return string(bucket) + "/" + string(key) }

// decodeRecord decodes and checks one stored object.
func decodeRecord(k *kindInfo, key, value []byte) (client.Object, uint64, error) {
	obj := reflect.New(k.typ).Interface().(client.Object) // no GVK: let the record speak
	if err := json.Unmarshal(value, obj); err != nil {
		return nil, 0, fmt.Errorf("decode %s: %w", k.gvk.Kind, err)
	}
	if gvk := obj.GetObjectKind().GroupVersionKind(); !gvk.Empty() && gvk != k.gvk {
		return nil, 0, fmt.Errorf("record is a %s, bucket holds %s", gvk, k.gvk)
	}
	obj.GetObjectKind().SetGroupVersionKind(k.gvk)
	if want := objectKey(obj.GetNamespace(), obj.GetName()); obj.GetName() == "" || want != string(key) {
		return nil, 0, fmt.Errorf("record names %q, key is %q", want, key)
	}
	rv, err := parseRV(obj.GetResourceVersion())
	if err != nil {
		return nil, 0, fmt.Errorf("bad resourceVersion %q: %w", obj.GetResourceVersion(), err)
	}
	return obj, rv, nil
}

// persist encodes changes and waits until the committer has written them: synced, unless
// lazy (then synced within lazySyncDelay).
func (s *Store) persist(pw *pendingWrite, changes []change, lazy bool) error {
	req := &commitReq{records: make([]record, len(changes)), pw: pw, done: make(chan error, 1), lazy: lazy}
	for i, c := range changes {
		r := record{bucket: c.kind.bucket, key: []byte(c.key)}
		if c.obj != nil {
			v, err := json.Marshal(c.obj)
			if err != nil {
				return fmt.Errorf("store: encode %s %s: %w", c.kind.gvk.Kind, c.key, err)
			}
			r.value = v
		}
		req.records[i] = r
		req.rv = max(req.rv, c.rv)
	}
	s.commitCh <- req
	return <-req.done
}

// runCommitter is the group commit loop: it takes every queued write, commits them in one
// transaction (one fsync) and replies. It does not wait to collect a batch: while one commit
// is syncing the next batch queues up, so a lone writer pays one fsync and many writers share
// them. (bbolt's DB.Batch would add up to MaxBatchDelay, 10 ms by default, to every lone write.)
//
// bbolt panics (and memory faults on its mapping, e.g. a file truncated under it) are
// contained here: memory is authoritative, so the committer writes a fresh checkpoint from
// it, moves the bad file aside and commits the batch again (rebuildCheckpoint).
func (s *Store) runCommitter() {
	defer close(s.committerDone)
	// Faults on bbolt's memory map become panics on this goroutine, which contain recovers.
	debug.SetPanicOnFault(true)
	batch := make([]*commitReq, 0, maxCommitBatch)
	var syncDue <-chan time.Time // armed while lazy writes wait for their fsync
	for {
		var req *commitReq
		select {
		case r, ok := <-s.commitCh:
			if !ok {
				s.syncLazy()
				return
			}
			req = r
		case <-syncDue:
			syncDue = nil
			s.syncLazy()
			continue
		}
		batch = append(batch[:0], req)
	collect:
		for len(batch) < maxCommitBatch {
			select {
			case r, ok := <-s.commitCh:
				if !ok {
					break collect
				}
				batch = append(batch, r)
			default:
				break collect
			}
		}
		err := s.commitBatch(batch)
		if err != nil && len(batch) > 1 && !errors.Is(err, errBroken) {
			// Find out whose write is at fault instead of failing innocent writers with it.
			for _, r := range batch {
				r.done <- s.commitBatch([]*commitReq{r})
			}
		} else {
			for _, r := range batch {
				r.done <- err
			}
		}
		if s.unsynced.Load() && syncDue == nil {
			syncDue = time.After(lazySyncDelay)
		}
	}
}

// syncLazy fsyncs what lazy commits left unsynced.
func (s *Store) syncLazy() {
	if !s.unsynced.Load() {
		return
	}
	if err := contain(s.db.Sync); err != nil {
		s.log.Error(err, "cannot sync the checkpoint; status changes stay unsynced until the next write", "checkpoint", s.path)
		return
	}
	s.unsynced.Store(false)
}

// errBroken: the checkpoint could not be written and could not be rebuilt.
var errBroken = errors.New("store: checkpoint is broken and could not be rebuilt")

// commitBatch writes batch in one transaction and marks it durable. A panic inside bbolt, or
// a file that shrank or vanished under it, makes it rebuild the checkpoint from memory and
// try once more.
func (s *Store) commitBatch(batch []*commitReq) error {
	err := s.writeBatch(batch)
	if errors.Is(err, ErrCorrupt) {
		if rerr := s.rebuildCheckpoint(err); rerr != nil {
			s.log.Error(rerr, "cannot rebuild the checkpoint; writes fail until it can be", "checkpoint", s.path)
			return fmt.Errorf("%w: %w", errBroken, rerr)
		}
		err = s.writeBatch(batch)
	}
	if err != nil {
		return fmt.Errorf("store: commit checkpoint: %w", err)
	}
	s.markDurable(batch)
	return nil
}

// writeBatch commits batch in one write transaction on s.db. After a panic (or a fault on the
// mapping) the transaction is left as it is, never rolled back: with NoFreelistSync a rollback
// rescans the whole file on a goroutine bbolt starts itself, where the same damage would crash
// the process. The handle is then abandoned (rebuildCheckpoint).
func (s *Store) writeBatch(batch []*commitReq) error {
	if err := s.checkFileSize(); err != nil {
		return err
	}
	lazy := true
	for _, r := range batch {
		lazy = lazy && r.lazy
	}
	// Read by Commit: a lazy batch is written without fsync; any other one fsyncs the file,
	// and with it what lazy batches wrote before.
	s.db.NoSync = lazy
	err := contain(func() error {
		tx, err := s.db.Begin(true)
		if err != nil {
			return err
		}
		if err := writeReqs(tx, batch); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	})
	if !errors.Is(err, ErrCorrupt) {
		s.afterCommit(err)
	}
	if err == nil {
		s.unsynced.Store(lazy)
	}
	return err
}

// checkFileSize fails with ErrCorrupt when the checkpoint file is gone or shorter than its
// pages: bbolt would fault on the first page past the end, and a rollback would crash.
func (s *Store) checkFileSize() error {
	var want int64
	if err := s.db.View(func(tx *bolt.Tx) error { want = tx.Size(); return nil }); err != nil {
		return err
	}
	fi, err := os.Stat(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: the checkpoint file %s is gone", ErrCorrupt, s.path)
	}
	if err != nil {
		return err
	}
	if fi.Size() < want {
		return fmt.Errorf("%w: the checkpoint file is %d bytes, shorter than the %d its pages need: truncated", ErrCorrupt, fi.Size(), want)
	}
	return nil
}

// markDurable records that batch is in the file: its store writes may go into a checkpoint
// rebuilt from memory, and its metadata values are GetMeta's from now on.
func (s *Store) markDurable(batch []*commitReq) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range batch {
		if r.pw != nil {
			r.pw.durable = true
		}
		for _, rec := range r.records {
			if string(rec.bucket) == string(bucketKV) && rec.value != nil {
				s.memMeta[string(rec.key)] = string(rec.value)
			}
		}
	}
}

func writeReqs(tx *bolt.Tx, reqs []*commitReq) error {
	meta := tx.Bucket(bucketMeta)
	var rv uint64
	if v := meta.Get(keyResourceVer); v != nil {
		rv, _ = parseRV(string(v))
	}
	top := rv
	for _, r := range reqs {
		for _, rec := range r.records {
			b := tx.Bucket(rec.bucket)
			if b == nil {
				return fmt.Errorf("bucket %s missing", rec.bucket)
			}
			var err error
			if rec.value == nil {
				err = b.Delete(rec.key)
			} else {
				err = b.Put(rec.key, rec.value)
			}
			if err != nil {
				return fmt.Errorf("%s %s: %w", rec.bucket, rec.key, err)
			}
		}
		top = max(top, r.rv)
	}
	if top == rv {
		return nil
	}
	return meta.Put(keyResourceVer, []byte(formatRV(top)))
}

// GetMeta reads a control-plane metadata value (e.g. the container instance ARN). Values
// are kept in memory, so this never touches the checkpoint file.
func (s *Store) GetMeta(key string) (string, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.memMeta[key]
	return v, ok, nil
}

// PutMeta durably stores a control-plane metadata value before returning.
func (s *Store) PutMeta(key, value string) error {
	if key == "" {
		return errors.New("store: empty meta key")
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if !s.durable {
		s.memMeta[key] = value
		s.mu.Unlock()
		return nil
	}
	s.writers.Add(1)
	s.mu.Unlock()
	defer s.writers.Done()
	req := &commitReq{
		records: []record{{bucket: bucketKV, key: []byte(key), value: []byte(value)}},
		done:    make(chan error, 1),
	}
	s.commitCh <- req
	if err := <-req.done; err != nil {
		return fmt.Errorf("store: put meta %q: %w", key, err)
	}
	return nil
}
