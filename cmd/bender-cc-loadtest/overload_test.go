package main

import "testing"

// TestPlateau: filling the bounds and staying there passes, a pile-up fails.
func TestPlateau(t *testing.T) {
	at := func(g ...int) []sample {
		var s []sample
		for _, n := range g {
			s = append(s, sample{rss: 80, fds: n / 2, goroutines: n})
		}
		return s
	}
	if err := plateau(at(2000, 2600, 2700), at(2700, 2500, 3100)); err != nil {
		t.Errorf("a plateau failed: %v", err)
	}
	if err := plateau(at(2000, 2600, 2700), at(4000, 6000, 8000)); err == nil {
		t.Error("a pile-up passed")
	}
}
