package admission

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

// cgroupMemoryShare is the part of a memory cgroup's limit the Go memory
// limit may reach: the cgroup also counts what Go does not (the binary's
// pages, the kernel's socket buffers). At 100 % of a 128 MiB limit (the
// chart sets GOMEMLIMIT to the container's limit) a 5x overload took the
// cgroup to 121 MiB; at 90 % to 94 MiB.
const cgroupMemoryShare = 0.9

// MemoryBudget is the memory the process may use, in bytes, and where
// that figure comes from: the lower of GOMEMLIMIT (the Go memory limit)
// and 90 % of the memory cgroup's limit; 0 when neither is known. The Go
// memory limit is lowered to it, so that the GC collects before the
// kernel's OOM killer strikes.
func MemoryBudget() (int64, string) {
	var budget int64
	source := ""
	goLimit := debug.SetMemoryLimit(-1)
	if goLimit != math.MaxInt64 {
		budget, source = goLimit, "GOMEMLIMIT"
	}
	if l := cgroupMemoryLimit("/proc/self/cgroup", "/sys/fs/cgroup"); l > 0 {
		if b := int64(float64(l) * cgroupMemoryShare); budget == 0 || b < budget {
			budget, source = b, "90% of the memory cgroup's limit"
		}
	}
	if budget > 0 && budget < goLimit {
		debug.SetMemoryLimit(budget)
	}
	return budget, source
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
