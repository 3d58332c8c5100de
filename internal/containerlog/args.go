package containerlog

import "strconv"

// Flags of ecsd-logger. containerd passes a binary logger's arguments as "key value"
// pairs in no set order, so every argument is a flag with a value.
const (
	FlagFile          = "file"
	FlagMaxBufferSize = "max-buffer-size"
	// FlagMaxSize and FlagMaxFile bound the log file (the json-file driver's max-size and
	// max-file): the file is rotated at FlagMaxSize bytes and FlagMaxFile files are kept in
	// all, the current one included. Without FlagMaxSize the file grows without bound.
	FlagMaxSize = "max-size"
	FlagMaxFile = "max-file"
)

// Args are the arguments for cio.BinaryIO that make ecsd-logger write to logPath with a
// buffer of maxBuffer bytes (DefaultMaxBuffer when <= 0), plus extra ("--flag" → value):
// rotation limits, a shipping driver's options. argv is readable by every user of the
// host in /proc: extra must never hold a secret.
func Args(logPath string, maxBuffer int, extra map[string]string) map[string]string {
	if maxBuffer <= 0 {
		maxBuffer = DefaultMaxBuffer
	}
	a := make(map[string]string, 2+len(extra))
	for k, v := range extra {
		a[k] = v
	}
	a["--"+FlagFile] = logPath
	a["--"+FlagMaxBufferSize] = strconv.Itoa(maxBuffer)
	return a
}
