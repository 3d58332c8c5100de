package stats

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ecsd/ecsd/runtime"
)

var t0 = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

// v1Sample is a cgroup v1 reading at t0+sec with CPU total cpu.
func v1Sample(sec int, cpu uint64) Sample {
	return Sample{
		Runtime: runtime.Stats{
			Time: t0.Add(time.Duration(sec) * time.Second), CgroupVersion: 1,
			CPUUsageNanos: cpu, CPUUserNanos: cpu / 2, CPUKernelNanos: cpu / 4, PerCPUNanos: []uint64{cpu / 2, cpu / 2},
			CPUPeriods: 10, CPUThrottledPeriods: 2, CPUThrottledNanos: 3000,
			MemoryUsage: 30 << 20, MemoryMaxUsage: 40 << 20, MemoryLimit: 512 << 20, MemoryFailcnt: 1, MemoryCache: 20,
			MemoryStat: map[string]uint64{"cache": 20, "rss": 10, "total_cache": 20, "total_rss": 10},
			Pids:       3, PidsLimit: 100,
			BlkioServiceBytes: []runtime.BlkioEntry{{Major: 202, Minor: 0, Op: "Read", Value: 1}, {Major: 202, Minor: 0, Op: "Write", Value: 5}},
			BlkioServiced:     []runtime.BlkioEntry{{Major: 202, Minor: 0, Op: "Read", Value: 1}},
		},
		SystemCPUNanos: 1_000_000_000_000 + uint64(sec)*2_000_000_000,
		OnlineCPUs:     2,
		Networks:       map[string]NetworkStats{"eth0": {RxBytes: 796, RxPackets: 10, TxBytes: 8192, TxPackets: 112, TxDropped: 5}},
	}
}

