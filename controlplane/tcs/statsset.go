package tcs

// accumulator folds samples into a CWStatsSet without keeping them: a container costs a
// few words however long the publish window, where the reference agent keeps a queue of
// raw samples per container.
type accumulator struct {
	min, max, sum float64
	n             int64
}

func (a *accumulator) add(v float64) {
	if a.n == 0 || v < a.min {
		a.min = v
	}
	if a.n == 0 || v > a.max {
		a.max = v
	}
	a.sum += v
	a.n++
}

// set returns the statistic set, or nil when there is no sample.
func (a *accumulator) set() *CWStatsSet {
	if a.n == 0 {
		return nil
	}
	return &CWStatsSet{Min: a.min, Max: a.max, SampleCount: a.n, Sum: a.sum}
}

func (a *accumulator) reset() { *a = accumulator{} }
