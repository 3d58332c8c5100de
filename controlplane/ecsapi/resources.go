package ecsapi

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// HostResources are the registered resources: CPU units (1024 per logical CPU), memory in
// MiB less the reservation, and the reserved TCP and UDP ports.
func HostResources(reservedMemoryMiB int64, tcp, udp []uint16) ([]types.Resource, error) {
	memMiB, err := memTotalMiB()
	if err != nil {
		return nil, err
	}
	mem := memMiB - reservedMemoryMiB
	if mem <= 0 {
		return nil, fmt.Errorf("%w: ECS_RESERVED_MEMORY (%d MiB) is not less than the host's memory (%d MiB)", ErrTerminal, reservedMemoryMiB, memMiB)
	}
	return []types.Resource{
		{Name: aws.String("CPU"), Type: aws.String("INTEGER"), IntegerValue: int32(goruntime.NumCPU() * 1024)},
		{Name: aws.String("MEMORY"), Type: aws.String("INTEGER"), IntegerValue: int32(mem)},
		{Name: aws.String("PORTS"), Type: aws.String("STRINGSET"), StringSetValue: portStrings(tcp)},
		{Name: aws.String("PORTS_UDP"), Type: aws.String("STRINGSET"), StringSetValue: portStrings(udp)},
	}, nil
}

func portStrings(ports []uint16) []string {
	out := make([]string, 0, len(ports))
	for _, p := range ports {
		out = append(out, strconv.Itoa(int(p)))
	}
	return out
}

// memTotalMiB reads MemTotal from /proc/meminfo.
func memTotalMiB() (int64, error) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("host memory: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("host memory: %w", err)
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("host memory: no MemTotal in /proc/meminfo")
}
