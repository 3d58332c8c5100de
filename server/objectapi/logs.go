package objectapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/containerlog"
)

// logPollInterval is how often a followed log is checked for new output and its container
// for having stopped.
const logPollInterval = 200 * time.Millisecond

// logRequest is the log subresource's query: follow, tailLines and limitBytes, with the
// meaning they have for a pod's log.
type logRequest struct {
	follow     bool
	tailLines  int64 // < 0: everything
	limitBytes int64 // <= 0: no limit
}

func parseLogRequest(q url.Values) (logRequest, error) {
	lr := logRequest{tailLines: -1}
	var err error
	if lr.follow, err = boolParam(q, "follow"); err != nil {
		return lr, err
	}
	for name, dst := range map[string]*int64{"tailLines": &lr.tailLines, "limitBytes": &lr.limitBytes} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || (name == "limitBytes" && n == 0) {
			return lr, apierrors.NewBadRequest(fmt.Sprintf("invalid %s %q", name, v))
		}
		*dst = n
	}
	return lr, nil
}

// serveLog answers containers/<name>/log with the container's stdout and stderr as the
// runtime wrote them to its log file (api.ContainerLogPath), as text/plain. With follow it
// keeps sending what is appended until the client goes away, the file is removed (task
// cleanup), or the container has stopped and everything it wrote has been sent.
func (h *Handler) serveLog(ctx context.Context, w http.ResponseWriter, r *http.Request, rt route) {
	lr, err := parseLogRequest(r.URL.Query())
	if err != nil {
		h.fail(w, err)
		return
	}
	key := client.ObjectKey{Namespace: rt.namespace, Name: rt.name}
	c := &api.Container{}
	if err := h.o.Store.Get(ctx, key, c); err != nil {
		h.fail(w, err)
		return
	}
	path := api.ContainerLogPath(h.o.DataDir, c.Spec.TaskName, c.Spec.Name)
	f, err := os.Open(path)
	if err != nil {
		h.fail(w, logOpenError(c, err))
		return
	}
	defer f.Close()
	opened, err := f.Stat()
	if err != nil {
		h.fail(w, fmt.Errorf("object api: stat log of %s: %w", c.Name, err))
		return
	}
	if lr.tailLines >= 0 {
		off, err := tailOffset(f, opened.Size(), lr.tailLines)
		if err != nil {
			h.fail(w, fmt.Errorf("object api: tail log of %s: %w", c.Name, err))
			return
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			h.fail(w, fmt.Errorf("object api: tail log of %s: %w", c.Name, err))
			return
		}
	}

	s, err := startStream(w, "text/plain; charset=utf-8")
	if err != nil {
		return
	}
	out := io.Writer(s)
	var lw *limitWriter
	if lr.limitBytes > 0 {
		lw = &limitWriter{w: s, n: lr.limitBytes}
		out = lw
	}
	if lr.tailLines < 0 {
		// A full read starts with the files rotated away, oldest first.
		if err := copyRotated(out, path); err != nil {
			return
		}
	}
	if _, err := io.Copy(out, f); err != nil || !lr.follow {
		return
	}
	err = h.followLog(ctx, key, path, opened, f, out)
	h.log.V(1).Info("log follow ended", "container", c.Name, "reason", err.Error())
}

// followLog copies what is appended to f until one of the ends serveLog names; the error
// says which.
func (h *Handler) followLog(ctx context.Context, key client.ObjectKey, path string, opened fs.FileInfo, first *os.File, out io.Writer) error {
	t := time.NewTicker(logPollInterval)
	defer t.Stop()
	f := first
	defer func() {
		if f != first {
			_ = f.Close()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		// Whether the container had stopped is read before the file: a read to the end
		// after that has everything the container wrote.
		stopped := h.containerStopped(ctx, key)
		if fi, err := f.Stat(); err == nil {
			if pos, err := f.Seek(0, io.SeekCurrent); err == nil && fi.Size() < pos {
				// Truncated: start again from its beginning.
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					return fmt.Errorf("rewind truncated log: %w", err)
				}
			}
		}
		n, err := io.Copy(out, f)
		if err != nil {
			return fmt.Errorf("copy log: %w", err)
		}
		cur, err := os.Stat(path)
		if err != nil {
			return errors.New("log file removed")
		}
		if !os.SameFile(cur, opened) {
			// Rotated: the file was renamed away and a new one started. Nothing more is
			// written to the old one; send its rest and go on with the new one.
			if _, err := io.Copy(out, f); err != nil {
				return fmt.Errorf("copy log: %w", err)
			}
			// Rotated more than once since the last look: send the files in between.
			if err := copyRotatedAfter(out, path, opened); err != nil {
				return fmt.Errorf("copy log: %w", err)
			}
			nf, err := os.Open(path)
			if err != nil {
				return errors.New("log file removed")
			}
			if f != first {
				_ = f.Close()
			}
			f = nf
			if opened, err = f.Stat(); err != nil {
				return fmt.Errorf("stat rotated log: %w", err)
			}
			continue
		}
		if stopped && n == 0 {
			return errors.New("container stopped")
		}
	}
}

