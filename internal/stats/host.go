package stats

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	// clockTicksPerSecond is USER_HZ, the unit of /proc/stat. It is 100 on every Linux
	// architecture Docker supports, which is why Docker hard-codes it instead of calling
	// sysconf(_SC_CLK_TCK) through cgo; so do we.
	clockTicksPerSecond = 100
	nanosPerSecond      = 1_000_000_000
)

// systemCPU reads /proc/stat the way Docker does for system_cpu_usage and online_cpus.
func systemCPU() (nanos uint64, online uint32, err error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("system cpu: %w", err)
	}
	defer f.Close()
	return parseProcStat(f)
}

// parseProcStat sums the first seven fields of the aggregate "cpu" line (user, nice,
// system, idle, iowait, irq, softirq ticks; steal and guest are left out, as Docker does)
// into nanoseconds and counts the per-CPU "cpuN" lines, which list online CPUs only.
func parseProcStat(r io.Reader) (nanos uint64, online uint32, err error) {
	sc := bufio.NewScanner(r)
	found := false
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "cpu") {
			break // the cpu lines come first
		}
		fields := strings.Fields(line)
		if fields[0] != "cpu" {
			online++
			continue
		}
		if len(fields) < 8 {
			return 0, 0, fmt.Errorf("system cpu: %d fields in %q, want at least 8", len(fields), line)
		}
		var ticks uint64
		for _, f := range fields[1:8] {
			v, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("system cpu: %w", err)
			}
			ticks += v
		}
		nanos = ticks * (nanosPerSecond / clockTicksPerSecond)
		found = true
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("system cpu: %w", err)
	}
	if !found {
		return 0, 0, errors.New("system cpu: no aggregate cpu line in /proc/stat")
	}
	return nanos, online, nil
}

// machineMemory is the host's physical memory (MemTotal), the cap Docker applies to a
// container's reported memory limit. 0 if unknown, which disables the cap.
func machineMemory() uint64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit)
}
