package stats

import "time"

// The types below reproduce Docker Engine's stats document field for field, JSON tags and
// omitempty flags included: clients decode it with Docker's own structs, and encoding/json
// renders empty nested structs and nil lists exactly as Docker does only if the declarations
// match.

// Stats is one container's statistics document (Docker's StatsResponse): the latest sample,
// with the previous sample's CPU figures as PreCPUStats.
type Stats struct {
	// Read is when the sample was taken; PreRead when the previous one was (zero time on
	// the first sample, as Docker prints it).
	Read    time.Time `json:"read"`
	PreRead time.Time `json:"preread"`

	PidsStats  PidsStats  `json:"pids_stats,omitempty"`
	BlkioStats BlkioStats `json:"blkio_stats,omitempty"`

	// NumProcs and StorageStats are Windows-only; they stay zero but keep their keys.
	NumProcs     uint32       `json:"num_procs"`
	StorageStats StorageStats `json:"storage_stats,omitempty"`

	CPUStats    CPUStats    `json:"cpu_stats,omitempty"`
	PreCPUStats CPUStats    `json:"precpu_stats,omitempty"`
	MemoryStats MemoryStats `json:"memory_stats,omitempty"`

	// Name is the runtime ID with Docker's leading slash; ID the runtime ID.
	Name string `json:"name,omitempty"`
	ID   string `json:"id,omitempty"`

	// Networks maps interface name to its counters; nil (no key) for host networking.
	Networks map[string]NetworkStats `json:"networks,omitempty"`
}

// StatsV4 is the task metadata v4 document: Docker's plus network throughput.
type StatsV4 struct {
	Stats
	// NetworkRateStats is absent until two network samples exist, and for host networking.
	NetworkRateStats *NetworkRateStats `json:"network_rate_stats,omitempty"`
}

// NetworkRateStats is the byte rate over all interfaces between the last two samples.
type NetworkRateStats struct {
	RxBytesPerSec float64 `json:"rx_bytes_per_sec"`
	TxBytesPerSec float64 `json:"tx_bytes_per_sec"`
}

// PidsStats is the pids cgroup: current count and limit (0 = unlimited).
type PidsStats struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

// BlkioStats is block I/O per device. Only the first two lists carry data on cgroup v2
// (and only IoServiceBytesRecursive there); the others exist for the v1 shape.
type BlkioStats struct {
	IoServiceBytesRecursive []BlkioStatEntry `json:"io_service_bytes_recursive"`
	IoServicedRecursive     []BlkioStatEntry `json:"io_serviced_recursive"`
	IoQueuedRecursive       []BlkioStatEntry `json:"io_queue_recursive"`
	IoServiceTimeRecursive  []BlkioStatEntry `json:"io_service_time_recursive"`
	IoWaitTimeRecursive     []BlkioStatEntry `json:"io_wait_time_recursive"`
	IoMergedRecursive       []BlkioStatEntry `json:"io_merged_recursive"`
	IoTimeRecursive         []BlkioStatEntry `json:"io_time_recursive"`
	SectorsRecursive        []BlkioStatEntry `json:"sectors_recursive"`
}

// BlkioStatEntry is one counter of one device and operation.
type BlkioStatEntry struct {
	Major uint64 `json:"major"`
	Minor uint64 `json:"minor"`
	Op    string `json:"op"`
	Value uint64 `json:"value"`
}

// StorageStats is Windows-only and always empty here.
type StorageStats struct {
	ReadCountNormalized  uint64 `json:"read_count_normalized,omitempty"`
	ReadSizeBytes        uint64 `json:"read_size_bytes,omitempty"`
	WriteCountNormalized uint64 `json:"write_count_normalized,omitempty"`
	WriteSizeBytes       uint64 `json:"write_size_bytes,omitempty"`
}

// CPUStats is the container's CPU time plus the host totals a client divides it by.
type CPUStats struct {
	CPUUsage CPUUsage `json:"cpu_usage"`
	// SystemUsage is the host's total CPU time in nanoseconds (all CPUs, all modes).
	SystemUsage    uint64         `json:"system_cpu_usage,omitempty"`
	OnlineCPUs     uint32         `json:"online_cpus,omitempty"`
	ThrottlingData ThrottlingData `json:"throttling_data,omitempty"`
}

// CPUUsage is cumulative CPU time in nanoseconds.
type CPUUsage struct {
	TotalUsage uint64 `json:"total_usage"`
	// PercpuUsage exists on cgroup v1 only.
	PercpuUsage       []uint64 `json:"percpu_usage,omitempty"`
	UsageInKernelmode uint64   `json:"usage_in_kernelmode"`
	UsageInUsermode   uint64   `json:"usage_in_usermode"`
}

// ThrottlingData is CFS bandwidth throttling; ThrottledTime is in nanoseconds.
type ThrottlingData struct {
	Periods          uint64 `json:"periods"`
	ThrottledPeriods uint64 `json:"throttled_periods"`
	ThrottledTime    uint64 `json:"throttled_time"`
}

// MemoryStats is the memory cgroup. Stats uses cgroup v1 or v2 key names depending on the
// host, as Docker does; clients tell them apart by key ("cache" vs "inactive_file").
type MemoryStats struct {
	Usage    uint64            `json:"usage,omitempty"`
	MaxUsage uint64            `json:"max_usage,omitempty"`
	Stats    map[string]uint64 `json:"stats,omitempty"`
	Failcnt  uint64            `json:"failcnt,omitempty"`
	Limit    uint64            `json:"limit,omitempty"`

	// Windows-only fields, kept so the type decodes any Docker document.
	Commit            uint64 `json:"commitbytes,omitempty"`
	CommitPeak        uint64 `json:"commitpeakbytes,omitempty"`
	PrivateWorkingSet uint64 `json:"privateworkingset,omitempty"`
}

// NetworkStats is one interface's counters, as the kernel keeps them (rtnl_link_stats64).
type NetworkStats struct {
	RxBytes   uint64 `json:"rx_bytes"`
	RxPackets uint64 `json:"rx_packets"`
	RxErrors  uint64 `json:"rx_errors"`
	RxDropped uint64 `json:"rx_dropped"`
	TxBytes   uint64 `json:"tx_bytes"`
	TxPackets uint64 `json:"tx_packets"`
	TxErrors  uint64 `json:"tx_errors"`
	TxDropped uint64 `json:"tx_dropped"`
}
