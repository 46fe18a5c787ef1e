// Command waitingmem measures what a waiting probe holds in the exporter:
// it starts the exporter without bounds, holds -n probes of distinct
// targets open against controllers that accept and never answer (-mode
// hang) or whose connects never complete (-mode blackhole: a listener that
// never accepts, its queue full, so the kernel drops SYNs), and prints RSS,
// heap in use, stacks in use and goroutines per probe; -heap writes the
// exporter's heap profile and goroutine dump (docs/performance.md,
// "Overload"). Run it under the measurement lock:
//
//	go run ./scripts/waitingmem -exporter ./bender_cc_exporter -n 2000 -mode hang
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	blackholepkg "github.com/bender-cc/bender_cc_exporter/internal/blackhole"
	"github.com/bender-cc/bender_cc_exporter/internal/loopback"
)

func hangServer() string {
	l, _ := net.Listen("tcp", "127.0.0.2:0")
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	return l.Addr().String()
}

// blackhole is an address whose connects never complete, held for the whole run.
func blackhole() string {
	h, err := blackholepkg.Listen("127.0.0.3:0")
	if err != nil {
		panic(err)
	}
	return h.Addr()
}

func metric(addr, name string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer func() { _ = resp.Body.Close() }()
	s := bufio.NewScanner(resp.Body)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), name+" ") {
			v, _ := strconv.ParseFloat(strings.Fields(s.Text())[1], 64)
			return v
		}
	}
	return -1
}

func rss(pid int) float64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			v, _ := strconv.ParseFloat(strings.Fields(l)[1], 64)
			return v / 1024
		}
	}
	return 0
}

// save writes what the exporter serves at path to file.
func save(addr, path, file string) {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer func() { _ = resp.Body.Close() }()
	f, err := os.Create(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	_, _ = io.Copy(f, resp.Body)
	_ = f.Close()
}

func main() {
	bin := flag.String("exporter", "./bender_cc_exporter", "the exporter binary")
	n := flag.Int("n", 2000, "probes held open")
	mode := flag.String("mode", "hang", "hang (accepted, never answered) or blackhole (connect never completes)")
	extra := flag.String("args", "", "more exporter flags")
	prof := flag.String("heap", "", "write the heap profile here (and the goroutine dump beside it)")
	flag.Parse()
	var target string
	if *mode == "hang" {
		target = hangServer()
	} else {
		target = blackhole()
	}
	addr, err := loopback.FreeAddr()
	if err != nil {
		panic(err)
	}
	args := []string{"--web.listen-address=" + addr, "--log.level=error", "--probe.max-in-flight=0", "--web.max-connections=0"}
	if *extra != "" {
		args = append(args, strings.Fields(*extra)...)
	}
	cmd := exec.Command(*bin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		panic(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	time.Sleep(500 * time.Millisecond)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 10000, MaxConnsPerHost: 0}}
	// warm up
	for i := 0; i < 20; i++ {
		resp, err := client.Get("http://" + addr + "/metrics")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	}
	time.Sleep(300 * time.Millisecond)
	r0, h0, s0, g0 := rss(cmd.Process.Pid), metric(addr, "go_memstats_heap_inuse_bytes"), metric(addr, "go_memstats_stack_inuse_bytes"), metric(addr, "go_goroutines")
	var wg sync.WaitGroup
	for i := 0; i < *n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s/probe?target=%s/cc/%d", addr, target, i), nil)
			req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "30")
			resp, err := client.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		}(i)
		if i%200 == 199 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	time.Sleep(4 * time.Second)
	r1, h1, s1, g1 := rss(cmd.Process.Pid), metric(addr, "go_memstats_heap_inuse_bytes"), metric(addr, "go_memstats_stack_inuse_bytes"), metric(addr, "go_goroutines")
	if *prof != "" {
		save(addr, "/debug/pprof/heap", *prof)
		save(addr, "/debug/pprof/goroutine?debug=1", *prof+".goroutines.txt")
	}
	k := float64(*n)
	fmt.Printf("mode=%s n=%d: RSS %.1f -> %.1f MiB (%.1f KiB/probe); heap inuse %.1f KiB/probe; stacks %.1f KiB/probe; goroutines %.2f/probe\n",
		*mode, *n, r0, r1, (r1-r0)*1024/k, (h1-h0)/1024/k, (s1-s0)/1024/k, (g1-g0)/k)
	_ = cmd.Process.Kill()
	wg.Wait()
}
