package stats

import "time"

// netReading is the byte totals over all interfaces of one network sample.
type netReading struct {
	at     time.Time
	rx, tx uint64
}

func readingOf(nets map[string]NetworkStats, at time.Time) netReading {
	r := netReading{at: at}
	for _, n := range nets {
		r.rx += n.RxBytes
		r.tx += n.TxBytes
	}
	return r
}

// netRate follows one namespace's byte totals to derive network_rate_stats.
type netRate struct {
	last netReading
	has  bool
	// rate is nil until two readings exist.
	rate *NetworkRateStats
}

// add takes a new reading. Like the reference agent, a reading with the same timestamp
// keeps the previous rate; counters that went backwards mean the namespace was replaced, so
// the rate is dropped until the next reading rather than reported as garbage.
func (n *netRate) add(cur netReading) {
	if n.has {
		elapsed := cur.at.Sub(n.last.at).Seconds()
		switch {
		case elapsed <= 0:
		case cur.rx < n.last.rx || cur.tx < n.last.tx:
			n.rate = nil
		default:
			n.rate = &NetworkRateStats{
				RxBytesPerSec: float64(cur.rx-n.last.rx) / elapsed,
				TxBytesPerSec: float64(cur.tx-n.last.tx) / elapsed,
			}
		}
	}
	n.last, n.has = cur, true
}

// shareNetworks divides a task namespace's counters among its n containers. The reference
// agent reports an awsvpc task's interface counters to each container this way, so that
// summing containers (as CloudWatch Container Insights does) yields the task's traffic once.
func shareNetworks(nets map[string]NetworkStats, n int) map[string]NetworkStats {
	if n <= 1 || nets == nil {
		return nets
	}
	d := uint64(n)
	out := make(map[string]NetworkStats, len(nets))
	for name, s := range nets {
		out[name] = NetworkStats{
			RxBytes: s.RxBytes / d, RxPackets: s.RxPackets / d, RxErrors: s.RxErrors / d, RxDropped: s.RxDropped / d,
			TxBytes: s.TxBytes / d, TxPackets: s.TxPackets / d, TxErrors: s.TxErrors / d, TxDropped: s.TxDropped / d,
		}
	}
	return out
}
