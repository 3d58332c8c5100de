package logdriver

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/ecsd/ecsd/internal/fluentforward"
	"github.com/ecsd/ecsd/internal/logship"
	"github.com/ecsd/ecsd/internal/logship/gelf"
	"github.com/ecsd/ecsd/internal/logship/syslog"
)

// The drivers ecsd-logger-ship implements.
const (
	Fluentd = logship.Fluentd
	Syslog  = logship.Syslog
	GELF    = logship.GELF
)

// DefaultTag is Docker's default tag template: the container ID's first 12 characters.
const DefaultTag = "{{.ID}}"

// shipOptions are the options a driver of ecsd-logger-ship takes.
func shipOptions(driver string) []string {
	return append([]string{"tag", "mode", "max-buffer-size"}, logship.DriverOptions(driver)...)
}

// tagInfo are the fields of Docker's tag template.
type tagInfo struct {
	ID, FullID, Name, ImageID, ImageFullID, ImageName, DaemonName string
}

// expandTag expands a Docker tag template ("{{.ID}}", "{{.ImageName}}/{{.Name}}", ...).
func expandTag(tmpl string, env Env) (string, error) {
	t, err := template.New("tag").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("tag %q: %w", tmpl, err)
	}
	imageID := strings.TrimPrefix(env.ImageID, "sha256:")
	info := tagInfo{
		ID: short(env.RuntimeID, 12), FullID: env.RuntimeID, Name: env.DockerName,
		ImageID: short(imageID, 12), ImageFullID: env.ImageID, ImageName: env.ImageName, DaemonName: "ecsd",
	}
	var b bytes.Buffer
	if err := t.Execute(&b, info); err != nil {
		return "", fmt.Errorf("tag %q: %w", tmpl, err)
	}
	if b.Len() > 1024 {
		return "", fmt.Errorf("tag %q: expands to more than 1024 bytes", tmpl)
	}
	return b.String(), nil
}

func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// shipArgs validates the options of fluentd, syslog or gelf and returns the logger
// arguments.
func shipArgs(driver string, opts map[string]string, env Env) (map[string]string, error) {
	if env.ShipUnavailable != "" {
		return nil, fmt.Errorf("%s is not available on this instance: %s", driver, env.ShipUnavailable)
	}
	known := shipOptions(driver)
	if len(env.SecretOptions) > 0 {
		return nil, fmt.Errorf("secret options (%s) are not supported by ecsd's %s driver", strings.Join(env.SecretOptions, ", "), driver)
	}
	for k := range opts {
		if !slices.Contains(known, k) {
			return nil, fmt.Errorf("option %q is not supported by ecsd (supported: %s)", k, strings.Join(known, ", "))
		}
	}
	args := map[string]string{"--" + logship.FlagDriver: driver}
	set := func(flag, v string) { args["--"+flag] = v }

	tmpl, ok := opts["tag"]
	if !ok || tmpl == "" {
		tmpl = DefaultTag
	}
	tag, err := expandTag(tmpl, env)
	if err != nil {
		return nil, err
	}
	set(logship.FlagTag, tag)

	mode := opts["mode"]
	switch mode {
	case "":
		mode = logship.ModeNonBlocking
	case logship.ModeBlocking, logship.ModeNonBlocking:
	default:
		return nil, fmt.Errorf("mode %q: want %s or %s", mode, logship.ModeNonBlocking, logship.ModeBlocking)
	}
	set(logship.FlagMode, mode)
	if v, ok := opts["max-buffer-size"]; ok {
		if mode != logship.ModeNonBlocking {
			return nil, fmt.Errorf("max-buffer-size is only supported with mode non-blocking")
		}
		n, err := ParseSize(v)
		if err != nil {
			return nil, fmt.Errorf("max-buffer-size: %w", err)
		}
		if n > maxShipBuffer {
			return nil, fmt.Errorf("max-buffer-size %q: at most %d MiB", v, maxShipBuffer>>20)
		}
		set(logship.FlagMaxBuffer, strconv.FormatInt(n, 10))
	}

	switch driver {
	case Fluentd:
		if err := checkFluentd(opts); err != nil {
			return nil, err
		}
		set(logship.FlagContainerID, env.RuntimeID)
		set(logship.FlagContainerName, "/"+env.DockerName)
	case Syslog:
		if err := checkSyslog(opts); err != nil {
			return nil, err
		}
	case GELF:
		if err := checkGELF(opts); err != nil {
			return nil, err
		}
		set(logship.FlagContainerID, env.RuntimeID)
		set(logship.FlagContainerName, env.DockerName)
		set(logship.FlagImageID, env.ImageID)
		set(logship.FlagImageName, env.ImageName)
	}
	for _, k := range logship.DriverOptions(driver) {
		if v, ok := opts[k]; ok && v != "" {
			set(logship.Flag(k), v)
		}
	}
	return args, nil
}

// checkFluentd checks the fluentd options' values, so a bad one stops the container with
// the reason instead of the logger finding it.
func checkFluentd(opts map[string]string) error {
	if _, err := fluentforward.ParseAddress(opts["fluentd-address"]); err != nil {
		return err
	}
	for _, k := range []string{"fluentd-async", "fluentd-async-connect"} {
		if v, ok := opts[k]; ok {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%s %q: want true or false", k, v)
			}
			if !b {
				return fmt.Errorf("%s false is not supported by ecsd: its fluentd driver always connects asynchronously, so the container starts and its output is queued, then dropped and counted, while the receiver is down", k)
			}
		}
	}
	for _, k := range []string{"fluentd-sub-second-precision", "fluentd-request-ack"} {
		if v, ok := opts[k]; ok {
			if _, err := strconv.ParseBool(v); err != nil {
				return fmt.Errorf("%s %q: want true or false", k, v)
			}
		}
	}
	for _, k := range []string{"fluentd-buffer-limit", "fluentd-max-retries"} {
		if v, ok := opts[k]; ok {
			if n, err := strconv.Atoi(v); err != nil || n < 0 {
				return fmt.Errorf("%s %q: want a whole number", k, v)
			}
		}
	}
	for _, k := range []string{"fluentd-retry-wait", "fluentd-write-timeout"} {
		if v, ok := opts[k]; ok {
			if d, err := time.ParseDuration(v); err != nil || d <= 0 {
				return fmt.Errorf("%s %q: want a positive duration such as 1s or 500ms", k, v)
			}
		}
	}
	return nil
}

func checkSyslog(opts map[string]string) error {
	if _, err := syslog.ParseAddress(opts["syslog-address"]); err != nil {
		return err
	}
	if _, err := syslog.ParseFacility(opts["syslog-facility"]); err != nil {
		return err
	}
	if _, err := syslog.ParseFormat(opts["syslog-format"]); err != nil {
		return err
	}
	return nil
}

func checkGELF(opts map[string]string) error {
	addr, err := gelf.ParseAddress(opts["gelf-address"])
	if err != nil {
		return err
	}
	if _, _, err := gelf.ParseCompression(addr, opts["gelf-compression-type"], opts["gelf-compression-level"]); err != nil {
		return err
	}
	for _, k := range []string{"gelf-tcp-max-reconnect", "gelf-tcp-reconnect-delay"} {
		v, ok := opts[k]
		if !ok {
			continue
		}
		if addr.Network != "tcp" {
			return fmt.Errorf("%s is only supported with a tcp gelf-address", k)
		}
		if n, err := strconv.Atoi(v); err != nil || n < 0 || (k == "gelf-tcp-reconnect-delay" && n < 1) {
			return fmt.Errorf("%s %q: want a whole number (of seconds for the delay)", k, v)
		}
	}
	return nil
}
