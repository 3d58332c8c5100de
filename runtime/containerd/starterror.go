package containerd

import (
	"bytes"
	"io"
	"os"
	"regexp"
	"time"

	"github.com/ecsd/ecsd/runtime"
)

// A process that the runtime could not exec (argument list too long, exec format error,
// permission denied) does not fail the start: runc has already reported the container
// started when its init execs the process. The failure then shows only as an early exit,
// with runc's "exec <path>: <error>" as the last line the container wrote. startErrorWindow
// bounds how soon after its start an exit is read that way, and startErrorTail how much of
// the log's end is read.
const (
	startErrorWindow = 5 * time.Second
	startErrorTail   = 4 << 10
)

// execFailure matches runc's report of a failed exec.
var execFailure = regexp.MustCompile(`^exec [^:\s]+: [a-z][a-z ,'-]+$`)

// startError returns runc's exec failure for a stopped container whose log at logPath ends
// with one, or "".
func startError(st runtime.ContainerState, logPath string) string {
	if st.Status != runtime.StatusStopped || st.ExitCode == 0 || logPath == "" ||
		st.StartedAt.IsZero() || st.FinishedAt.Sub(st.StartedAt) > startErrorWindow {
		return ""
	}
	f, err := os.Open(logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(0, fi.Size()-startErrorTail)
	b := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && err != io.EOF {
		return ""
	}
	b = bytes.TrimRight(b, "\r\n")
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	if line := string(bytes.TrimSpace(b)); execFailure.MatchString(line) {
		return line
	}
	return ""
}
