// Package logdriver turns a container's logConfiguration into how the runtime keeps its
// output (runtime.LogSettings): the json-file driver's rotation limits, none, and the
// shipping drivers ecsd-logger implements (awslogs through ecsd-logger-awslogs; fluentd,
// syslog and gelf through ecsd-logger-ship). It is the one place that knows which log
// drivers ecsd implements (Implemented) and which options each takes; a definition that
// asks for anything else is refused when the container is created, with the reason, instead
// of being silently logged some other way.
package logdriver

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/containerlog"
	"github.com/ecsd/ecsd/runtime"
)

// Names of the log drivers ecsd implements.
const (
	JSONFile = "json-file"
	None     = "none"
)

// Implemented returns the log drivers ecsd implements, sorted. Only these may take
// effect from ECS_AVAILABLE_LOGGING_DRIVERS and be registered as logging-driver
// attributes; a container asking for another is refused.
func Implemented() []string { return []string{AWSLogs, Fluentd, GELF, JSONFile, None, Syslog} }

// IsImplemented reports whether ecsd implements the log driver name.
func IsImplemented(name string) bool { return slices.Contains(Implemented(), name) }

// The bound ecsd puts on every container's log file when its definition sets none: the
// Kubernetes kubelet's defaults (containerLogMaxSize 10Mi, containerLogMaxFiles 5), so at
// most 50 MiB per container. Docker's json-file driver, and so the reference agent, keep
// an unbounded file unless the daemon or the definition says otherwise.
const (
	DefaultMaxSize = 10 << 20
	DefaultMaxFile = 5
)

// ErrInvalid marks a logConfiguration ecsd cannot honour; the text says why.
var ErrInvalid = errors.New("invalid log configuration")

// Settings returns how the runtime keeps the output of a container with logConfiguration
// lc (nil: the defaults, a bounded json-file log). A shipping driver (awslogs, fluentd,
// syslog, gelf) keeps the file too, with the default bound, so the output stays readable on the
// host.
func Settings(lc *api.LogConfig, env Env) (runtime.LogSettings, error) {
	driver, opts := JSONFile, map[string]string(nil)
	if lc != nil {
		driver, opts = lc.Driver, lc.Options
	}
	switch driver {
	case JSONFile:
		args, err := fileLimits(opts)
		if err != nil {
			return runtime.LogSettings{}, fmt.Errorf("%w: log driver %s: %w", ErrInvalid, driver, err)
		}
		return runtime.LogSettings{LoggerArgs: args}, nil
	case AWSLogs:
		args, err := awslogsArgs(opts, env)
		if err != nil {
			return runtime.LogSettings{}, fmt.Errorf("%w: log driver %s: %w", ErrInvalid, driver, err)
		}
		limits, _ := fileLimits(nil)
		maps.Copy(args, limits)
		return runtime.LogSettings{LoggerArgs: args}, nil
	case Fluentd, Syslog, GELF:
		args, err := shipArgs(driver, opts, env)
		if err != nil {
			return runtime.LogSettings{}, fmt.Errorf("%w: log driver %s: %w", ErrInvalid, driver, err)
		}
		limits, _ := fileLimits(nil)
		maps.Copy(args, limits)
		return runtime.LogSettings{LoggerArgs: args}, nil
	case None:
		if len(opts) > 0 {
			return runtime.LogSettings{}, fmt.Errorf("%w: log driver none takes no options (got %s)", ErrInvalid, strings.Join(slices.Sorted(maps.Keys(opts)), ", "))
		}
		return runtime.LogSettings{Discard: true}, nil
	default:
		return runtime.LogSettings{}, fmt.Errorf("%w: log driver %q is not supported by ecsd (supported: %s)", ErrInvalid, driver, strings.Join(Implemented(), ", "))
	}
}

// fileLimits are the logger arguments for the log file's rotation from the json-file
// options max-size and max-file, with Docker's semantics: max-size rotates the file at
// that size, max-file (default 1, which truncates instead) is how many files are kept.
// Without either, ecsd's default bound applies; with max-file alone, the default max-size.
func fileLimits(opts map[string]string) (map[string]string, error) {
	for k := range opts {
		switch k {
		case "max-size", "max-file":
		default:
			return nil, fmt.Errorf("option %q is not supported by ecsd (supported: max-size, max-file)", k)
		}
	}
	size, file := int64(DefaultMaxSize), DefaultMaxFile
	sizeStr, hasSize := opts["max-size"]
	fileStr, hasFile := opts["max-file"]
	if hasSize {
		n, err := ParseSize(sizeStr)
		if err != nil {
			return nil, fmt.Errorf("max-size: %w", err)
		}
		size, file = n, 1
	}
	if hasFile {
		n, err := strconv.Atoi(strings.TrimSpace(fileStr))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("max-file %q: must be a whole number of at least 1", fileStr)
		}
		file = n
	}
	return map[string]string{
		"--" + containerlog.FlagMaxSize: strconv.FormatInt(size, 10),
		"--" + containerlog.FlagMaxFile: strconv.Itoa(file),
	}, nil
}

// sizePattern is Docker's size syntax (go-units RAMInBytes): a number, an optional
// binary unit k, m, g, t or p (any case), an optional "i" and "b".
var sizePattern = regexp.MustCompile(`^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$`)

// ParseSize parses a Docker size such as "10m", "512k", "1g" or "2048" (bytes), with
// binary units as Docker's log options have; it must be positive.
func ParseSize(s string) (int64, error) {
	m := sizePattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size (examples: 10m, 512k, 1g)", s)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size: %w", s, err)
	}
	mult := int64(1)
	if m[2] != "" {
		mult = int64(1) << (10 * (1 + strings.IndexByte("kmgtp", strings.ToLower(m[2])[0])))
	}
	f := v * float64(mult)
	if f < 1 || f > 1<<62 {
		return 0, fmt.Errorf("%q must be a positive size", s)
	}
	return int64(f), nil
}
