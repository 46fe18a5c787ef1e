package admission

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMaxInFlightFor: half of the memory limit at 128 KiB per probe, 4096
// when no limit is known and at most.
func TestMaxInFlightFor(t *testing.T) {
	for _, tt := range []struct {
		budget int64
		want   int
	}{
		{0, 4096},
		{128 << 20, 512},
		{(128 << 20) * 9 / 10, 460},
		{64 << 20, 256},
		{1 << 20, 16},
		{1 << 40, 4096},
	} {
		if got := MaxInFlightFor(tt.budget); got != tt.want {
			t.Errorf("MaxInFlightFor(%d) = %d, want %d", tt.budget, got, tt.want)
		}
	}
}

// TestCgroupMemoryLimit: the lowest limit of the process's cgroup and its
// parents, v1 and v2; "max" and v1's unlimited are no limit.
func TestCgroupMemoryLimit(t *testing.T) {
	for _, tt := range []struct {
		name, self string
		files      map[string]string
		want       int64
	}{
		{"v2", "0::/kubepods/pod1/c1\n", map[string]string{"kubepods/pod1/c1/memory.max": "134217728\n", "kubepods/memory.max": "max\n"}, 128 << 20},
		{"v2 parent lower", "0::/system.slice/x.service\n", map[string]string{"system.slice/x.service/memory.max": "max\n", "system.slice/memory.max": "67108864\n"}, 64 << 20},
		{"v2 no limit", "0::/\n", map[string]string{}, 0},
		{"v1", "4:memory:/docker/abc\n0::/\n", map[string]string{"memory/docker/abc/memory.limit_in_bytes": "134217728\n", "memory/memory.limit_in_bytes": "9223372036854771712\n"}, 128 << 20},
		{"v1 unlimited", "5:cpu:/x\n4:memory:/x\n", map[string]string{"memory/x/memory.limit_in_bytes": "9223372036854771712\n"}, 0},
	} {
		root := t.TempDir()
		for f, v := range tt.files {
			p := filepath.Join(root, f)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		self := filepath.Join(t.TempDir(), "cgroup")
		if err := os.WriteFile(self, []byte(tt.self), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := cgroupMemoryLimit(self, root); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
