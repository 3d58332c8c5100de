package containerd

// Labels the runtime sets on every container it creates. They live in containerd's
// metadata so that state survives agent restarts without an agent-side database.
const (
	// LabelManaged marks containers created by ecsd; ListContainers filters on it so that
	// anything else in the namespace (e.g. created by ctr) is ignored.
	LabelManaged = "ecs.ecsd.io/managed"
	// labelLogPath remembers where the shim writes stdout/stderr, because StartContainer
	// only receives the container ID.
	labelLogPath = "ecs.ecsd.io/log-path"
	// labelLogSettings holds ContainerConfig.Logging (JSON), for the same reason; absent
	// means the defaults (an unbounded file).
	labelLogSettings = "ecs.ecsd.io/log-settings"
	// labelMountLabel is the container's SELinux mount label, which its root file system
	// is mounted with (context=) when its task is created.
	labelMountLabel = "ecs.ecsd.io/selinux-mount-label"
	// labelStartedAt is set after every successful start (RFC 3339, ns precision):
	// containerd records no start time for a task.
	labelStartedAt = "ecs.ecsd.io/started-at"
	// labelOOMKilled is set to "true" when an OOM kill was observed for the current run,
	// so the fact survives until the container is removed.
	labelOOMKilled = "ecs.ecsd.io/oom-killed"
)

// maxLabelSize is containerd's limit on a label's key and value together.
const maxLabelSize = 4096

// recordExtension is the containerd container extension holding ContainerConfig.Record.
// Extensions (unlike labels, limited to 4 KiB each) hold any size; the value is a protobuf
// Any whose type URL says what it is, so no type needs registering with typeurl.
const (
	recordExtension = "ecs.ecsd.io/record"
	recordTypeURL   = "types.ecsd.io/ecs.ecsd.io/record"
)

// managedFilter is the containerd filter selecting the containers this package manages.
const managedFilter = `labels."` + LabelManaged + `"==true`
