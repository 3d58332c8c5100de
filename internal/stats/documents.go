package stats

// ContainerStats returns the latest document of the container with runtime ID runtimeID:
// a Stats, or a StatsV4 (with network_rate_stats) if v4. ok is false before its first
// sample and after it stopped. This is the task metadata endpoint's view (tmds.StatsSource).
func (s *Sampler) ContainerStats(runtimeID string, v4 bool) (doc any, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	tr := s.containers[runtimeID]
	if tr == nil {
		return nil, false
	}
	if !v4 {
		return tr.doc, true
	}
	d := StatsV4{Stats: tr.doc}
	if tr.rate != nil {
		r := *tr.rate
		d.NetworkRateStats = &r
	}
	return d, true
}
