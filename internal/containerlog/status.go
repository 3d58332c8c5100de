package containerlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// Status is what a logger tells the agent through its status file.
type Status struct {
	// Dropping is true while output is being dropped; Since, Reason and NoSpace describe
	// that episode (NoSpace: the sink failed with ENOSPC or EDQUOT).
	Dropping bool      `json:"dropping"`
	Since    time.Time `json:"since,omitzero"`
	Reason   string    `json:"reason,omitempty"`
	NoSpace  bool      `json:"noSpace,omitempty"`
	// Totals over the logger's life.
	DroppedBytes int64     `json:"droppedBytes"`
	DroppedLines int64     `json:"droppedLines"`
	Episodes     int64     `json:"episodes"`
	WrittenBytes int64     `json:"writtenBytes"`
	Updated      time.Time `json:"updated"`
	// Ship is the shipping driver's (awslogs) account, when the logger ships.
	Ship *ShipStatus `json:"ship,omitempty"`
}

// StatusPath is the status file of the log at logPath.
func StatusPath(logPath string) string { return logPath + ".status" }

// statusSize is the status file's fixed size. Every update rewrites these bytes in place,
// so it needs no new blocks on a full filesystem that overwrites in place (ext4, xfs,
// tmpfs); the file is allocated when the logger starts.
const statusSize = 1024

// statusFile writes Status records in place. A record is JSON padded with spaces; "seq"
// opens it and "end" closes it with the same number, so a reader can tell a record it
// read while it was being rewritten.
type statusFile struct {
	f   *os.File
	seq uint64
	buf []byte
}

func openStatusFile(path string) (*statusFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open status file: %w", err)
	}
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, statusSize); err != nil {
		// No fallocate here: writing the bytes once allocates them as well.
		if _, err := f.WriteAt(make([]byte, statusSize), 0); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("allocate status file: %w", err)
		}
	}
	return &statusFile{f: f, buf: make([]byte, 0, statusSize)}, nil
}

func (sf *statusFile) write(s Status) error {
	sf.seq++
	b := sf.buf[:0]
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, sf.seq, 10)
	b = append(b, `,"dropping":`...)
	b = strconv.AppendBool(b, s.Dropping)
	if s.Dropping {
		b = append(b, `,"since":"`...)
		b = s.Since.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","reason":`...)
		b = appendJSONString(b, s.Reason, 200)
		b = append(b, `,"noSpace":`...)
		b = strconv.AppendBool(b, s.NoSpace)
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"droppedBytes", s.DroppedBytes}, {"droppedLines", s.DroppedLines}, {"episodes", s.Episodes}, {"writtenBytes", s.WrittenBytes}} {
		b = append(b, `,"`...)
		b = append(b, f.name...)
		b = append(b, `":`...)
		b = strconv.AppendInt(b, f.v, 10)
	}
	if sh := s.Ship; sh != nil {
		b = append(b, `,"ship":{"dropping":`...)
		b = strconv.AppendBool(b, sh.Dropping)
		if sh.Dropping {
			b = append(b, `,"since":"`...)
			b = sh.Since.UTC().AppendFormat(b, time.RFC3339Nano)
			b = append(b, `","reason":`...)
			b = appendJSONString(b, sh.Reason, 300)
		}
		for _, f := range []struct {
			name string
			v    int64
		}{{"droppedEvents", sh.DroppedEvents}, {"droppedBytes", sh.DroppedBytes}, {"episodes", sh.Episodes}, {"shippedEvents", sh.ShippedEvents}} {
			b = append(b, `,"`...)
			b = append(b, f.name...)
			b = append(b, `":`...)
			b = strconv.AppendInt(b, f.v, 10)
		}
		b = append(b, '}')
	}
	b = append(b, `,"updated":"`...)
	b = s.Updated.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","end":`...)
	b = strconv.AppendUint(b, sf.seq, 10)
	b = append(b, '}')
	for len(b) < statusSize-1 {
		b = append(b, ' ')
	}
	b = append(b[:statusSize-1], '\n')
	sf.buf = b
	if _, err := sf.f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("write status file: %w", err)
	}
	return nil
}

func (sf *statusFile) close() error { return sf.f.Close() }

// appendJSONString appends s as a JSON string of at most n bytes, with anything but
// printable ASCII replaced, so the record stays within its fixed size and valid JSON.
func appendJSONString(b []byte, s string, n int) []byte {
	if len(s) > n {
		s = s[:n]
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c > 0x7e:
			b = append(b, '?')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// readTotals reads the totals of the status record at path without encoding/json, which
// would add 400 KB to the logger binary for one read at start. It only has to read
// records written by statusFile.write.
func readTotals(path string) (Status, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Status{}, false
	}
	field := func(name string) (int64, bool) {
		key := []byte(`"` + name + `":`)
		i := bytes.Index(b, key)
		if i < 0 {
			return 0, false
		}
		rest := b[i+len(key):]
		j := 0
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		v, err := strconv.ParseInt(string(rest[:j]), 10, 64)
		return v, err == nil && v >= 0
	}
	var st Status
	var ok [6]bool
	var seq, end int64
	seq, ok[0] = field("seq")
	end, ok[1] = field("end")
	st.DroppedBytes, ok[2] = field("droppedBytes")
	st.DroppedLines, ok[3] = field("droppedLines")
	st.Episodes, ok[4] = field("episodes")
	st.WrittenBytes, ok[5] = field("writtenBytes")
	for _, o := range ok {
		if !o {
			return Status{}, false
		}
	}
	return st, seq == end
}

// ErrTornStatus is returned for a status record read while it was being rewritten; read
// it again.
var ErrTornStatus = errors.New("status record was being rewritten")

// ReadStatus reads the status file of the log at logPath.
func ReadStatus(logPath string) (Status, error) { return readStatusFile(StatusPath(logPath)) }

func readStatusFile(path string) (Status, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Status{}, err
	}
	var rec struct {
		Status
		Seq *uint64 `json:"seq"`
		End *uint64 `json:"end"`
	}
	if err := json.Unmarshal(b, &rec); err != nil || rec.Seq == nil || rec.End == nil || *rec.Seq != *rec.End {
		return Status{}, fmt.Errorf("%s: %w", path, ErrTornStatus)
	}
	return rec.Status, nil
}
