package containerlog

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
)

// FileSink appends the raw output to a file, stdout and stderr interleaved as they came:
// the format the shim's own file logging (cio.LogFile) wrote, which the object API's log
// subresource and ecsctl logs read. A file that cannot be opened (yet) is a failing
// write, retried like any other, so the logger drains its pipes even then.
//
// With a maximum size the file is rotated as Docker's json-file driver does it: when the
// next output would take it past the size, file.N-2 … file.1 and the file are renamed one
// up (file.N-1 is overwritten, so at most MaxFiles files exist) and a new file is started;
// with MaxFiles 1 the file is truncated instead. Rotation happens after the last whole
// line that fits, so lines are not split between files unless one line alone is longer
// than the maximum size.
//
// gopkg.in/natefinch/lumberjack.v2 does not fit here: it renames the full file to a
// timestamped backup (<name>-<time><ext>) instead of shifting file.1 … file.N-1, and the
// object API's log subresource and ecsctl logs read a container's history as file.N-1 …
// file.1, file, in that order, as Docker's json-file readers do; it also rejects (rather
// than writes) a line longer than the maximum size, sizes in whole megabytes (max-size
// takes k, m and g), and starts a pruning goroutine per file that Close does not stop,
// one leaked goroutine per container.
type FileSink struct {
	path     string
	f        *os.File
	size     int64 // bytes in the current file
	maxSize  int64 // 0: unbounded
	maxFiles int   // files kept, the current one included
}

// NewFileSink returns a sink for path, rotated at maxSize bytes (never when <= 0) keeping
// maxFiles files (at least 1); the file is opened (created) on the first Write, or by Open.
func NewFileSink(path string, maxSize int64, maxFiles int) *FileSink {
	return &FileSink{path: path, maxSize: max(0, maxSize), maxFiles: max(1, maxFiles)}
}

// RotatedPath is the i-th rotated file of the log at path (i >= 1; path itself for 0).
func RotatedPath(path string, i int) string {
	if i == 0 {
		return path
	}
	return path + "." + strconv.Itoa(i)
}

// Open opens the file now, creating it, so that it exists once the logger is ready.
func (s *FileSink) Open() error {
	if s.f != nil {
		return nil
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	// A container restarted in place appends to its file: its size counts.
	if fi, err := f.Stat(); err == nil {
		s.size = fi.Size()
	}
	s.f = f
	return nil
}

func (s *FileSink) Write(_ Stream, p []byte) (int, error) {
	if err := s.Open(); err != nil {
		return 0, err
	}
	if s.maxSize <= 0 {
		n, err := s.f.Write(p)
		s.size += int64(n)
		return n, err
	}
	written := 0
	for len(p) > 0 {
		room := s.maxSize - s.size
		k := len(p)
		if int64(k) > room {
			k = 0
			if room > 0 {
				k = bytes.LastIndexByte(p[:room], '\n') + 1
			}
			if k == 0 && s.size == 0 {
				k = int(room) // one line longer than the file may be: split it
			}
		}
		if k == 0 {
			if err := s.rotate(); err != nil {
				return written, err
			}
			continue
		}
		n, err := s.f.Write(p[:k])
		s.size += int64(n)
		written += n
		p = p[n:]
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// rotate starts a new file, keeping at most maxFiles-1 older ones.
func (s *FileSink) rotate() error {
	if err := s.f.Close(); err != nil && !errors.Is(err, fs.ErrClosed) {
		s.f = nil
		return fmt.Errorf("rotate log: %w", err)
	}
	s.f = nil
	for i := s.maxFiles - 1; i >= 1; i-- {
		if err := os.Rename(RotatedPath(s.path, i-1), RotatedPath(s.path, i)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotate log: %w", err)
		}
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	s.f, s.size = f, 0
	return nil
}

func (s *FileSink) Close() error {
	if s.f == nil {
		return nil
	}
	return s.f.Close()
}
