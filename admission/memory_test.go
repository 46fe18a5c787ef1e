package admission

import (
	"os"
	"path/filepath"
	"testing"
)

// TestBoundsFor: half of the memory budget for probes, a quarter of that
// for working ones at 128 KiB, the rest for waiting ones at 80 KiB; 5 % for
// targets at 512 bytes; the bounds of before (4,096 in flight) when no
// limit is known and at most.
func TestBoundsFor(t *testing.T) {
	for _, tt := range []struct {
		budget int64
		want   Bounds
	}{
		{0, Bounds{Waiting: 3584, Working: 512, InFlight: 4096, PerTarget: 4, Targets: 100_000}},
		{128 << 20, Bounds{Waiting: 614, Working: 128, InFlight: 742, PerTarget: 4, Targets: 13_107}},
		{(128 << 20) * 9 / 10, Bounds{Waiting: 552, Working: 115, InFlight: 667, PerTarget: 4, Targets: 11_796}},
		{1 << 20, Bounds{Waiting: 16, Working: 4, InFlight: 20, PerTarget: 4, Targets: 10_000}},
		{1 << 40, Bounds{Waiting: 3584, Working: 512, InFlight: 4096, PerTarget: 4, Targets: 1_000_000}},
	} {
		if got := BoundsFor(tt.budget); got != tt.want {
			t.Errorf("BoundsFor(%d) = %+v, want %+v", tt.budget, got, tt.want)
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
