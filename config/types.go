package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Conditional is the state of a boolean that may have been left unset. The distinction
// matters for precedence (an explicit false in the environment must beat a true in the JSON
// file) and for rules such as ECS_ENABLE_TASK_CPU_MEM_LIMIT, where an explicit true that
// cannot be honoured is an error but a defaulted true is silently dropped.
type Conditional int8

const (
	// NotSet means no source gave a value; the type's default applies.
	NotSet Conditional = iota
	// ExplicitlyEnabled means a source said true.
	ExplicitlyEnabled
	// ExplicitlyDisabled means a source said false.
	ExplicitlyDisabled
)

// BooleanDefaultFalse is a tri-state boolean whose default is false.
type BooleanDefaultFalse struct{ Value Conditional }

// Enabled reports whether the value was explicitly set to true.
func (b BooleanDefaultFalse) Enabled() bool { return b.Value == ExplicitlyEnabled }

// String returns the effective value.
func (b BooleanDefaultFalse) String() string { return strconv.FormatBool(b.Enabled()) }

// MarshalJSON encodes NotSet as null so the state survives a round trip.
func (b BooleanDefaultFalse) MarshalJSON() ([]byte, error) { return marshalConditional(b.Value) }

// UnmarshalJSON accepts true, false and null (and, leniently, strings strconv.ParseBool takes).
func (b *BooleanDefaultFalse) UnmarshalJSON(data []byte) error {
	return unmarshalConditional(data, &b.Value)
}

// BooleanDefaultTrue is a tri-state boolean whose default is true.
type BooleanDefaultTrue struct{ Value Conditional }

// Enabled reports whether the value is true, either explicitly or by default.
func (b BooleanDefaultTrue) Enabled() bool { return b.Value != ExplicitlyDisabled }

// String returns the effective value.
func (b BooleanDefaultTrue) String() string { return strconv.FormatBool(b.Enabled()) }

// MarshalJSON encodes NotSet as null so the state survives a round trip.
func (b BooleanDefaultTrue) MarshalJSON() ([]byte, error) { return marshalConditional(b.Value) }

// UnmarshalJSON accepts true, false and null (and, leniently, strings strconv.ParseBool takes).
func (b *BooleanDefaultTrue) UnmarshalJSON(data []byte) error {
	return unmarshalConditional(data, &b.Value)
}

func conditionalOf(v bool) Conditional {
	if v {
		return ExplicitlyEnabled
	}
	return ExplicitlyDisabled
}

func marshalConditional(c Conditional) ([]byte, error) {
	switch c {
	case ExplicitlyEnabled:
		return []byte("true"), nil
	case ExplicitlyDisabled:
		return []byte("false"), nil
	default:
		return []byte("null"), nil
	}
}

func unmarshalConditional(data []byte, c *Conditional) error {
	data = bytes.TrimSpace(data)
	if string(data) == "null" {
		*c = NotSet
		return nil
	}
	var s string
	if json.Unmarshal(data, &s) != nil {
		s = string(data)
	}
	v, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%s is not a boolean (accepted: true, false, null)", data)
	}
	*c = conditionalOf(v)
	return nil
}

// Sensitive holds a secret (registry credentials, AWS keys). Every way of printing it (fmt
// verbs, JSON, zap/logr via fmt.Stringer) yields "<redacted>", so a Config can be logged or
// served without leaking it. Use string(s) to read the value.
type Sensitive string

const redacted = "<redacted>"

// String returns "<redacted>" for a non-empty value.
func (s Sensitive) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// Format redacts the value for every fmt verb, including %#v and %x.
func (s Sensitive) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// MarshalJSON never emits the secret.
func (s Sensitive) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON accepts a JSON string, or any other JSON value kept as its raw text. The
// reference agent's JSON file carries EngineAuthData as a nested object, not a string.
func (s *Sensitive) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case string(data) == "null":
		*s = ""
	case len(data) > 0 && data[0] == '"':
		var v string
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		*s = Sensitive(v)
	default:
		*s = Sensitive(data)
	}
	return nil
}

// ProxyURL is a proxy address ("host:port" or a URL). It prints with any password replaced
// by "<redacted>"; use string(u) to read the value.
type ProxyURL string

// String returns the URL with its password redacted.
func (u ProxyURL) String() string { return redactURLPassword(string(u)) }

// Format redacts the password for every fmt verb.
func (u ProxyURL) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(u.String())) }

// MarshalJSON never emits the password.
func (u ProxyURL) MarshalJSON() ([]byte, error) { return json.Marshal(u.String()) }

// UnmarshalJSON reads a plain JSON string (MarshalJSON is not its inverse on purpose).
func (u *ProxyURL) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	*u = ProxyURL(s)
	return nil
}

// ImagePullBehaviorType is ECS_IMAGE_PULL_BEHAVIOR. Values are the variable's own words so
// that a JSON file may use them; the reference agent's integer encoding (0 default, 1 always,
// 2 once, 3 prefer-cached) is accepted too.
type ImagePullBehaviorType string

// The pull behaviours ECS_IMAGE_PULL_BEHAVIOR accepts.
const (
	ImagePullDefaultBehavior      ImagePullBehaviorType = "default"
	ImagePullAlwaysBehavior       ImagePullBehaviorType = "always"
	ImagePullOnceBehavior         ImagePullBehaviorType = "once"
	ImagePullPreferCachedBehavior ImagePullBehaviorType = "prefer-cached"
)

// imagePullBehaviors lists the behaviours in the reference agent's integer order.
func imagePullBehaviors() []ImagePullBehaviorType {
	return []ImagePullBehaviorType{
		ImagePullDefaultBehavior, ImagePullAlwaysBehavior, ImagePullOnceBehavior, ImagePullPreferCachedBehavior,
	}
}

