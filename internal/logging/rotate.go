package logging

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rollover is when RotatingFile starts a new file.
type Rollover string

// The rollover types of ECS_LOG_ROLLOVER_TYPE.
const (
	RolloverSize   Rollover = "size"
	RolloverHourly Rollover = "hourly"
	RolloverNone   Rollover = "none"
)

// ParseRollover parses size (also ""), hourly or none.
func ParseRollover(s string) (Rollover, error) {
	switch Rollover(strings.ToLower(strings.TrimSpace(s))) {
	case "", RolloverSize:
		return RolloverSize, nil
	case RolloverHourly:
		return RolloverHourly, nil
	case RolloverNone:
		return RolloverNone, nil
	}
	return "", fmt.Errorf("log rollover type %q: accepted: size, hourly, none", s)
}

// Rotated files are named <file>.<stamp>[.<n>], all stamps in UTC. Hourly files carry the
// hour they cover, in the reference agent's "2006-01-02-15" pattern, so existing collectors
// that glob ecs-agent.log.* keep working; size rollovers add minutes and seconds, and .<n>
// separates rollovers within the same second.
const (
	hourStamp = "2006-01-02-15"
	sizeStamp = "2006-01-02-15-04-05"
)

// RotateOptions configure a RotatingFile.
type RotateOptions struct {
	Rollover Rollover
	// MaxSize is the size in bytes after which a size rollover happens.
	MaxSize int64
	// MaxBackups is how many rotated files are kept; older ones are deleted.
	MaxBackups int
	// Now replaces time.Now (tests).
	Now func() time.Time
}

// RotatingFile is a zapcore.WriteSyncer appending to a file and rotating it by size or on
// the hour. It is safe for concurrent use. Each Write is kept whole in one file: a size
// rollover happens before a write that would cross MaxSize, never in the middle of it.
//
// It is ours rather than gopkg.in/natefinch/lumberjack.v2 (v2.2.1), which covers only part
// of the rules: lumberjack has no hourly rollover (ECS_LOG_ROLLOVER_TYPE=hourly); it names
// backups <name>-<2006-01-02T15-04-05.000><ext>, inserted before the extension, so the
// ecs-agent.log.<stamp> names that collectors glob (ecs-agent.log.*) would change; it counts
// MaxSize in whole megabytes; it refuses a single write larger than MaxSize instead of
// writing it to a file of its own; it reads the time from a package variable, so rotation
// cannot follow an injected clock; and it prunes on a goroutine that Close does not stop.
type RotatingFile struct {
	mu     sync.Mutex
	path   string
	opts   RotateOptions
	f      *os.File
	closed bool
	size   int64
	hour   time.Time // the hour the current file's content belongs to (hourly rollover)
}

// OpenRotatingFile opens (appending) or creates path and its directory.
func OpenRotatingFile(path string, opts RotateOptions) (*RotatingFile, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rollover == "" {
		opts.Rollover = RolloverSize
	}
	if opts.MaxSize <= 0 {
		opts.MaxSize = DefaultMaxFileSizeMB * 1024 * 1024
	}
	if opts.MaxBackups <= 0 {
		opts.MaxBackups = DefaultMaxRollCount
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("log file %s: %w", path, err)
	}
	r := &RotatingFile{path: path, opts: opts}
	if err := r.open(); err != nil {
		return nil, err
	}
	// A file left by an earlier run belongs to the hour it was last written in, so the
	// first write in a later hour rotates it.
	r.hour = hourOf(opts.Now())
	if st, err := r.f.Stat(); err == nil && st.Size() > 0 {
		r.hour = hourOf(st.ModTime())
	}
	return r, nil
}

func (r *RotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("log file: %w", err)
	}
	r.f, r.size = f, st.Size()
	return nil
}

