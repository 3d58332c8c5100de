// Package logging builds ecsd's logr.Logger on zap: console output on stderr (which systemd's
// journal captures) plus an optional on-instance log file with its own level, rotated the way
// the reference agent rotates ecs-agent.log. Output is logfmt by default, like the reference
// agent, so existing log tooling keeps working; JSON is available for log shippers.
//
// The options mirror the ECS_LOG* variables one to one, but this package does not import the
// config package: the caller copies the values, which keeps logging usable before (and
// independent of) configuration loading.
package logging

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Options configure New. Zero values select the reference agent's defaults.
type Options struct {
	// Level is the console level (ECS_LOGLEVEL): debug, info, warn, error, crit or none
	// (off), case-insensitive. Default info.
	Level string
	// FileLevel is the file level (ECS_LOGLEVEL_ON_INSTANCE); default Level.
	FileLevel string
	// File is the log file (ECS_LOGFILE); empty means no file.
	File string
	// Format is logfmt (default) or json (ECS_LOG_OUTPUT_FORMAT).
	Format string
	// RolloverType is size (default), hourly or none (ECS_LOG_ROLLOVER_TYPE).
	RolloverType string
	// MaxFileSizeMB is the size rollover threshold in MiB (ECS_LOG_MAX_FILE_SIZE_MB), default 5.
	MaxFileSizeMB float64
	// MaxRollCount is how many rotated files to keep (ECS_LOG_MAX_ROLL_COUNT), default 24.
	MaxRollCount int

	// Console replaces stderr (tests).
	Console io.Writer
	// Now replaces time.Now for rotation decisions (tests).
	Now func() time.Time
}

// Defaults of the reference agent.
const (
	DefaultMaxFileSizeMB = 5
	DefaultMaxRollCount  = 24
)

// New returns a logger and a function that flushes and closes its file. Entries go to the
// console at Level and to File at FileLevel through one zapcore tee, so a debug file next to
// an info console costs nothing when both are quieter. logr's V(0) is info and V(1) and
// above are debug.
func New(opts Options) (logr.Logger, func() error, error) {
	consoleLevel, err := ParseLevel(opts.Level)
	if err != nil {
		return logr.Discard(), nil, fmt.Errorf("console level: %w", err)
	}
	fileLevel := consoleLevel
	if opts.FileLevel != "" {
		if fileLevel, err = ParseLevel(opts.FileLevel); err != nil {
			return logr.Discard(), nil, fmt.Errorf("file level: %w", err)
		}
	}
	enc, err := newEncoder(opts.Format)
	if err != nil {
		return logr.Discard(), nil, err
	}

	console := opts.Console
	if console == nil {
		console = os.Stderr
	}
	// stderr must not be fsynced (it fails on pipes and terminals), so hide its Sync.
	consoleSink := zapcore.Lock(zapcore.AddSync(writerOnly{console}))

	var cores []zapcore.Core
	if !consoleLevel.off {
		cores = append(cores, zapcore.NewCore(enc, consoleSink, consoleLevel))
	}
	var file *RotatingFile
	if opts.File != "" && !fileLevel.off {
		rot, err := ParseRollover(opts.RolloverType)
		if err != nil {
			return logr.Discard(), nil, err
		}
		sizeMB := opts.MaxFileSizeMB
		if sizeMB <= 0 {
			sizeMB = DefaultMaxFileSizeMB
		}
		keep := opts.MaxRollCount
		if keep <= 0 {
			keep = DefaultMaxRollCount
		}
		file, err = OpenRotatingFile(opts.File, RotateOptions{
			Rollover:   rot,
			MaxSize:    int64(sizeMB * 1024 * 1024),
			MaxBackups: keep,
			Now:        opts.Now,
		})
		if err != nil {
			return logr.Discard(), nil, err
		}
		cores = append(cores, zapcore.NewCore(enc.Clone(), file, fileLevel))
	}

	zl := zap.New(zapcore.NewTee(cores...), zap.ErrorOutput(consoleSink))
	closeFn := func() error {
		err := zl.Sync()
		if file != nil {
			err = errors.Join(err, file.Close())
		}
		return err
	}
	return zapr.NewLogger(zl), closeFn, nil
}

// writerOnly hides any Sync method of the wrapped writer.
type writerOnly struct{ io.Writer }

// Level is a parsed ECS_LOGLEVEL: a minimum zap level, or off.
type Level struct {
	min zapcore.Level
	off bool
}

// Enabled implements zapcore.LevelEnabler.
func (l Level) Enabled(z zapcore.Level) bool { return !l.off && z >= l.min }

// String returns the level's ECS name.
func (l Level) String() string {
	if l.off {
		return "none"
	}
	return levelName(l.min)
}

// ParseLevel parses debug, info, warn, error, crit or none, case-insensitively; "" is info.
// debug enables every logr V level, not just V(1): zapr maps V(n) to zap level -n.
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return Level{min: zapcore.Level(math.MinInt8)}, nil
	case "", "info":
		return Level{min: zapcore.InfoLevel}, nil
	case "warn":
		return Level{min: zapcore.WarnLevel}, nil
	case "error":
		return Level{min: zapcore.ErrorLevel}, nil
	case "crit":
		return Level{min: zapcore.DPanicLevel}, nil
	case "none":
		return Level{off: true}, nil
	}
	return Level{}, fmt.Errorf("log level %q: accepted: debug, info, warn, error, crit, none", s)
}

// levelName maps zap levels to the reference agent's names: everything below info (every
// logr V level above 0) is debug, and zap's panic levels are crit.
func levelName(l zapcore.Level) string {
	switch {
	case l < zapcore.InfoLevel:
		return "debug"
	case l == zapcore.InfoLevel:
		return "info"
	case l == zapcore.WarnLevel:
		return "warn"
	case l == zapcore.ErrorLevel:
		return "error"
	default:
		return "crit"
	}
}

func encodeLevel(l zapcore.Level, enc zapcore.PrimitiveArrayEncoder) { enc.AppendString(levelName(l)) }

// timeLayout matches the reference agent's log timestamps (UTC, second precision).
const timeLayout = time.RFC3339

func encodeTime(t time.Time, enc zapcore.PrimitiveArrayEncoder) {
	enc.AppendString(t.UTC().Format(timeLayout))
}

func newEncoder(format string) (zapcore.Encoder, error) {
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "", "logfmt":
		return NewLogfmtEncoder(), nil
	case "json":
		return zapcore.NewJSONEncoder(zapcore.EncoderConfig{
			LevelKey:       "level",
			TimeKey:        "time",
			MessageKey:     "msg",
			NameKey:        "logger",
			StacktraceKey:  "stacktrace",
			LineEnding:     "\n",
			EncodeLevel:    encodeLevel,
			EncodeTime:     encodeTime,
			EncodeDuration: zapcore.StringDurationEncoder,
			EncodeName:     zapcore.FullNameEncoder,
		}), nil
	}
	return nil, fmt.Errorf("log format %q: accepted: logfmt, json", format)
}
