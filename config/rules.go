package config

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// applyRules runs the reference agent's post-merge validation on the merged config: trims,
// derived defaults, clamps and resets (warnings) and fatal checks (errors).
func (l *loader) applyRules(ctx context.Context, c *Config) {
	trimFields(l.fields, c)
	if c.Cluster == "" {
		c.Cluster = DefaultCluster
	}
	if c.APIEndpoint != "" && !strings.Contains(c.APIEndpoint, "://") {
		c.APIEndpoint = "https://" + c.APIEndpoint
	}
	l.region(ctx, c)
	l.timeouts(c)
	l.counts(c)
	l.networking(c)
	l.logging(c)
	l.images(c)
	l.engineAuth(c)
	l.updates(c)
	l.efs(c)
}

// efs: ECSD_EFS_ADDRESSES maps file system IDs (fs-<hex>) to IP addresses; anything else
// would be put into a mount command.
func (l *loader) efs(c *Config) {
	for id, addr := range c.EFSAddresses {
		hex, ok := strings.CutPrefix(id, "fs-")
		if !ok || hex == "" || strings.Trim(hex, "0123456789abcdef") != "" {
			l.fail(l.env("EFSAddresses"), id, l.from("EFSAddresses"), "keys must be EFS file system IDs (fs-<hex>)")
			continue
		}
		if _, err := netip.ParseAddr(addr); err != nil {
			l.fail(l.env("EFSAddresses"), addr, l.from("EFSAddresses"), "values must be IP addresses")
		}
	}
	if c.EFSCAFile != "" && !filepath.IsAbs(c.EFSCAFile) {
		l.fail(l.env("EFSCAFile"), c.EFSCAFile, l.from("EFSCAFile"), "must be an absolute path")
	}
}

// updates: an empty ECS_UPDATE_DOWNLOAD_DIR (a line "ECS_UPDATE_DOWNLOAD_DIR=") takes the
// default; a relative one would depend on the agent's working directory, which ecs-init
// (which reads the same setting to find an update) does not share.
func (l *loader) updates(c *Config) {
	if c.UpdateDownloadDir == "" {
		c.UpdateDownloadDir = DefaultUpdateDownloadDir
		return
	}
	if !filepath.IsAbs(c.UpdateDownloadDir) {
		l.fail(l.env("UpdateDownloadDir"), c.UpdateDownloadDir, l.from("UpdateDownloadDir"), "must be an absolute path")
	}
}

// from describes where a field's value came from.
func (l *loader) from(name string) string { return l.origins[name].describe(name) }

func (l *loader) env(name string) string { return l.byName[name].env }

func (l *loader) region(ctx context.Context, c *Config) {
	var lookupErr error
	if c.AWSRegion == "" && !c.External.Enabled() && l.opts.regionFallback != nil {
		r, err := l.opts.regionFallback(ctx)
		if err != nil {
			lookupErr = err
		} else {
			c.AWSRegion = strings.TrimSpace(r)
		}
	}
	if c.AWSRegion != "" {
		return
	}
	msg := "no region: set AWS_DEFAULT_REGION (or AWSRegion in the JSON file)"
	if c.External.Enabled() {
		msg += "; ECS_EXTERNAL instances must set it explicitly"
	}
	if lookupErr != nil {
		msg += fmt.Sprintf("; the region lookup failed: %v", lookupErr)
	}
	switch {
	case l.opts.requireRegion:
		l.errs = append(l.errs, &FieldError{Key: "AWS_DEFAULT_REGION", Message: msg, Err: lookupErr})
	case lookupErr != nil:
		l.warn("AWS_DEFAULT_REGION", "", "", msg)
	}
}

