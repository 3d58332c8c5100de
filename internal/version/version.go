// Package version carries the build's version, set with -ldflags at build time.
package version

// Version and GitHash are overwritten by the Makefile's -ldflags.
var (
	Version = "0.1.0"
	GitHash = "unknown"
)
