package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// memCgroup is a memory cgroup the exporter runs in (--cgroup-memory): the
// memory limit of a container or of systemd's MemoryMax=, on this machine.
// cgroup v1's memory controller where it is mounted, else cgroup v2.
type memCgroup struct {
	dir string
	v2  bool
}

// newMemCgroup creates a group limited to limit bytes (root is needed).
func newMemCgroup(limit int64) (*memCgroup, error) {
	name := fmt.Sprintf("bender-cc-loadtest-%d", os.Getpid())
	g := &memCgroup{dir: filepath.Join("/sys/fs/cgroup/memory", name)}
	limitFile := "memory.limit_in_bytes"
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err != nil {
		// cgroup v2: the unified hierarchy, with the memory controller
		// enabled for the root's children.
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.subtree_control"); err != nil {
			return nil, errors.New("no memory cgroup: neither /sys/fs/cgroup/memory (v1) nor /sys/fs/cgroup/cgroup.subtree_control (v2)")
		}
		_ = os.WriteFile("/sys/fs/cgroup/cgroup.subtree_control", []byte("+memory"), 0)
		g = &memCgroup{dir: filepath.Join("/sys/fs/cgroup", name), v2: true}
		limitFile = "memory.max"
	}
	if err := os.Mkdir(g.dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating a memory cgroup (root is needed): %w", err)
	}
	if err := os.WriteFile(filepath.Join(g.dir, limitFile), []byte(strconv.FormatInt(limit, 10)), 0); err != nil {
		g.remove()
		return nil, fmt.Errorf("setting the memory limit: %w", err)
	}
	if !g.v2 {
		// Without swap accounting memsw does not exist; with it, no swap.
		_ = os.WriteFile(filepath.Join(g.dir, "memory.memsw.limit_in_bytes"), []byte(strconv.FormatInt(limit, 10)), 0)
	} else {
		_ = os.WriteFile(filepath.Join(g.dir, "memory.swap.max"), []byte("0"), 0)
	}
	return g, nil
}

// wrap returns the command that runs bin inside the group from its first
// instruction: a shell moves itself in, then execs bin (same pid).
func (g *memCgroup) wrap(bin string, args []string) (string, []string) {
	return "/bin/sh", append([]string{"-c", `echo $$ > "$0/cgroup.procs" && exec "$@"`, g.dir, bin}, args...)
}

// cgroupStats is what the kernel counted for the group.
type cgroupStats struct {
	limit, peak    int64 // bytes
	failcnt        int64 // v1: times usage hit the limit (-1: v2, not counted)
	oomKills, ooms int64 // processes killed by the OOM killer; OOM events
	underOOM       bool  // v1: a task is waiting for memory now
}

func (g *memCgroup) stats() cgroupStats {
	read := func(f string) string {
		b, err := os.ReadFile(filepath.Join(g.dir, f))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	num := func(f string) int64 { n, _ := strconv.ParseInt(read(f), 10, 64); return n }
	keyed := func(f, key string) int64 {
		for line := range strings.Lines(read(f)) {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok && k == key {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		return 0
	}
	if g.v2 {
		return cgroupStats{limit: num("memory.max"), peak: num("memory.peak"), failcnt: -1,
			oomKills: keyed("memory.events", "oom_kill"), ooms: keyed("memory.events", "oom")}
	}
	return cgroupStats{limit: num("memory.limit_in_bytes"), peak: num("memory.max_usage_in_bytes"), failcnt: max(num("memory.failcnt"), num("memory.memsw.failcnt")),
		oomKills: keyed("memory.oom_control", "oom_kill"), underOOM: keyed("memory.oom_control", "under_oom") == 1}
}

// usage is the group's memory use now, in bytes (0 when it cannot be read).
func (g *memCgroup) usage() int64 {
	f := "memory.usage_in_bytes"
	if g.v2 {
		f = "memory.current"
	}
	b, _ := os.ReadFile(filepath.Join(g.dir, f))
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

func (s cgroupStats) String() string {
	v := fmt.Sprintf("limit %.0f MiB, peak usage %.1f MiB, OOM kills %d", float64(s.limit)/(1<<20), float64(s.peak)/(1<<20), s.oomKills)
	if s.failcnt >= 0 {
		v += fmt.Sprintf(", failcnt %d (times usage hit the limit)", s.failcnt)
	} else {
		v += fmt.Sprintf(", OOM events %d", s.ooms)
	}
	return v
}

// remove deletes the group once the processes in it have gone.
func (g *memCgroup) remove() {
	for range 50 {
		if err := os.Remove(g.dir); err == nil || os.IsNotExist(err) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "could not remove the cgroup %s\n", g.dir)
}