func (l *loader) timeouts(c *Config) {
	// Environment values were already clamped, so anything below the minimum here came from
	// the JSON file, where the reference agent refuses to start.
	fatalMin := []struct {
		name string
		p    *time.Duration
		min  time.Duration
	}{
		{"DockerStopTimeout", &c.DockerStopTimeout, minDockerStopTimeout},
		{"ContainerStartTimeout", &c.ContainerStartTimeout, minContainerStartTimeout},
	}
	for _, m := range fatalMin {
		if *m.p < m.min {
			l.fail(l.env(m.name), fmtDuration(*m.p), l.from(m.name),
				fmt.Sprintf("must be at least %s (examples: 30s, 2m)", fmtDuration(m.min)))
		}
	}

	resets := []struct {
		name  string
		p     *time.Duration
		min   time.Duration
		reset time.Duration
	}{
		{"ImagePullInactivityTimeout", &c.ImagePullInactivityTimeout, minImagePullInactivity, minImagePullInactivity},
		{"TaskCleanupWaitDuration", &c.TaskCleanupWaitDuration, minTaskCleanupWaitDuration, defaultTaskCleanupWaitDuration},
		{"ImageCleanupInterval", &c.ImageCleanupInterval, minImageCleanupInterval, defaultImageCleanupInterval},
		{"HealthcheckACSGrace", &c.HealthcheckACSGrace, time.Second, DefaultHealthcheckACSGrace},
	}
	for _, r := range resets {
		if *r.p < r.min {
			l.warn(l.env(r.name), fmtDuration(*r.p), l.from(r.name),
				fmt.Sprintf("below the minimum %s; using %s", fmtDuration(r.min), fmtDuration(r.reset)))
			*r.p = r.reset
		}
	}

	if c.PollMetrics.Enabled() {
		d := c.PollingMetricsWaitDuration
		clamped := min(max(d, minPollingMetricsWait), maxPollingMetricsWait)
		if clamped != d {
			l.warn(l.env("PollingMetricsWaitDuration"), fmtDuration(d), l.from("PollingMetricsWaitDuration"),
				fmt.Sprintf("must be within [5s, 20s] while polling; using %s", fmtDuration(clamped)))
			c.PollingMetricsWaitDuration = clamped
		}
	}

	if p := c.CgroupCPUPeriod; p < minCgroupCPUPeriod || p > defaultCgroupCPUPeriod {
		l.warn(l.env("CgroupCPUPeriod"), fmtDuration(p), l.from("CgroupCPUPeriod"),
			"must be within [8ms, 100ms]; using 100ms")
		c.CgroupCPUPeriod = defaultCgroupCPUPeriod
	}
}

func (l *loader) counts(c *Config) {
	if c.NumImagesToDeletePerCycle < 1 {
		l.warn(l.env("NumImagesToDeletePerCycle"), fmt.Sprint(c.NumImagesToDeletePerCycle),
			l.from("NumImagesToDeletePerCycle"), "must be at least 1; using 5")
		c.NumImagesToDeletePerCycle = defaultNumImagesPerCycle
	}
	if c.TaskMetadataSteadyStateRate <= 0 || c.TaskMetadataBurstRate <= 0 {
		l.warn("ECS_TASK_METADATA_RPS_LIMIT",
			fmt.Sprintf("%d,%d", c.TaskMetadataSteadyStateRate, c.TaskMetadataBurstRate),
			l.from("TaskMetadataSteadyStateRate"), "both rates must be positive; using the default 40,60")
		c.TaskMetadataSteadyStateRate, c.TaskMetadataBurstRate = defaultTaskMetadataSteadyRate, defaultTaskMetadataBurstRate
	}
	if p := c.TaskPidsLimit; p != 0 && (p < 1 || p > maxTaskPidsLimit) {
		l.warn(l.env("TaskPidsLimit"), fmt.Sprint(p), l.from("TaskPidsLimit"),
			"must be an integer in 1-4194304; ignored, no pids limit")
		c.TaskPidsLimit = 0
	}
	if c.TaskPidsLimit > 0 && !c.TaskCPUMemLimit.Enabled() {
		// The limit is the task cgroup's pids.max, as in the reference agent: no task
		// cgroup, no limit.
		l.warn(l.env("TaskPidsLimit"), fmt.Sprint(c.TaskPidsLimit), l.from("TaskPidsLimit"),
			"has no effect while task cgroups are off (ECS_ENABLE_TASK_CPU_MEM_LIMIT=false): it is the task cgroup's pids.max")
	}
}

