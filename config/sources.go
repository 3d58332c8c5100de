package config

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"strings"
)

// ParseEnvFile parses ecs-init's KEY=VALUE format: each line is split at the first '=', the
// key is trimmed, the value is kept literally (no quote or escape handling), and lines
// without '=' are skipped. As a deliberate improvement over ecs-init, blank lines and lines
// whose first non-blank character is '#' are skipped too, and a trailing '\r' (a file edited
// on Windows) is dropped. Later lines win.
func ParseEnvFile(data []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		key = strings.TrimSpace(key)
		if key == "" {
			continue
		}
		out[key] = value
	}
	return out
}

// readEnvFile reads the KEY=VALUE file. A missing file is fine unless the path was chosen
// explicitly (option or ECSD_CONFIG_FILE), where it is most likely a typo.
func readEnvFile(path string, explicit bool) (map[string]string, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !explicit {
			return nil, nil
		}
		return nil, fmt.Errorf("ECSD_CONFIG_FILE=%q: cannot read the KEY=VALUE file: %w", path, err)
	}
	return ParseEnvFile(data), nil
}

// readJSONFile reads the reference agent's JSON config file. A missing or empty file is
// fine; a file that cannot be opened for another reason is skipped with a warning (the
// reference agent skips it silently); a read error or malformed JSON is an error. Keys are
// Go field names (matched case-insensitively, as encoding/json does); durations are integer
// nanoseconds; the deprecated ClusterArn fills Cluster.
func readJSONFile(path string) (*Config, []Warning, error) {
	if path == "" {
		return nil, nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, nil
		}
		return nil, []Warning{{Key: "ECS_AGENT_CONFIG_FILE_PATH", Value: path,
			Message: fmt.Sprintf("cannot open the JSON config file, ignoring it: %v", err)}}, nil
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, nil, &FieldError{Key: "ECS_AGENT_CONFIG_FILE_PATH", Value: path,
			Message: fmt.Sprintf("cannot read the JSON config file: %v", err)}
	}
	data := bytes.TrimSpace(buf.Bytes())
	if len(data) == 0 {
		return nil, nil, nil
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, nil, &FieldError{Key: "ECS_AGENT_CONFIG_FILE_PATH", Value: path,
			Message: fmt.Sprintf("malformed JSON config file (expected an object keyed by Go field names, durations in nanoseconds): %v", err)}
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil {
		return nil, nil, &FieldError{Key: "ECS_AGENT_CONFIG_FILE_PATH", Value: path,
			Message: fmt.Sprintf("malformed JSON config file: %v", err)}
	}
	var deprecated struct{ ClusterArn string }
	_ = json.Unmarshal(data, &deprecated) // already known to be a valid object
	if strings.TrimSpace(c.Cluster) == "" && deprecated.ClusterArn != "" {
		c.Cluster = deprecated.ClusterArn
	}
	var warns []Warning
	known := jsonKeys()
	for k := range keys {
		if !known[strings.ToLower(k)] && !strings.EqualFold(k, "ClusterArn") {
			warns = append(warns, Warning{Key: "ECS_AGENT_CONFIG_FILE_PATH", Value: path,
				Message: fmt.Sprintf("unknown key %q ignored (keys are Config field names such as Cluster, DockerStopTimeout)", k)})
		}
	}
	sortWarnings(warns)
	return &c, warns, nil
}

// jsonKeys are the lower-cased JSON keys Config accepts.
func jsonKeys() map[string]bool {
	t := reflect.TypeFor[Config]()
	out := map[string]bool{}
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("json") != "-" {
			out[strings.ToLower(t.Field(i).Name)] = true
		}
	}
	return out
}

// kernelPortRange reads ip_local_port_range ("start<TAB>end"); on any failure it returns the
// reference agent's fallback 49153-65535.
func kernelPortRange(path string) PortRange {
	fallback := PortRange{Start: fallbackDynamicPortRangeStart, End: fallbackDynamicPortRangeEnd}
	data, err := os.ReadFile(path)
	if err != nil {
		return fallback
	}
	parts := strings.Fields(string(data))
	if len(parts) != 2 {
		return fallback
	}
	r, err := ParsePortRange(parts[0] + "-" + parts[1])
	if err != nil {
		return fallback
	}
	return r
}
