package config

import (
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Redacted returns the effective configuration keyed by variable name, with every secret
// (ECS_ENGINE_AUTH_DATA, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, any name containing
// PASSWORD, SECRET or TOKEN, and proxy passwords) replaced by "<redacted>". Derived fields
// without a variable of their own (EngineAuth) are left out.
func (c *Config) Redacted() map[string]string {
	out := map[string]string{}
	v := reflect.ValueOf(c).Elem()
	for _, f := range fields() {
		if f.env == "" {
			continue
		}
		if f.name == "TaskMetadataSteadyStateRate" {
			out[f.env] = strconv.Itoa(c.TaskMetadataSteadyStateRate) + "," + strconv.Itoa(c.TaskMetadataBurstRate)
			continue
		}
		out[f.env] = display(f, v.Field(f.index))
	}
	return out
}

// String prints the effective configuration as sorted KEY=VALUE lines, secrets redacted.
// Values containing control characters are Go-quoted so every setting stays on one line.
func (c *Config) String() string {
	m := c.Redacted()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		val := m[k]
		if strings.ContainsFunc(val, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			val = strconv.Quote(val)
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(val)
		b.WriteByte('\n')
	}
	return b.String()
}

// redactURLPassword hides the password of a proxy URL, with or without a scheme.
func redactURLPassword(s string) string {
	if s == "" || !strings.Contains(s, "@") {
		return s
	}
	prefixed := !strings.Contains(s, "://")
	in := s
	if prefixed {
		in = "http://" + s
	}
	u, err := url.Parse(in)
	if err != nil {
		return redacted
	}
	if _, has := u.User.Password(); !has {
		return s
	}
	u.User = url.UserPassword(u.User.Username(), "REDACTED")
	out := strings.Replace(u.String(), "REDACTED", redacted, 1)
	if prefixed {
		out = strings.TrimPrefix(out, "http://")
	}
	return out
}