func (l *loader) networking(c *Config) {
	if c.PrometheusMetricsEnabled.Enabled() && !slices.Contains(c.ReservedPorts, PrometheusMetricsPort) {
		c.ReservedPorts = append(slices.Clip(c.ReservedPorts), PrometheusMetricsPort)
	}

	switch c.InstanceIPCompatibility {
	case IPCompatibilityAuto, IPCompatibilityIPv4, IPCompatibilityIPv6:
	default:
		l.warn(l.env("InstanceIPCompatibility"), string(c.InstanceIPCompatibility), l.from("InstanceIPCompatibility"),
			"accepted: ipv4, ipv6; detecting from the routes instead")
		c.InstanceIPCompatibility = IPCompatibilityAuto
	}
	if c.InstanceIPCompatibility == IPCompatibilityIPv6 && c.ShouldExcludeIPv6PortBinding.Value == NotSet {
		c.ShouldExcludeIPv6PortBinding.Value = ExplicitlyDisabled
	}

	if !c.TaskENIEnabled.Enabled() {
		// High-density ENI is only read when awsvpc is on.
		c.ENITrunkingEnabled.Value = ExplicitlyDisabled
	}

	switch c.ContainerInstancePropagateTagsFrom {
	case ContainerInstancePropagateTagsFromNoneType, ContainerInstancePropagateTagsFromEC2InstanceType:
	default:
		l.warn(l.env("ContainerInstancePropagateTagsFrom"), string(c.ContainerInstancePropagateTagsFrom),
			l.from("ContainerInstancePropagateTagsFrom"), "accepted: ec2_instance, none; using none")
		c.ContainerInstancePropagateTagsFrom = ContainerInstancePropagateTagsFromNoneType
	}
}

// logLevels are ECS_LOGLEVEL's accepted names.
func logLevels() []string { return []string{"debug", "info", "warn", "error", "crit", "none"} }

func (l *loader) logging(c *Config) {
	if lv := strings.ToLower(strings.TrimSpace(c.LogLevel)); slices.Contains(logLevels(), lv) {
		c.LogLevel = lv
	} else {
		l.warn(l.env("LogLevel"), c.LogLevel, l.from("LogLevel"),
			"accepted: debug, info, warn, error, crit, none; using info")
		c.LogLevel = "info"
	}
	if c.LogLevelOnInstance != "" {
		if lv := strings.ToLower(strings.TrimSpace(c.LogLevelOnInstance)); slices.Contains(logLevels(), lv) {
			c.LogLevelOnInstance = lv
		} else {
			l.warn(l.env("LogLevelOnInstance"), c.LogLevelOnInstance, l.from("LogLevelOnInstance"),
				"accepted: debug, info, warn, error, crit, none; using the default")
			c.LogLevelOnInstance = ""
		}
	}
	if c.LogLevelOnInstance == "" {
		c.LogLevelOnInstance = c.LogLevel
		if c.LogDriver != "" {
			c.LogLevelOnInstance = "none"
		}
	}

	switch rt := strings.ToLower(strings.TrimSpace(c.LogRolloverType)); rt {
	case "size", "hourly", "none":
		c.LogRolloverType = rt
	default:
		// The reference agent rotates hourly for any value other than size and none.
		l.warn(l.env("LogRolloverType"), c.LogRolloverType, l.from("LogRolloverType"),
			"accepted: size, hourly, none; using hourly")
		c.LogRolloverType = "hourly"
	}

	switch f := strings.ToLower(strings.TrimSpace(c.LogOutputFormat)); f {
	case "logfmt", "json":
		c.LogOutputFormat = f
	default:
		l.warn(l.env("LogOutputFormat"), c.LogOutputFormat, l.from("LogOutputFormat"),
			"accepted: logfmt, json; using logfmt")
		c.LogOutputFormat = "logfmt"
	}

	if c.LogMaxFileSizeMB < 0 {
		l.warn(l.env("LogMaxFileSizeMB"), fmt.Sprint(c.LogMaxFileSizeMB), l.from("LogMaxFileSizeMB"),
			"must be positive; using 5")
		c.LogMaxFileSizeMB = defaultLogMaxFileSizeMB
	}
	if c.LogMaxRollCount < 0 {
		l.warn(l.env("LogMaxRollCount"), fmt.Sprint(c.LogMaxRollCount), l.from("LogMaxRollCount"),
			"must be positive; using 24")
		c.LogMaxRollCount = defaultLogMaxRollCount
	}

	var unknown []string
	for _, d := range c.AvailableLoggingDrivers {
		if !slices.Contains(knownLoggingDrivers(), d) {
			unknown = append(unknown, string(d))
		}
	}
	if len(unknown) > 0 {
		value, _ := json.Marshal(c.AvailableLoggingDrivers)
		known := make([]string, 0, len(knownLoggingDrivers()))
		for _, d := range knownLoggingDrivers() {
			known = append(known, string(d))
		}
		l.fail(l.env("AvailableLoggingDrivers"), string(value), l.from("AvailableLoggingDrivers"),
			fmt.Sprintf("unknown logging driver(s) %s (known: %s)", strings.Join(unknown, ", "), strings.Join(known, ", ")))
	}
}

