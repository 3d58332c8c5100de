package stats

import (
	"testing"
	"time"
)

func TestNetRate(t *testing.T) {
	var n netRate
	n.add(netReading{at: t0, rx: 1000, tx: 500})
	if n.rate != nil {
		t.Fatalf("rate after one reading: %+v", n.rate)
	}
	n.add(netReading{at: t0.Add(2 * time.Second), rx: 3000, tx: 600})
	if n.rate == nil || n.rate.RxBytesPerSec != 1000 || n.rate.TxBytesPerSec != 50 {
		t.Fatalf("rate %+v, want 1000/50 B/s", n.rate)
	}
	// Same timestamp: the previous rate stays.
	n.add(netReading{at: t0.Add(2 * time.Second), rx: 9000, tx: 9000})
	if n.rate == nil || n.rate.RxBytesPerSec != 1000 {
		t.Fatalf("rate after duplicate timestamp %+v", n.rate)
	}
	// Counters went back: a new namespace; no rate until the next reading.
	n.add(netReading{at: t0.Add(4 * time.Second), rx: 10, tx: 10})
	if n.rate != nil {
		t.Fatalf("rate across a counter reset: %+v", n.rate)
	}
	n.add(netReading{at: t0.Add(5 * time.Second), rx: 110, tx: 10})
	if n.rate == nil || n.rate.RxBytesPerSec != 100 || n.rate.TxBytesPerSec != 0 {
		t.Fatalf("rate %+v, want 100/0 B/s", n.rate)
	}
}

func TestShareNetworks(t *testing.T) {
	in := map[string]NetworkStats{"eth0": {RxBytes: 10, RxPackets: 7, RxErrors: 3, RxDropped: 2, TxBytes: 20, TxPackets: 5, TxErrors: 1, TxDropped: 9}}
	got := shareNetworks(in, 2)["eth0"]
	want := NetworkStats{RxBytes: 5, RxPackets: 3, RxErrors: 1, RxDropped: 1, TxBytes: 10, TxPackets: 2, TxErrors: 0, TxDropped: 4}
	if got != want {
		t.Errorf("shared %+v, want %+v", got, want)
	}
	if in["eth0"].RxBytes != 10 {
		t.Error("input modified")
	}
	if shareNetworks(in, 1)["eth0"] != in["eth0"] {
		t.Error("one container does not share")
	}
}
