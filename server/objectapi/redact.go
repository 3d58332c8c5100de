package objectapi

import (
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// Redacted replaces every secret value in a response.
const Redacted = "<redacted>"

// redact removes secrets from obj, a copy owned by the caller, before any of it is
// encoded. The introspection port can be reachable from task containers (and, without
// ecs-init's block, from off the host), so nothing here may let a reader act as a task:
//   - credentials IDs: the key to a task role's credentials at /v2/credentials/<id>;
//   - endpoint IDs: the key to a task's metadata and to its agent API (task protection);
//   - environment, log driver options, volume driver options and Docker labels whose
//     name says they hold a secret (DB_PASSWORD, splunk-token, ...);
//   - credentials written into any other value: a URL's password
//     (postgres://user:pass@host) or a password=... option, in those values, in commands
//     and health checks, and in error messages.
//
// Registry authentication holds only references (a Secrets Manager ARN, a region), never
// the credentials, and stays visible so that a failing pull can be understood.
func redact(obj runtime.Object) {
	switch o := obj.(type) {
	case *api.Task:
		redactTask(o)
	case *api.Container:
		redactContainer(o)
	}
}

func redactTask(t *api.Task) {
	s := &t.Spec
	s.RoleCredentialsID = redactIfSet(s.RoleCredentialsID)
	s.ExecutionCredentialsID = redactIfSet(s.ExecutionCredentialsID)
	for i := range s.Volumes {
		s.Volumes[i].DriverOpts = redactMap(s.Volumes[i].DriverOpts)
		s.Volumes[i].Labels = redactMap(s.Volumes[i].Labels)
	}
	s.Invalid = redactValue(s.Invalid)
	t.Status.StoppedReason = redactValue(t.Status.StoppedReason)
	redactHistory(t.Status.History)
}

func redactContainer(c *api.Container) {
	s := &c.Spec
	s.EndpointID = redactIfSet(s.EndpointID)
	s.Environment = redactMap(s.Environment)
	s.Labels = redactMap(s.Labels)
	s.Command = redactValues(s.Command)
	s.EntryPoint = redactValues(s.EntryPoint)
	if s.LogConfig != nil {
		s.LogConfig.Options = redactMap(s.LogConfig.Options)
	}
	if s.HealthCheck != nil {
		s.HealthCheck.Test = redactValues(s.HealthCheck.Test)
	}
	st := &c.Status
	st.Reason = redactValue(st.Reason)
	st.LastError = redactValue(st.LastError)
	if st.Health != nil {
		st.Health.Output = redactValue(st.Health.Output)
	}
	redactHistory(st.History)
}

func redactHistory(h []api.Transition) {
	for i := range h {
		h[i].Reason = redactValue(h[i].Reason)
	}
}

func redactIfSet(s string) string {
	if s == "" {
		return ""
	}
	return Redacted
}

// redactMap hides the values of secret-looking names and credentials inside the others.
// The map is replaced, not edited, so a map shared with another copy is never touched.
func redactMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if sensitiveName(k) {
			out[k] = Redacted
		} else {
			out[k] = redactValue(v)
		}
	}
	return out
}

func redactValues(vs []string) []string {
	if vs == nil {
		return nil
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = redactValue(v)
	}
	return out
}

// sensitiveWords are parts of a name that say its value is a secret. A false positive
// hides a harmless value; a false negative leaks a secret, so the list errs wide.
var sensitiveWords = []string{
	"password", "passwd", "passphrase", "pwd", "secret", "token", "credential",
	"auth", "key", "cert", "private", "signature", "cookie",
}

// sensitiveName reports whether a variable or option name looks like it holds a secret:
// AWS_SECRET_ACCESS_KEY, DB_PASSWORD, splunk-token, api.key, ...
func sensitiveName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range sensitiveWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

var (
	// urlPassword is the password of a URL's user information: scheme://user:password@.
	urlPassword = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^/@:\s]*):[^/@\s]*@`)
	// optionSecret is a key=value or --key=value whose key names a secret, as in a
	// volume's "o" option (username=u,password=p) or a command's --password=p.
	optionSecret = regexp.MustCompile(`(?i)((?:^|[\s,;&?-])[a-z0-9_.-]*(?:password|passwd|secret|token|apikey|api_key|api-key|access_key|accesskey)[a-z0-9_.-]*[=:])[^\s,;&]*`)
)

// redactValue hides credentials written into a free-form value.
func redactValue(v string) string {
	if v == "" {
		return v
	}
	v = urlPassword.ReplaceAllString(v, "${1}:"+Redacted+"@")
	return optionSecret.ReplaceAllString(v, "${1}"+Redacted)
}
