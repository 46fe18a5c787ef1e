package admission

import (
	rtmetrics "runtime/metrics"
	"time"
)

// The CPU is short when goroutines wait long to run: the 99th percentile
// of the Go scheduler's latency (the time a runnable goroutine waits for a
// CPU) over the last sampling window is above busyLatency. Then every
// probe is slow for want of CPU, not of its controller's answer, and
// admission preempts none.
const (
	busyLatency  = 50 * time.Millisecond
	busyWindow   = 250 * time.Millisecond
	busyQuantile = 0.99
	// busyMinSamples: fewer scheduling events than this in a window is an
	// idle exporter, never a busy one.
	busyMinSamples = 20
)

// schedLatency reads the scheduler's latency histogram at most once per
// busyWindow. Its caller holds the Controller's lock.
type schedLatency struct {
	at     time.Time
	prev   []uint64
	isBusy bool
	sample [1]rtmetrics.Sample
}

func (s *schedLatency) busy(now time.Time) bool {
	if now.Sub(s.at) < busyWindow {
		return s.isBusy
	}
	s.at = now
	s.sample[0].Name = "/sched/latencies:seconds"
	rtmetrics.Read(s.sample[:])
	if s.sample[0].Value.Kind() != rtmetrics.KindFloat64Histogram {
		return false
	}
	h := s.sample[0].Value.Float64Histogram()
	delta := make([]uint64, len(h.Counts))
	var total uint64
	for i, n := range h.Counts {
		if i < len(s.prev) {
			n -= s.prev[i]
		}
		delta[i] = n
		total += n
	}
	s.prev = append(s.prev[:0], h.Counts...)
	s.isBusy = quantileAbove(delta, h.Buckets, total, busyQuantile, busyLatency.Seconds())
	return s.isBusy
}

// quantileAbove says whether quantile q of the histogram (counts per
// bucket; bucket i spans buckets[i] to buckets[i+1]) lies above limit.
func quantileAbove(counts []uint64, buckets []float64, total uint64, q, limit float64) bool {
	if total < busyMinSamples {
		return false
	}
	want := uint64(q * float64(total))
	var sum uint64
	for i, n := range counts {
		sum += n
		if sum > want {
			return buckets[i] >= limit
		}
	}
	return false
}
