package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The health poller runs in a process of its own (this binary with
// --poll-health): in the load generator's process its requests would wait
// behind thousands of the generator's goroutines, and a slow answer would
// be the generator's fault as often as the exporter's. It polls /-/healthy
// every 250 ms and /-/ready every second on a new connection each (as the
// kubelet's probes come), and /metrics every second on a kept-alive one
// (as Prometheus scrapes it), and prints one line per poll until its stdin
// closes: path, unix nanoseconds of the start, nanoseconds taken, error.

// pollHealth is the poller process.
func pollHealth(base string) {
	fresh := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	kept := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	stop := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stop) }()
	poll := func(c *http.Client, path string, every time.Duration) {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			t0 := time.Now()
			resp, err := c.Get(base + path)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = errors.New(resp.Status)
				}
			}
			took := time.Since(t0)
			msg := ""
			if err != nil {
				msg = strings.ReplaceAll(firstWords(err.Error()), "\n", " ")
			}
			mu.Lock()
			_, _ = fmt.Fprintf(out, "%s %d %d %s\n", path, t0.UnixNano(), took.Nanoseconds(), msg)
			_ = out.Flush()
			mu.Unlock()
		}
	}
	var wg sync.WaitGroup
	for _, p := range []struct {
		c     *http.Client
		path  string
		every time.Duration
	}{{fresh, "/-/healthy", 250 * time.Millisecond}, {fresh, "/-/ready", time.Second}, {kept, "/metrics", time.Second}} {
		wg.Add(1)
		go func() { defer wg.Done(); poll(p.c, p.path, p.every) }()
	}
	wg.Wait()
}

// startPoller starts the poller process against addr; stop ends it and
// returns its polls, times from start.
func startPoller(addr string, start time.Time) (stop func() []health, err error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "--poll-health=http://"+addr)
	cmd.SysProcAttr = childAttr()
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var polls []health
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := bufio.NewScanner(outp)
		for s.Scan() {
			f := strings.SplitN(s.Text(), " ", 4)
			if len(f) < 3 {
				continue
			}
			at, _ := strconv.ParseInt(f[1], 10, 64)
			took, _ := strconv.ParseInt(f[2], 10, 64)
			h := health{path: f[0], at: time.Unix(0, at).Sub(start), took: time.Duration(took)}
			if len(f) == 4 {
				h.err = f[3]
			}
			polls = append(polls, h)
		}
	}()
	return func() []health {
		_ = in.Close()
		<-done
		_ = cmd.Wait()
		return polls
	}, nil
}
