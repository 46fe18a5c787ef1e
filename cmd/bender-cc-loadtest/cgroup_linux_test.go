package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCgroupStats: what the kernel counted, read from v1 and v2 files.
func TestCgroupStats(t *testing.T) {
	for _, tt := range []struct {
		name  string
		v2    bool
		files map[string]string
		want  cgroupStats
	}{
		{"v1 OOM kill", false, map[string]string{
			"memory.limit_in_bytes": "134217728\n", "memory.max_usage_in_bytes": "134213632\n", "memory.failcnt": "0\n",
			"memory.memsw.failcnt": "3\n", "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
		}, cgroupStats{limit: 128 << 20, peak: 134213632, failcnt: 3, oomKills: 1}},
		{"v2 clean", true, map[string]string{
			"memory.max": "134217728\n", "memory.peak": "80000000\n", "memory.events": "low 0\nhigh 0\nmax 2\noom 0\noom_kill 0\n",
		}, cgroupStats{limit: 128 << 20, peak: 80000000, failcnt: -1}},
	} {
		dir := t.TempDir()
		for f, v := range tt.files {
			if err := os.WriteFile(filepath.Join(dir, f), []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if got := (&memCgroup{dir: dir, v2: tt.v2}).stats(); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
