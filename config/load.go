package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Option configures Load.
type Option func(*options)

type options struct {
	lookup         func(string) (string, bool)
	configFile     *string
	agentConfig    *string
	regionFallback func(context.Context) (string, error)
	requireRegion  bool
	portRangeFile  string
	envDefaults    map[string]string
}

// EnvSource is what WithEnv accepts: a fixed map or a lookup function such as os.LookupEnv.
type EnvSource interface {
	map[string]string | func(string) (string, bool)
}

// WithEnv replaces the process environment, so tests never depend on the real one.
func WithEnv[E EnvSource](env E) Option {
	return func(o *options) {
		switch e := any(env).(type) {
		case map[string]string:
			o.lookup = func(k string) (string, bool) { v, ok := e[k]; return v, ok }
		case func(string) (string, bool):
			o.lookup = e
		}
	}
}

// WithConfigFile sets the KEY=VALUE file, overriding ECSD_CONFIG_FILE. "" reads no file.
// An explicitly chosen file must exist.
func WithConfigFile(path string) Option {
	return func(o *options) { o.configFile = &path }
}

// WithAgentConfigFile sets the JSON file, overriding ECS_AGENT_CONFIG_FILE_PATH. "" reads no
// file. As with the variable, a missing file is not an error.
func WithAgentConfigFile(path string) Option {
	return func(o *options) { o.agentConfig = &path }
}

// WithRegionFallback supplies the region when neither the environment, ecs.config nor the
// JSON file set it (the reference agent asks IMDS at that point). It is not consulted for
// ECS_EXTERNAL instances.
func WithRegionFallback(fn func(context.Context) (string, error)) Option {
	return func(o *options) { o.regionFallback = fn }
}

// RequireRegion makes a missing region an error. It is an option because the embedded local
// control plane does not need a region.
func RequireRegion() Option {
	return func(o *options) { o.requireRegion = true }
}

// WithPortRangeFile replaces /proc/sys/net/ipv4/ip_local_port_range.
func WithPortRangeFile(path string) Option {
	return func(o *options) { o.portRangeFile = path }
}

// origin is where a field's value came from, for messages.
type origin struct {
	json bool   // from the JSON file
	path string // the file, "" for the process environment or defaults
	def  bool   // from the defaults
}

func (o origin) describe(fieldName string) string {
	switch {
	case o.json:
		return fieldName + " in " + o.path
	case o.path != "":
		return o.path
	}
	return ""
}

// loader carries one Load call's state.
type loader struct {
	opts     options
	fields   []field
	byName   map[string]field
	fileEnv  map[string]string
	fileName string
	origins  map[string]origin
	warns    []Warning
	errs     []error
}

