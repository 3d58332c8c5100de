package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/store/internal/boltfile"
)

// Inspection is what InspectCheckpoint found in a checkpoint file.
type Inspection struct {
	Path    string
	Exists  bool
	Size    int64
	ModTime time.Time
	// InUse says another process (a running agent) holds the file's lock, so what was read
	// is a copy taken while it may have been writing.
	InUse bool
	// Integrity is nil when the file passed every check: the structure walk, bbolt's
	// tx.Check, the schema version. Otherwise it says what is wrong (wrapping ErrCorrupt),
	// and the agent would move the file aside at its next start.
	Integrity error
	PageSize  int
	TxID      uint64
	Schema    string
	// ResourceVersion is the last one the checkpoint recorded.
	ResourceVersion string
	// Meta holds the control-plane metadata values (registration and the like).
	Meta map[string]string
	// Objects are the decoded objects of every kind, sorted by kind and name.
	Objects []client.Object
	// Undecodable are records that fail to decode now: the next start quarantines them.
	Undecodable []BadRecord
	// Quarantined are records an earlier start quarantined.
	Quarantined []BadRecord
	// MovedAside lists earlier damaged checkpoints moved aside, oldest first.
	MovedAside []string
}

// BadRecord is a record that does not decode.
type BadRecord struct {
	// Key is "<bucket>/<namespace>/<name>".
	Key  string
	Size int
	Err  string
}

// inspectAttempts bounds how often a checkpoint in use is copied again when the copy looks
// damaged: a copy taken while the agent commits can be torn, and the next one is usually whole.
const inspectAttempts = 3

// InspectCheckpoint reads the checkpoint at path without modifying it or taking its lock: it
// works on a private copy, so it can run next to an agent using the file. scheme must hold
// the ecsd kinds. The error is for failures to read at all; damage is Inspection.Integrity.
func InspectCheckpoint(ctx context.Context, scheme *runtime.Scheme, path string) (*Inspection, error) {
	kinds, err := discoverKinds(scheme, v1alpha1.GroupVersion.Group)
	if err != nil {
		return nil, err
	}
	in := &Inspection{Path: path, MovedAside: corruptFiles(path)}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return in, nil
	}
	if err != nil {
		return nil, err
	}
	in.Exists, in.Size, in.ModTime = true, fi.Size(), fi.ModTime()
	in.InUse, err = lockedByOther(path)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		got, err := inspectCopy(kinds, path)
		if err != nil {
			return nil, err
		}
		got.Path, got.Exists, got.Size, got.ModTime, got.InUse, got.MovedAside = in.Path, true, in.Size, in.ModTime, in.InUse, in.MovedAside
		if got.Integrity == nil || !in.InUse || attempt == inspectAttempts {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// lockedByOther reports whether another process holds bbolt's lock on the file.
func lockedByOther(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("lock %s: %w", path, err)
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false, nil
}

// inspectCopy copies the file to a private temporary file and inspects the copy.
func inspectCopy(kinds []*kindInfo, path string) (*Inspection, error) {
	tmp, err := copyToTemp(path)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	in := &Inspection{}
	data, err := os.ReadFile(tmp)
	if err != nil {
		return nil, err
	}
	info, err := boltfile.Verify(data)
	in.PageSize, in.TxID = info.PageSize, info.TxID
	if err != nil {
		in.Integrity = fmt.Errorf("%w: %w", ErrCorrupt, err)
		return in, nil
	}
	data = nil
	db, err := openBolt(tmp, true)
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			in.Integrity = err
			return in, nil
		}
		return nil, err
	}
	defer func() { _ = contain(db.Close) }()
	if err := contain(func() error { return checkDB(db) }); err != nil {
		in.Integrity = err
		return in, nil
	}
	err = contain(func() error { return db.View(func(tx *bolt.Tx) error { return in.read(tx, kinds) }) })
	if err != nil {
		in.Integrity = err
	}
	return in, nil
}

// copyToTemp copies path to a new root-only temporary file and returns its name.
func copyToTemp(path string) (string, error) {
	src, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst, err := os.CreateTemp("", "ecsd-check-state-*.db")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(dst.Name())
		return "", fmt.Errorf("copy %s: %w", path, err)
	}
	return dst.Name(), nil
}

// read fills the inspection from a checked, read-only transaction.
func (in *Inspection) read(tx *bolt.Tx, kinds []*kindInfo) error {
	in.Meta = map[string]string{}
	if meta := tx.Bucket(bucketMeta); meta != nil {
		in.Schema = string(meta.Get(keySchemaVersion))
		in.ResourceVersion = string(meta.Get(keyResourceVer))
	}
	if in.Schema != "" && in.Schema != schemaVersion {
		in.Integrity = fmt.Errorf("%w: unknown checkpoint schema version %q (this build reads %q)", ErrCorrupt, in.Schema, schemaVersion)
	}
	if kv := tx.Bucket(bucketKV); kv != nil {
		_ = kv.ForEach(func(k, v []byte) error {
			if v != nil {
				in.Meta[string(k)] = string(v)
			}
			return nil
		})
	}
	byBucket := map[string]*kindInfo{}
	for _, k := range kinds {
		byBucket[string(k.bucket)] = k
		b := tx.Bucket(k.bucket)
		if b == nil {
			continue
		}
		_ = b.ForEach(func(key, value []byte) error {
			if value == nil {
				return nil
			}
			obj, _, err := decodeRecord(k, key, value)
			if err != nil {
				in.Undecodable = append(in.Undecodable, BadRecord{Key: quarantineKey(k.bucket, key), Size: len(value), Err: err.Error()})
				return nil
			}
			in.Objects = append(in.Objects, obj)
			return nil
		})
	}
	if q := tx.Bucket(bucketQuarantine); q != nil {
		_ = q.ForEach(func(key, value []byte) error {
			if value == nil {
				return nil
			}
			r := BadRecord{Key: string(key), Size: len(value), Err: "unknown bucket"}
			bucket, rest, _ := strings.Cut(string(key), "/")
			if k := byBucket[bucket]; k != nil {
				if _, _, err := decodeRecord(k, []byte(rest), value); err != nil {
					r.Err = err.Error()
				} else {
					r.Err = "decodes now (quarantined by an older build?)"
				}
			}
			in.Quarantined = append(in.Quarantined, r)
			return nil
		})
	}
	sort.SliceStable(in.Objects, func(i, j int) bool {
		a, b := in.Objects[i], in.Objects[j]
		ka, kb := a.GetObjectKind().GroupVersionKind().Kind, b.GetObjectKind().GroupVersionKind().Kind
		if ka != kb {
			return ka < kb
		}
		return a.GetName() < b.GetName()
	})
	return nil
}
