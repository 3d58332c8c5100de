package logship

// Flags of ecsd-logger for the drivers of ecsd-logger-ship. The agent validates the task
// definition's options (internal/logdriver) and passes each one it takes as
// "--ship-<option> value"; ecsd-logger becomes ecsd-logger-ship when it sees FlagDriver.
// argv is readable by every user of the host, so no flag ever holds a secret.
const (
	FlagDriver = "ship-driver"
	// FlagTag is the driver's tag, the agent having expanded Docker's tag template.
	FlagTag = "ship-tag"
	// FlagContainerID and FlagContainerName name the container in records (Docker's
	// container_id and container_name).
	FlagContainerID   = "ship-container-id"
	FlagContainerName = "ship-container-name"
	// FlagImageID and FlagImageName name the container's image in gelf messages.
	FlagImageID   = "ship-image-id"
	FlagImageName = "ship-image-name"
	// FlagMode and FlagMaxBuffer are Docker's mode and max-buffer-size.
	FlagMode      = "ship-mode"
	FlagMaxBuffer = "ship-max-buffer-size"
)

// Flag is the logger flag that carries a driver option.
func Flag(option string) string { return "ship-" + option }

// Drivers of ecsd-logger-ship.
const (
	Fluentd = "fluentd"
	Syslog  = "syslog"
	GELF    = "gelf"
)

// Drivers are the drivers of ecsd-logger-ship.
func Drivers() []string { return []string{Fluentd, GELF, Syslog} }

// Modes.
const (
	ModeNonBlocking = "non-blocking"
	ModeBlocking    = "blocking"
)

// DriverOptions are the options of each driver passed through to the logger as they are
// (besides tag, mode and max-buffer-size, which every driver takes and the agent turns
// into FlagTag, FlagMode and FlagMaxBuffer).
func DriverOptions(driver string) []string {
	switch driver {
	case Fluentd:
		return []string{"fluentd-address", "fluentd-async", "fluentd-async-connect", "fluentd-buffer-limit",
			"fluentd-retry-wait", "fluentd-max-retries", "fluentd-sub-second-precision", "fluentd-request-ack",
			"fluentd-write-timeout"}
	case Syslog:
		return []string{"syslog-address", "syslog-facility", "syslog-format"}
	case GELF:
		return []string{"gelf-address", "gelf-compression-type", "gelf-compression-level", "gelf-tcp-max-reconnect",
			"gelf-tcp-reconnect-delay"}
	}
	return nil
}