func hourOf(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// Write appends p, rotating first when due. A failed rotation is reported but the entry is
// still written to the current file: losing the log is worse than an oversized file.
func (r *RotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, fs.ErrClosed
	}
	if r.f == nil { // an earlier rotation could not reopen the file
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	var rotateErr error
	now := r.opts.Now()
	switch r.opts.Rollover {
	case RolloverSize:
		if r.size > 0 && r.size+int64(len(p)) > r.opts.MaxSize {
			rotateErr = r.rotate(now.UTC().Format(sizeStamp))
		}
	case RolloverHourly:
		if h := hourOf(now); !h.Equal(r.hour) {
			if r.size > 0 {
				rotateErr = r.rotate(r.hour.Format(hourStamp))
			}
			r.hour = h
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, errors.Join(rotateErr, err)
}

// rotate renames the current file to <path>.<stamp> (plus .<n> if taken), reopens path and
// deletes the oldest rotated files beyond MaxBackups.
func (r *RotatingFile) rotate(stamp string) error {
	target := r.nextName(stamp)
	closeErr := r.f.Close()
	renameErr := os.Rename(r.path, target)
	if err := r.open(); err != nil {
		r.f = nil
		return errors.Join(closeErr, renameErr, err)
	}
	if renameErr != nil {
		// Keep appending to the old file; try again only after another MaxSize.
		r.size = 0
		return fmt.Errorf("log rotation: %w", renameErr)
	}
	return errors.Join(closeErr, r.prune())
}

// nextName is <path>.<stamp>, or <path>.<stamp>.<n> when the stamp is already used (two
// rollovers in one second, or a restart). n follows the highest number present, never one
// freed by pruning: a reused lower number would sort as older than it is.
func (r *RotatingFile) nextName(stamp string) string {
	last := -1
	if files, err := r.rotatedFiles(); err == nil {
		for _, f := range files {
			if f.stamp == stamp {
				last = max(last, f.seq)
			}
		}
	}
	for {
		name := r.path + "." + stamp
		if last >= 0 {
			name += "." + strconv.Itoa(last+1)
		}
		if _, err := os.Lstat(name); err != nil {
			return name // free, or unknowable: then the rename reports the problem
		}
		last++
	}
}

// rotated is one rotated file and the stamp and sequence in its name.
type rotated struct {
	name  string
	stamp string
	at    time.Time
	seq   int
}

// rotatedFiles lists the rotations of this file. Names that do not parse as one are never
// touched.
func (r *RotatingFile) rotatedFiles() ([]rotated, error) {
	dir, base := filepath.Split(r.path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []rotated
	for _, e := range entries {
		suffix, ok := strings.CutPrefix(e.Name(), base+".")
		if !ok || e.IsDir() {
			continue
		}
		if at, seq, ok := parseStamp(suffix); ok {
			stamp, _, _ := strings.Cut(suffix, ".")
			files = append(files, rotated{name: filepath.Join(dir, e.Name()), stamp: stamp, at: at, seq: seq})
		}
	}
	return files, nil
}

// prune deletes the oldest rotated files so at most MaxBackups remain.
func (r *RotatingFile) prune() error {
	files, err := r.rotatedFiles()
	if err != nil {
		return fmt.Errorf("log rotation: %w", err)
	}
	if len(files) <= r.opts.MaxBackups {
		return nil
	}
	slices.SortFunc(files, func(a, b rotated) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.seq, b.seq))
	})
	var errs []error
	for _, f := range files[:len(files)-r.opts.MaxBackups] {
		if err := os.Remove(f.name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// parseStamp parses "<stamp>" or "<stamp>.<n>" in either layout.
func parseStamp(s string) (time.Time, int, bool) {
	seq := 0
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		n, err := strconv.Atoi(s[i+1:])
		if err != nil || n < 1 {
			return time.Time{}, 0, false
		}
		s, seq = s[:i], n
	}
	for _, layout := range []string{sizeStamp, hourStamp} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, seq, true
		}
	}
	return time.Time{}, 0, false
}

// Sync flushes the file to disk.
func (r *RotatingFile) Sync() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	return r.f.Sync()
}

// Close syncs and closes the file; later writes fail with fs.ErrClosed.
func (r *RotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.f == nil {
		return nil
	}
	err := errors.Join(r.f.Sync(), r.f.Close())
	r.f = nil
	return err
}
