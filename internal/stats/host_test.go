package stats

import (
	"strings"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	const stat = `cpu  100 20 30 400 5 6 7 8 9 10
cpu0 50 10 15 200 2 3 3 4 0 0
cpu1 50 10 15 200 3 3 4 4 0 0
intr 12345 0 0
ctxt 999
cpu9 this is not a cpu line after the block
`
	nanos, online, err := parseProcStat(strings.NewReader(stat))
	if err != nil {
		t.Fatal(err)
	}
	// user..softirq = 568 ticks of 10 ms; steal and guest are not counted.
	if nanos != 568*10_000_000 || online != 2 {
		t.Errorf("nanos %d online %d, want %d and 2", nanos, online, 568*10_000_000)
	}
	for _, bad := range []string{"", "cpu  1 2 3\n", "cpu  1 2 3 x 5 6 7\n", "intr 1\n"} {
		if _, _, err := parseProcStat(strings.NewReader(bad)); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}

func TestSystemCPUAndMemory(t *testing.T) {
	nanos, online, err := systemCPU()
	if err != nil || nanos == 0 || online == 0 {
		t.Fatalf("systemCPU = %d, %d, %v", nanos, online, err)
	}
	if machineMemory() == 0 {
		t.Error("machine memory unknown")
	}
}