// decode renders doc as JSON and decodes it generically, as a client would see it.
func decode(t *testing.T, doc any) map[string]any {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func keys(t *testing.T, v any) []string {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%v is not an object", v)
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func wantKeys(t *testing.T, what string, v any, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := keys(t, v); !slices.Equal(got, want) {
		t.Errorf("%s keys = %v, want %v", what, got, want)
	}
}

func TestConvertV1(t *testing.T) {
	prev, cur := v1Sample(0, 1e9), v1Sample(10, 3e9)
	m := decode(t, Convert("abc", cur, &prev, 0))

	wantKeys(t, "document", m, "read", "preread", "pids_stats", "blkio_stats", "num_procs", "storage_stats",
		"cpu_stats", "precpu_stats", "memory_stats", "name", "id", "networks")
	if m["read"] != "2026-07-01T12:00:10Z" || m["preread"] != "2026-07-01T12:00:00Z" || m["name"] != "/abc" || m["id"] != "abc" {
		t.Errorf("read %v preread %v name %v id %v", m["read"], m["preread"], m["name"], m["id"])
	}
	cpu := m["cpu_stats"].(map[string]any)
	wantKeys(t, "cpu_stats", cpu, "cpu_usage", "system_cpu_usage", "online_cpus", "throttling_data")
	wantKeys(t, "cpu_usage", cpu["cpu_usage"], "total_usage", "percpu_usage", "usage_in_kernelmode", "usage_in_usermode")
	wantKeys(t, "throttling_data", cpu["throttling_data"], "periods", "throttled_periods", "throttled_time")
	usage := cpu["cpu_usage"].(map[string]any)
	if usage["total_usage"] != 3e9 || usage["usage_in_usermode"] != 1.5e9 || usage["usage_in_kernelmode"] != 0.75e9 ||
		!reflect.DeepEqual(usage["percpu_usage"], []any{1.5e9, 1.5e9}) || cpu["system_cpu_usage"] != 1.02e12 || cpu["online_cpus"] != 2.0 {
		t.Errorf("cpu_stats %v", cpu)
	}
	pre := m["precpu_stats"].(map[string]any)
	if pre["cpu_usage"].(map[string]any)["total_usage"] != 1e9 || pre["system_cpu_usage"] != 1e12 {
		t.Errorf("precpu_stats %v, want the previous sample's", pre)
	}

	mem := m["memory_stats"].(map[string]any)
	wantKeys(t, "memory_stats", mem, "usage", "max_usage", "stats", "failcnt", "limit")
	wantKeys(t, "memory_stats.stats", mem["stats"], "cache", "rss", "total_cache", "total_rss")
	if mem["usage"] != float64(30<<20) || mem["max_usage"] != float64(40<<20) || mem["limit"] != float64(512<<20) || mem["failcnt"] != 1.0 {
		t.Errorf("memory_stats %v", mem)
	}
	wantKeys(t, "pids_stats", m["pids_stats"], "current", "limit")

	blkio := m["blkio_stats"].(map[string]any)
	wantKeys(t, "blkio_stats", blkio, "io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
		"io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive", "io_time_recursive", "sectors_recursive")
	for k, v := range blkio {
		if v == nil {
			t.Errorf("blkio_stats.%s is null; Docker prints v1 lists as []", k)
		}
	}
	sb := blkio["io_service_bytes_recursive"].([]any)
	if len(sb) != 2 {
		t.Fatalf("io_service_bytes_recursive %v", sb)
	}
	wantKeys(t, "blkio entry", sb[1], "major", "minor", "op", "value")
	if e := sb[1].(map[string]any); e["op"] != "Write" || e["value"] != 5.0 || e["major"] != 202.0 {
		t.Errorf("blkio entry %v", e)
	}

	nets := m["networks"].(map[string]any)
	wantKeys(t, "networks", nets, "eth0")
	wantKeys(t, "networks.eth0", nets["eth0"], "rx_bytes", "rx_packets", "rx_errors", "rx_dropped",
		"tx_bytes", "tx_packets", "tx_errors", "tx_dropped")
	if _, ok := m["network_rate_stats"]; ok {
		t.Error("network_rate_stats in a v2/v3 document")
	}
}

func TestConvertV2(t *testing.T) {
	s := Sample{
		Runtime: runtime.Stats{
			Time: t0, CgroupVersion: 2, CPUUsageNanos: 5000, CPUUserNanos: 3000, CPUKernelNanos: 2000,
			MemoryUsage: 4096, MemoryLimit: 1 << 62, MemoryFailcnt: 2,
			MemoryStat: map[string]uint64{"anon": 1, "file": 2, "inactive_file": 3},
			BlkioServiceBytes: []runtime.BlkioEntry{
				{Major: 8, Op: "read", Value: 100}, {Major: 8, Op: "write", Value: 200},
			},
		},
		SystemCPUNanos: 7e9, OnlineCPUs: 4,
	}
	m := decode(t, Convert("v2", s, nil, 8<<30))
	// No networks key for host networking, like Docker.
	wantKeys(t, "document", m, "read", "preread", "pids_stats", "blkio_stats", "num_procs", "storage_stats",
		"cpu_stats", "precpu_stats", "memory_stats", "name", "id")
	cpu := m["cpu_stats"].(map[string]any)
	wantKeys(t, "cpu_usage", cpu["cpu_usage"], "total_usage", "usage_in_kernelmode", "usage_in_usermode")
	mem := m["memory_stats"].(map[string]any)
	// max_usage is omitted on v2; an unlimited limit is capped at the host's memory.
	wantKeys(t, "memory_stats", mem, "usage", "stats", "failcnt", "limit")
	wantKeys(t, "memory_stats.stats", mem["stats"], "anon", "file", "inactive_file")
	if mem["limit"] != float64(8<<30) {
		t.Errorf("limit %v, want capped at machine memory", mem["limit"])
	}
	blkio := m["blkio_stats"].(map[string]any)
	if blkio["io_serviced_recursive"] != nil || blkio["sectors_recursive"] != nil {
		t.Errorf("v2 blkio %v: only io_service_bytes_recursive is reported", blkio)
	}
	if sb := blkio["io_service_bytes_recursive"].([]any); len(sb) != 2 || sb[0].(map[string]any)["op"] != "read" {
		t.Errorf("io_service_bytes_recursive %v", sb)
	}
	// A first sample: zero preread and an all-zero precpu_stats, as Docker's first frame.
	if m["preread"] != "0001-01-01T00:00:00Z" {
		t.Errorf("preread %v", m["preread"])
	}
	pre, _ := json.Marshal(m["precpu_stats"])
	wantPre := `{"cpu_usage":{"total_usage":0,"usage_in_kernelmode":0,"usage_in_usermode":0},"throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}}`
	if string(pre) != wantPre {
		t.Errorf("precpu_stats %s, want %s", pre, wantPre)
	}
	if pids, _ := json.Marshal(m["pids_stats"]); string(pids) != "{}" {
		t.Errorf("pids_stats %s", pids)
	}
}

func TestConvertRestartedCounters(t *testing.T) {
	prev, cur := v1Sample(0, 9e9), v1Sample(10, 1e9)
	doc := Convert("x", cur, &prev, 0)
	if !doc.PreRead.IsZero() || doc.PreCPUStats.CPUUsage.TotalUsage != 0 {
		t.Errorf("after CPU time went back: preread %v precpu %+v, want a first-sample document", doc.PreRead, doc.PreCPUStats)
	}
}

func TestConvertTrimsPerCPU(t *testing.T) {
	s := v1Sample(0, 4e9)
	s.Runtime.PerCPUNanos = []uint64{1, 2, 0, 0}
	doc := Convert("x", s, nil, 0)
	if !slices.Equal(doc.CPUStats.CPUUsage.PercpuUsage, []uint64{1, 2}) {
		t.Errorf("percpu %v, want the 2 online CPUs", doc.CPUStats.CPUUsage.PercpuUsage)
	}
}

// TestDocumentMatchesFixture decodes the reference agent's sample document strictly: every
// key it has must be a field of ours, and it must survive a round trip.
func TestDocumentMatchesFixture(t *testing.T) {
	b, err := os.ReadFile("testdata/unix_test_stats.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var doc StatsV4
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("fixture has keys we do not: %v", err)
	}
	if doc.Networks["eth1"].TxDropped != 5 || doc.MemoryStats.PrivateWorkingSet != 10 ||
		len(doc.BlkioStats.IoServiceBytesRecursive) != 6 || doc.CPUStats.OnlineCPUs != 2 {
		t.Errorf("decoded %+v", doc)
	}
	m := decode(t, doc)
	if _, ok := m["network_rate_stats"]; ok {
		t.Error("network_rate_stats present without rates")
	}
	doc.NetworkRateStats = &NetworkRateStats{RxBytesPerSec: 1.5}
	wantKeys(t, "network_rate_stats", decode(t, doc)["network_rate_stats"], "rx_bytes_per_sec", "tx_bytes_per_sec")
}