func (l *loader) images(c *Config) {
	if !slices.Contains(imagePullBehaviors(), c.ImagePullBehavior) {
		l.warn(l.env("ImagePullBehavior"), string(c.ImagePullBehavior), l.from("ImagePullBehavior"),
			"accepted: default, always, once, prefer-cached; using default")
		c.ImagePullBehavior = ImagePullDefaultBehavior
	}
	// Unlike the reference agent, prefer-cached leaves image cleanup on: the pull step
	// pulls an image cleanup removed again when a task needs it.
	if d := c.ImageCleanupIntervalOverride; d != 0 && d < minImageCleanupIntervalOverride {
		l.warn(l.env("ImageCleanupIntervalOverride"), fmtDuration(d), l.from("ImageCleanupIntervalOverride"),
			fmt.Sprintf("below the minimum %s; using ECS_IMAGE_CLEANUP_INTERVAL (%s)", fmtDuration(minImageCleanupIntervalOverride), fmtDuration(c.ImageCleanupInterval)))
		c.ImageCleanupIntervalOverride = 0
	}
	if c.MinimumImageDeletionAge < 0 {
		l.warn(l.env("MinimumImageDeletionAge"), fmtDuration(c.MinimumImageDeletionAge), l.from("MinimumImageDeletionAge"), "must not be negative; using 0s")
		c.MinimumImageDeletionAge = 0
	}
	if c.NonECSMinimumImageDeletionAge < 0 {
		l.warn(l.env("NonECSMinimumImageDeletionAge"), fmtDuration(c.NonECSMinimumImageDeletionAge), l.from("NonECSMinimumImageDeletionAge"), "must not be negative; using 0s")
		c.NonECSMinimumImageDeletionAge = 0
	}
	if hi, lo := c.ImageGCHighPercent, c.ImageGCLowPercent; hi < 1 || hi > 100 || lo < 1 || lo >= hi {
		l.warn(l.env("ImageGCHighPercent"), fmt.Sprintf("%d (ECSD_IMAGE_GC_LOW_PERCENT=%d)", hi, lo), l.from("ImageGCHighPercent"),
			fmt.Sprintf("want 1 <= ECSD_IMAGE_GC_LOW_PERCENT < ECSD_IMAGE_GC_HIGH_PERCENT <= 100; using %d and %d", defaultImageGCHighPercent, defaultImageGCLowPercent))
		c.ImageGCHighPercent, c.ImageGCLowPercent = defaultImageGCHighPercent, defaultImageGCLowPercent
	}
	if c.ImageGCPullWait < 0 {
		// A zero duration is "unset" (the default), as for every ECS_ duration: a negative
		// one is how waiting is turned off.
		c.ImageGCPullWait = 0
	}
	if c.WarmPoolsPollInterval < 100*time.Millisecond {
		l.warn(l.env("WarmPoolsPollInterval"), c.WarmPoolsPollInterval.String(), l.from("WarmPoolsPollInterval"),
			"want at least 100ms; using "+defaultWarmPoolsPollInterval.String())
		c.WarmPoolsPollInterval = defaultWarmPoolsPollInterval
	}
}
