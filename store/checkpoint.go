package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	bolt "go.etcd.io/bbolt"
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
	done    chan error
}

// record is one bbolt put (value != nil) or delete.
type record struct {
	bucket, key, value []byte
}

// openCheckpoint opens (or creates) the bbolt file, loads every object and starts the
// committer.
func (s *Store) openCheckpoint(ctx context.Context, path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        openTimeout,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return fmt.Errorf("store: open checkpoint %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return s.load(ctx, tx) }); err != nil {
		_ = db.Close()
		return fmt.Errorf("store: load checkpoint %s: %w", path, err)
	}
	s.db = db
	s.commitCh = make(chan *commitReq, maxCommitBatch)
	s.committerDone = make(chan struct{})
	go s.runCommitter()
	return nil
}

// load reads the checkpoint into memory. It refuses an unknown schema version but never a bad
// record: that is logged and moved to the quarantine bucket so the agent starts anyway.
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
		return fmt.Errorf("unknown checkpoint schema version %q (this build reads %q)", v, schemaVersion)
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
	quarantine := tx.Bucket(bucketQuarantine)
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
				s.log.Error(err, "quarantining undecodable checkpoint record", "bucket", string(k.bucket), "key", string(key))
				qk := append(append(append([]byte{}, k.bucket...), '/'), key...)
				if err := quarantine.Put(qk, append([]byte{}, value...)); err != nil {
					return err
				}
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

// persist encodes changes and waits until the committer has made them durable.
func (s *Store) persist(changes []change) error {
	req := &commitReq{records: make([]record, len(changes)), done: make(chan error, 1)}
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
func (s *Store) runCommitter() {
	defer close(s.committerDone)
	batch := make([]*commitReq, 0, maxCommitBatch)
	for req := range s.commitCh {
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
		err := s.commitTx(func(tx *bolt.Tx) error { return writeReqs(tx, batch) })
		if err != nil && len(batch) > 1 {
			// Find out whose write is at fault instead of failing innocent writers with it.
			for _, r := range batch {
				r.done <- s.commitTx(func(tx *bolt.Tx) error { return writeReqs(tx, []*commitReq{r}) })
			}
			continue
		}
		if err != nil {
			err = fmt.Errorf("store: commit checkpoint: %w", err)
		}
		for _, r := range batch {
			r.done <- err
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

// GetMeta reads a control-plane metadata value (e.g. the container instance ARN).
func (s *Store) GetMeta(key string) (string, bool, error) {
	if s.db == nil {
		s.mu.RLock()
		defer s.mu.RUnlock()
		v, ok := s.memMeta[key]
		return v, ok, nil
	}
	var (
		val string
		ok  bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketKV).Get([]byte(key)); v != nil {
			val, ok = string(v), true
		}
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("store: get meta %q: %w", key, err)
	}
	return val, ok, nil
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
	if s.db == nil {
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
