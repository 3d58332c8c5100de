package containerlog

import (
	"fmt"
	"os"
)

// FileSink appends the raw output to a file, stdout and stderr interleaved as they came:
// the format the shim's own file logging (cio.LogFile) wrote, which the object API's log
// subresource and ecsctl logs read. A file that cannot be opened (yet) is a failing
// write, retried like any other, so the logger drains its pipes even then.
type FileSink struct {
	path string
	f    *os.File
}

// NewFileSink returns a sink for path; the file is opened (created) on the first Write,
// or by Open.
func NewFileSink(path string) *FileSink { return &FileSink{path: path} }

// Open opens the file now, creating it, so that it exists once the logger is ready.
func (s *FileSink) Open() error {
	if s.f != nil {
		return nil
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	s.f = f
	return nil
}

func (s *FileSink) Write(_ Stream, p []byte) (int, error) {
	if err := s.Open(); err != nil {
		return 0, err
	}
	return s.f.Write(p)
}

func (s *FileSink) Close() error {
	if s.f == nil {
		return nil
	}
	return s.f.Close()
}
