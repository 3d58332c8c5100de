package awslogs

import (
	"fmt"
	"regexp"
	"strings"
)

// Flags of ecsd-logger for the awslogs driver. The agent validates the task definition's
// options (internal/logdriver) and passes these; none holds a secret.
const (
	FlagGroup       = "awslogs-group"
	FlagStream      = "awslogs-stream"
	FlagRegion      = "awslogs-region"
	FlagEndpoint    = "awslogs-endpoint"
	FlagCreateGroup = "awslogs-create-group"
	// FlagMultiline is the pattern that starts an event: awslogs-multiline-pattern, or
	// awslogs-datetime-format translated (DatetimePattern).
	FlagMultiline = "awslogs-multiline-pattern"
	FlagMode      = "awslogs-mode"
	FlagMaxBuffer = "awslogs-max-buffer-size"
	// FlagCredentials is the agent's credentials socket; FlagTask and FlagContainer say
	// whose credentials and secret options to ask for.
	FlagCredentials = "awslogs-credentials-socket"
	FlagTask        = "awslogs-task"
	FlagContainer   = "awslogs-container"
	// FlagSecretOptions makes the logger ask the agent for the container's log-driver
	// secretOptions and merge them into these options.
	FlagSecretOptions = "awslogs-secret-options"
)

// Modes.
const (
	ModeNonBlocking = "non-blocking"
	ModeBlocking    = "blocking"
)

// DefaultMaxBuffer is Docker's default max-buffer-size.
const DefaultMaxBuffer = 1 << 20

// CloudWatch Logs' PutLogEvents limits.
const (
	MaxBatchEvents = 10000
	MaxBatchBytes  = 1 << 20 // the messages' UTF-8 bytes plus EventOverhead per event
	EventOverhead  = 26
	MaxEventBytes  = 256<<10 - EventOverhead
	MaxBatchSpanMs = 24 * 60 * 60 * 1000
)

// strftime are the strftime directives awslogs-datetime-format may use, as regular
// expressions (Docker's set).
func strftime() map[byte]string {
	return map[byte]string{
		'a': `(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)`,
		'A': `(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)`,
		'w': `[0-6]`,
		'd': `(?:0[1-9]|[12][0-9]|3[01])`,
		'b': `(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)`,
		'B': `(?:January|February|March|April|May|June|July|August|September|October|November|December)`,
		'm': `(?:0[1-9]|1[0-2])`,
		'Y': `\d{4}`,
		'y': `\d{2}`,
		'H': `(?:[01][0-9]|2[0-3])`,
		'I': `(?:0[0-9]|1[0-2])`,
		'p': `[AP]M`,
		'M': `[0-5][0-9]`,
		'S': `[0-5][0-9]`,
		'f': `\d{6}`,
		'z': `[+-]\d{4}`,
		'Z': `[A-Z]{1,4}T`,
		'j': `(?:00[1-9]|0[1-9][0-9]|[12][0-9][0-9]|3[0-5][0-9]|36[0-6])`,
		'L': `\.\d{3}`,
	}
}

// DatetimePattern translates an awslogs-datetime-format (strftime directives, other text
// literal) into the regular expression that starts an event.
func DatetimePattern(format string) (string, error) {
	if format == "" {
		return "", fmt.Errorf("awslogs-datetime-format is empty")
	}
	dirs := strftime()
	var b strings.Builder
	b.WriteByte('^')
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteString(regexp.QuoteMeta(string(c)))
			continue
		}
		if i+1 >= len(format) {
			return "", fmt.Errorf("awslogs-datetime-format %q ends with %%", format)
		}
		i++
		if format[i] == '%' {
			b.WriteByte('%')
			continue
		}
		re, ok := dirs[format[i]]
		if !ok {
			return "", fmt.Errorf("awslogs-datetime-format %q: %%%c is not a supported directive", format, format[i])
		}
		b.WriteString(re)
	}
	return b.String(), nil
}

// MultilinePattern checks an awslogs-multiline-pattern. As with Docker it is not
// anchored: a line in which it matches anywhere starts an event (write ^ to anchor it);
// awslogs-datetime-format, by contrast, must match at the start.
func MultilinePattern(pattern string) (string, error) {
	if pattern == "" {
		return "", fmt.Errorf("awslogs-multiline-pattern is empty")
	}
	if _, err := regexp.Compile(pattern); err != nil {
		return "", fmt.Errorf("awslogs-multiline-pattern %q: %w", pattern, err)
	}
	return pattern, nil
}
