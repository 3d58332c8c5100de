package containerlog

import "strconv"

// Flags of ecsd-logger. containerd passes a binary logger's arguments as "key value"
// pairs in no set order, so every argument is a flag with a value.
const (
	FlagFile          = "file"
	FlagMaxBufferSize = "max-buffer-size"
)

// Args are the arguments for cio.BinaryIO that make ecsd-logger write to logPath with a
// buffer of maxBuffer bytes (DefaultMaxBuffer when <= 0).
func Args(logPath string, maxBuffer int) map[string]string {
	if maxBuffer <= 0 {
		maxBuffer = DefaultMaxBuffer
	}
	return map[string]string{
		"--" + FlagFile:          logPath,
		"--" + FlagMaxBufferSize: strconv.Itoa(maxBuffer),
	}
}