// containerStopped reports whether the container has stopped or is gone.
func (h *Handler) containerStopped(ctx context.Context, key client.ObjectKey) bool {
	c := &api.Container{}
	if err := h.o.Store.Get(ctx, key, c); err != nil {
		return apierrors.IsNotFound(err)
	}
	return c.Status.KnownStatus.AtLeast(api.ContainerStatusStopped)
}

// logOpenError explains a missing log as kubectl users know it: a container that has not
// been created has no output yet (400, as for a waiting pod container); one that has, and
// whose log is gone, was cleaned up or logs elsewhere (404).
func logOpenError(c *api.Container, err error) error {
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("object api: open log of %s: %w", c.Name, err)
	}
	if c.Status.KnownStatus.Before(api.ContainerStatusCreated) {
		return apierrors.NewBadRequest(fmt.Sprintf("container %q in task %q is waiting to start: %s",
			c.Spec.Name, c.Spec.TaskName, c.Status.KnownStatus.OrNone()))
	}
	return apierrors.NewNotFound(containersResource, c.Name+"/log")
}

// maxRotated bounds how many rotated files a full read looks for (max-file is rarely more
// than a handful).
const maxRotated = 100

// copyRotated copies the files rotated away from the log at path (path.N … path.1, as
// containerlog.FileSink names them), oldest first. A file rotated away meanwhile may be
// missed or sent twice: a full read of a log being rotated is a best effort.
func copyRotated(out io.Writer, path string) error {
	n := 0
	for n < maxRotated {
		if _, err := os.Stat(containerlog.RotatedPath(path, n+1)); err != nil {
			break
		}
		n++
	}
	return copyRotatedFrom(out, path, n)
}

// copyRotatedAfter copies the files rotated away after the one that was old (path.K-1 …
// path.1 when old is now path.K). When old has been rotated out of existence, or the
// files are being rotated meanwhile, some output is missed: a follower that falls a whole
// rotation cycle behind cannot get it back.
func copyRotatedAfter(out io.Writer, path string, old fs.FileInfo) error {
	k := 0
	for i := 1; i <= maxRotated; i++ {
		fi, err := os.Stat(containerlog.RotatedPath(path, i))
		if err != nil {
			return nil
		}
		if os.SameFile(fi, old) {
			k = i
			break
		}
	}
	return copyRotatedFrom(out, path, k-1)
}

// copyRotatedFrom copies the rotated files path.from … path.1, oldest first; a file
// rotated away meanwhile is skipped.
func copyRotatedFrom(out io.Writer, path string, from int) error {
	for i := from; i >= 1; i-- {
		f, err := os.Open(containerlog.RotatedPath(path, i))
		if err != nil {
			continue
		}
		_, err = io.Copy(out, f)
		_ = f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

var containersResource = api.GroupVersion.WithResource("containers").GroupResource()

// tailOffset returns where the last n lines of the first size bytes of f begin. A final
// newline ends the last line rather than starting another.
func tailOffset(f io.ReaderAt, size, n int64) (int64, error) {
	if n == 0 {
		return size, nil
	}
	const chunk = 32 << 10
	buf := make([]byte, chunk)
	for end := size; end > 0; {
		start := max(0, end-chunk)
		b := buf[:end-start]
		if _, err := f.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] != '\n' || start+int64(i) == size-1 {
				continue
			}
			if n--; n == 0 {
				return start + int64(i) + 1, nil
			}
		}
		end = start
	}
	return 0, nil
}

// limitWriter passes on at most n bytes, then fails: limitBytes ends the response.
type limitWriter struct {
	w io.Writer
	n int64
}

var errLimit = errors.New("limitBytes reached")

func (l *limitWriter) Write(b []byte) (int, error) {
	if l.n <= 0 {
		return 0, errLimit
	}
	short := int64(len(b)) > l.n
	if short {
		b = b[:l.n]
	}
	n, err := l.w.Write(b)
	l.n -= int64(n)
	if err == nil && short {
		err = errLimit
	}
	return n, err
}
