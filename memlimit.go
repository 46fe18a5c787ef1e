package main

import (
	"bufio"
	"math"
	"os"
	"path"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
)

// Memory per probe, measured (docs/performance.md, "Overload"): a probe of
// a controller that does not answer holds five goroutines (the server's
// connection and its background read, the shared request, the transport's
// read and write loops), two connections and their buffers: 194 MiB RSS
// for 2,848 of them, 68 KiB each (40 KiB heap, 28 KiB stacks). In an
// overload the connections beside the probes (--web.max-connections, each
// with its goroutine and buffers, many of them waiting for their request
// to be read) and the connections to controllers add as much again: 76 MiB
// of heap and stacks for 549 probes in flight and 1,123 connections. So a
// probe is budgeted at 128 KiB.
const (
	probeMemory = 128 << 10
	// probeShare is the share of the memory limit that probes in flight
	// may take; the rest is the exporter's base (20 MiB: runtime, config,
	// metrics, pooled connections to controllers), the connections beside
	// probes, and the garbage of probes that have ended, which the GC
	// collects before the limit.
	probeShare = 0.5
	// defaultMaxInFlight is the bound when no memory limit is known.
	defaultMaxInFlight = 4096
	minMaxInFlight     = 16
)

// cgroupMemoryShare is the Go memory limit the exporter sets when only a
// cgroup's limit is known (no GOMEMLIMIT): room for the binary and what
// the kernel charges to the cgroup beside the Go heap.
const cgroupMemoryShare = 0.9

// memoryBudget is the memory the process may use, in bytes, and where
// that figure comes from: GOMEMLIMIT (the Go memory limit) when set, else
// 90 % of the memory cgroup's limit, which it then makes the Go memory
// limit too, so that the GC collects before the kernel's OOM killer
// strikes. 0 when neither is known.
func memoryBudget() (int64, string) {
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		return l, "GOMEMLIMIT"
	}
	if l := cgroupMemoryLimit("/proc/self/cgroup", "/sys/fs/cgroup"); l > 0 {
		b := int64(float64(l) * cgroupMemoryShare)
		debug.SetMemoryLimit(b)
		return b, "90% of the memory cgroup's limit"
	}
	return 0, ""
}

// maxInFlightFor is the default --probe.max-in-flight for a memory budget.
func maxInFlightFor(budget int64) int {
	if budget <= 0 {
		return defaultMaxInFlight
	}
	return min(defaultMaxInFlight, max(minMaxInFlight, int(float64(budget)*probeShare/probeMemory)))
}

// cgroupMemoryLimit is the lowest memory limit of this process's cgroup
// and its parents (cgroup v2 memory.max, or v1 memory.limit_in_bytes), in
// bytes; 0 when none is set or none can be read.
func cgroupMemoryLimit(procCgroup, root string) int64 {
	f, err := os.Open(procCgroup)
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	var best int64
	s := bufio.NewScanner(f)
	for s.Scan() {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		dir, file := "", ""
		switch {
		case parts[0] == "0" && parts[1] == "":
			dir, file = root, "memory.max"
		case slices.Contains(strings.Split(parts[1], ","), "memory"):
			dir, file = path.Join(root, "memory"), "memory.limit_in_bytes"
		default:
			continue
		}
		for p := parts[2]; ; p = path.Dir(p) {
			b, err := os.ReadFile(path.Join(dir, p, file))
			if n, perr := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && perr == nil && n > 0 && n < 1<<60 {
				if best == 0 || n < best {
					best = n
				}
			}
			if p == "/" || p == "." {
				break
			}
		}
	}
	return best
}
