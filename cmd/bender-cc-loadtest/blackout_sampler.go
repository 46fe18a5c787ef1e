package main

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// blackoutSample is the exporter's state at one moment of a blackout run.
type blackoutSample struct {
	at              time.Duration // from the start
	rss             float64       // MiB
	fds, goroutines int
	cgroup          int64              // the memory cgroup's usage, bytes (0 without one)
	inFlight        int                // bender_cc_exporter_probes_in_flight, all series
	counters        map[string]float64 // the refusal and shedding counters, by series
}

// isSheddingCounter says whether a metric of the exporter counts probes or
// connections turned away or answered early: the refusal and shedding
// counters of today's exporter, and those an admission change adds with
// these words in their names.
func isSheddingCounter(name string) bool {
	if !strings.HasPrefix(name, "bender_cc_exporter_") || !strings.HasSuffix(name, "_total") {
		return false
	}
	for _, w := range []string{"refused", "shed", "early", "circuit", "rejected"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// readState reads the exporter's shedding counters (by series) and its
// probes in flight from /metrics.
func (e *exporterProc) readState(client *http.Client) (counters map[string]float64, inFlight, goroutines int, err error) {
	resp, err := client.Get("http://" + e.addr + "/metrics")
	if err != nil {
		return nil, 0, 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, 0, fmt.Errorf("/metrics: %s", resp.Status)
	}
	counters = map[string]float64{}
	s := bufio.NewScanner(resp.Body)
	for s.Scan() {
		line := s.Text()
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 || strings.HasPrefix(line, "#") {
			continue
		}
		series, v := line[:sp], line[sp+1:]
		name, _, _ := strings.Cut(series, "{")
		f, _ := strconv.ParseFloat(v, 64)
		switch {
		case isSheddingCounter(name):
			counters[series] = f
		case name == "bender_cc_exporter_probes_in_flight":
			inFlight += int(f)
		case name == "go_goroutines":
			goroutines = int(f)
		}
	}
	return counters, inFlight, goroutines, s.Err()
}

// sampler reads the exporter's state every 500 ms until stopped.
type sampler struct {
	quit, done chan struct{}
	samples    []blackoutSample
}

func startSampler(exp *exporterProc, start time.Time) *sampler {
	s := &sampler{quit: make(chan struct{}), done: make(chan struct{})}
	kept := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.quit:
				return
			case <-tick.C:
			}
			x := blackoutSample{at: time.Since(start)}
			x.rss, _ = exp.status("VmRSS")
			x.fds, _ = exp.fds()
			if cgroup != nil {
				x.cgroup = cgroup.usage()
			}
			var err error
			x.counters, x.inFlight, x.goroutines, err = exp.readState(kept)
			if err != nil {
				x.counters = nil // not read: the counters of the next sample count
			}
			if exp.died() == "" {
				s.samples = append(s.samples, x)
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the samples.
func (s *sampler) stop() []blackoutSample {
	close(s.quit)
	<-s.done
	return s.samples
}