// Load builds the effective configuration from the process environment, the KEY=VALUE file,
// the JSON file and the defaults, then applies the reference agent's validation rules. All
// fatal problems are returned together (errors.Join of *FieldError values and file errors);
// the config is nil when there are any. Warnings are returned in every case.
func Load(ctx context.Context, opts ...Option) (*Config, []Warning, error) {
	l := &loader{
		opts:    options{lookup: os.LookupEnv, portRangeFile: DefaultPortRangeFile},
		fields:  fields(),
		byName:  map[string]field{},
		origins: map[string]origin{},
	}
	for _, opt := range opts {
		opt(&l.opts)
	}
	for _, f := range l.fields {
		l.byName[f.name] = f
	}

	// Source 2: the KEY=VALUE file. Its path comes from an option or the process environment
	// only, never from the file itself.
	path, explicit := DefaultConfigFile, false
	if v, ok := l.opts.lookup("ECSD_CONFIG_FILE"); ok && v != "" {
		path, explicit = v, true
	}
	if l.opts.configFile != nil {
		path, explicit = *l.opts.configFile, true
	}
	fileEnv, err := readEnvFile(path, explicit)
	if err != nil {
		l.errs = append(l.errs, err) // keep going: report every problem at once
	}
	l.fileEnv, l.fileName = fileEnv, path

	// Source 1+2: the environment layer.
	envLayer := l.parseEnv()

	// Source 3: the JSON file.
	jsonPath := DefaultAgentConfigFilePath
	if v, _, ok := l.get("ECS_AGENT_CONFIG_FILE_PATH"); ok {
		jsonPath = v
	}
	if l.opts.agentConfig != nil {
		jsonPath = *l.opts.agentConfig
	}
	jsonLayer, jsonWarns, err := readJSONFile(jsonPath)
	l.warns = append(l.warns, jsonWarns...)
	if err != nil {
		l.errs = append(l.errs, err)
	}

	// Source 4: defaults. The two file paths are what was actually used ("" = disabled).
	defaults := baseDefaults()
	defaults.DynamicHostPortRange = kernelPortRange(l.opts.portRangeFile)
	defaults.ConfigFile, defaults.AgentConfigFilePath = path, jsonPath

	cfg := &Config{}
	l.merge(cfg, envLayer, origin{})
	if jsonLayer != nil {
		trimFields(l.fields, jsonLayer)
		l.merge(cfg, jsonLayer, origin{json: true, path: jsonPath})
	}
	l.merge(cfg, defaults, origin{def: true})

	l.applyRules(ctx, cfg)
	l.warnNoEffect()
	if len(l.errs) > 0 {
		return nil, l.warns, errors.Join(l.errs...)
	}
	return cfg, l.warns, nil
}

// get looks a variable up in the process environment, then in the KEY=VALUE file, then in
// the environment defaults (WithEnvDefaults) when neither mentions it. An empty value counts
// as unset, as in the reference agent. It returns the value's source path ("" for the
// process environment).
func (l *loader) get(key string) (string, string, bool) {
	v, inEnv := l.opts.lookup(key)
	if inEnv && v != "" {
		return v, "", true
	}
	v, inFile := l.fileEnv[key]
	if inFile && v != "" {
		return v, l.fileName, true
	}
	if v, ok := l.opts.envDefaults[key]; ok && v != "" && !inEnv && !inFile {
		return v, ecsInitSource, true
	}
	return "", "", false
}

// proxyAlias is the lower-case spellings Go's proxy support also reads.
func proxyAlias(key string) string {
	switch key {
	case "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY":
		return strings.ToLower(key)
	}
	return ""
}

// parseEnv builds the environment layer: every variable parsed by its field's type, parse
// failures reported (warning or, for `fatal` fields, error) and left unset, then the
// environment-only rules applied.
func (l *loader) parseEnv() *Config {
	c := &Config{}
	v := reflect.ValueOf(c).Elem()
	for _, f := range l.fields {
		if f.env == "" || f.custom {
			continue
		}
		raw, src, ok := l.get(f.env)
		if !ok {
			if alias := proxyAlias(f.env); alias != "" {
				raw, src, ok = l.get(alias)
			}
		}
		if !ok || (f.trim && strings.TrimSpace(raw) == "") {
			continue
		}
		if err := decodeEnv(f, raw, v.Field(f.index)); err != nil {
			l.report(f.fatal, f.env, f.shown(raw), src, err.Error()+l.unsetNote(f.fatal))
			continue
		}
		l.origins[f.name] = origin{path: src}
	}
	l.parseRPSLimit(c)
	l.envClamps(c)

	// ECS_CHECKPOINT defaults to on when ECS_DATADIR is set non-empty in the environment.
	if c.Checkpoint.Value == NotSet && c.DataDir != "" {
		c.Checkpoint.Value = ExplicitlyEnabled
		l.origins["Checkpoint"] = l.origins["DataDir"]
	}
	return c
}

func (l *loader) unsetNote(fatal bool) string {
	if fatal {
		return ""
	}
	return "; using the default"
}