// UnmarshalJSON accepts a string or the reference agent's integer.
func (t *ImagePullBehaviorType) UnmarshalJSON(data []byte) error {
	names := imagePullBehaviors()
	s, err := enumFromJSON(data, len(names), func(i int) string { return string(names[i]) })
	*t = ImagePullBehaviorType(s)
	return err
}

// ContainerInstancePropagateTagsFromType is ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM.
type ContainerInstancePropagateTagsFromType string

// The values ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM recognises.
const (
	ContainerInstancePropagateTagsFromNoneType        ContainerInstancePropagateTagsFromType = "none"
	ContainerInstancePropagateTagsFromEC2InstanceType ContainerInstancePropagateTagsFromType = "ec2_instance"
)

// UnmarshalJSON accepts a string or the reference agent's integer (0 none, 1 ec2_instance).
func (t *ContainerInstancePropagateTagsFromType) UnmarshalJSON(data []byte) error {
	names := []ContainerInstancePropagateTagsFromType{ContainerInstancePropagateTagsFromNoneType, ContainerInstancePropagateTagsFromEC2InstanceType}
	s, err := enumFromJSON(data, len(names), func(i int) string { return string(names[i]) })
	*t = ContainerInstancePropagateTagsFromType(s)
	return err
}

func enumFromJSON(data []byte, n int, name func(int) string) (string, error) {
	data = bytes.TrimSpace(data)
	if string(data) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		return s, nil
	}
	i, err := strconv.Atoi(string(data))
	if err != nil || i < 0 || i >= n {
		return "", fmt.Errorf("%s is neither a string nor an integer in 0-%d", data, n-1)
	}
	return name(i), nil
}

// IPCompatibility is ECS_INSTANCE_IP_COMPATIBILITY: empty means "detect from the routes".
type IPCompatibility string

// The values ECS_INSTANCE_IP_COMPATIBILITY accepts.
const (
	IPCompatibilityAuto IPCompatibility = ""
	IPCompatibilityIPv4 IPCompatibility = "ipv4"
	IPCompatibilityIPv6 IPCompatibility = "ipv6"
)

// LoggingDriver names a Docker-style log driver (ECS_AVAILABLE_LOGGING_DRIVERS).
type LoggingDriver string

// knownLoggingDrivers are the drivers the reference agent recognises; awsfirelens is accepted
// by its validation without being in its driver table.
func knownLoggingDrivers() []LoggingDriver {
	return []LoggingDriver{
		"awsfirelens", "awslogs", "fluentd", "gelf", "journald", "json-file", "logentries", "none",
		"splunk", "sumologic", "syslog",
	}
}

// PortRange is an inclusive range of ports, written "start-end" in variables and JSON.
type PortRange struct {
	Start uint16
	End   uint16
}

// String returns "start-end", or "" for the zero range.
func (r PortRange) String() string {
	if r == (PortRange{}) {
		return ""
	}
	return fmt.Sprintf("%d-%d", r.Start, r.End)
}

// ParsePortRange parses "start-end" with 1 ≤ start ≤ end ≤ 65535.
func ParsePortRange(s string) (PortRange, error) {
	lo, hi, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return PortRange{}, fmt.Errorf("%q has no '-'", s)
	}
	start, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
	end, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
	if err1 != nil || err2 != nil || start < 1 || start > end {
		return PortRange{}, fmt.Errorf("%q is not start-end with 1 <= start <= end <= 65535", s)
	}
	return PortRange{Start: uint16(start), End: uint16(end)}, nil
}

// MarshalJSON encodes the range as the reference agent's "start-end" string.
func (r PortRange) MarshalJSON() ([]byte, error) { return json.Marshal(r.String()) }

// UnmarshalJSON decodes a "start-end" string; "" and null leave the range unset.
func (r *PortRange) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("port range must be a \"start-end\" string: %w", err)
	}
	if s == "" {
		*r = PortRange{}
		return nil
	}
	v, err := ParsePortRange(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// RegistryAuth is one registry's credentials from ECS_ENGINE_AUTH_DATA.
type RegistryAuth struct {
	Username string
	Password Sensitive
	Email    string
}

// Warning is a configuration problem that was handled by using a default (or clamping), as
// the reference agent does. The caller decides how to log it.
type Warning struct {
	// Key is the environment variable the value belongs to.
	Key string
	// Value is the offending value as given ("<redacted>" for secrets).
	Value string
	// Source says where the value came from: "" for the process environment, otherwise the
	// KEY=VALUE file or "<JSON field> in <JSON file>".
	Source string
	// Message says what was wrong, what is accepted and what was done.
	Message string
	// NoEffect marks a warning that only says the variable is set but changes nothing in
	// ecsd (see noEffectVariables).
	NoEffect bool
}

// String formats the warning as `KEY="value" (source): message`.
func (w Warning) String() string { return formatIssue(w.Key, w.Value, w.Source, w.Message) }

// FieldError is a fatal configuration problem; Load joins all of them into its error. The
// fields mean the same as Warning's.
type FieldError struct {
	Key     string
	Value   string
	Source  string
	Message string
	// Err is the underlying cause, if any (for example the region lookup's error).
	Err error
}

// Error formats the problem as `KEY="value" (source): message`.
func (e *FieldError) Error() string { return formatIssue(e.Key, e.Value, e.Source, e.Message) }

// Unwrap returns the underlying cause.
func (e *FieldError) Unwrap() error { return e.Err }

func formatIssue(key, value, source, msg string) string {
	var b strings.Builder
	b.WriteString(key)
	b.WriteString("=")
	b.WriteString(strconv.Quote(value))
	if source != "" {
		b.WriteString(" (")
		b.WriteString(source)
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(msg)
	return b.String()
}