// parseRPSLimit reads ECS_TASK_METADATA_RPS_LIMIT="steady,burst". A malformed value, or one
// with a non-positive part, leaves both rates at their defaults.
func (l *loader) parseRPSLimit(c *Config) {
	const key = "ECS_TASK_METADATA_RPS_LIMIT"
	raw, src, ok := l.get(key)
	if !ok {
		return
	}
	steadyText, burstText, found := strings.Cut(raw, ",")
	steady, err1 := strconv.Atoi(strings.TrimSpace(steadyText))
	burst, err2 := strconv.Atoi(strings.TrimSpace(burstText))
	switch {
	case !found || err1 != nil || err2 != nil:
		l.warn(key, raw, src, msgRPSLimit+"; using the default 40,60")
	case steady <= 0 || burst <= 0:
		l.warn(key, raw, src, "both rates must be positive; using the default 40,60")
	default:
		c.TaskMetadataSteadyStateRate, c.TaskMetadataBurstRate = steady, burst
		l.origins["TaskMetadataSteadyStateRate"] = origin{path: src}
		l.origins["TaskMetadataBurstRate"] = origin{path: src}
	}
}

// envClamps raises too-small timeouts given in the environment to their minimum. The
// reference agent does this only for environment values; the same values below the minimum
// in the JSON file are checked in applyRules (and for stop/start timeouts are fatal).
func (l *loader) envClamps(c *Config) {
	clamps := []struct {
		name string
		p    *time.Duration
		min  time.Duration
	}{
		{"DockerStopTimeout", &c.DockerStopTimeout, minDockerStopTimeout},
		{"ContainerStartTimeout", &c.ContainerStartTimeout, minContainerStartTimeout},
		{"ContainerCreateTimeout", &c.ContainerCreateTimeout, minContainerCreateTimeout},
		{"ManifestPullTimeout", &c.ManifestPullTimeout, minManifestPullTimeout},
		{"ImagePullInactivityTimeout", &c.ImagePullInactivityTimeout, minImagePullInactivity},
	}
	for _, cl := range clamps {
		if *cl.p != 0 && *cl.p < cl.min {
			l.warn(l.byName[cl.name].env, fmtDuration(*cl.p), l.origins[cl.name].path,
				fmt.Sprintf("below the minimum %s; using %s", fmtDuration(cl.min), fmtDuration(cl.min)))
			*cl.p = cl.min
		}
	}
}

// fmtDuration prints a duration without trailing zero units (1m, not 1m0s).
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// merge fills every unset field of dst from src, recording where it came from.
func (l *loader) merge(dst, src *Config, from origin) {
	dv, sv := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src).Elem()
	for _, f := range l.fields {
		d, s := dv.Field(f.index), sv.Field(f.index)
		if !isUnset(d) || isUnset(s) {
			continue
		}
		d.Set(s)
		if from.json || from.def {
			l.origins[f.name] = from
		}
	}
}

// trimFields trims the fields the reference agent trims, in any layer.
func trimFields(fs []field, c *Config) {
	v := reflect.ValueOf(c).Elem()
	for _, f := range fs {
		if f.trim {
			fv := v.Field(f.index)
			fv.SetString(strings.TrimSpace(fv.String()))
		}
	}
}

func (l *loader) warn(key, value, source, msg string) {
	l.warns = append(l.warns, Warning{Key: key, Value: value, Source: source, Message: msg})
}

func (l *loader) fail(key, value, source, msg string) {
	l.errs = append(l.errs, &FieldError{Key: key, Value: value, Source: source, Message: msg})
}

func (l *loader) report(fatal bool, key, value, source, msg string) {
	if fatal {
		l.fail(key, value, source, msg)
	} else {
		l.warn(key, value, source, msg)
	}
}

func sortWarnings(ws []Warning) {
	slices.SortStableFunc(ws, func(a, b Warning) int { return strings.Compare(a.String(), b.String()) })
}
