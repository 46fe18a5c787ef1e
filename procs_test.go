package main

import (
	"slices"
	"testing"
)

// TestProcsGovernor: one P until half a core is busy, the default at once
// from then on, and one P again only after lowerAfter quiet windows in a row.
func TestProcsGovernor(t *testing.T) {
	quiet := slices.Repeat([]float64{0.1}, lowerAfter)
	for _, tt := range []struct {
		name string
		used []float64 // cores' worth of CPU used in each window
		want []int     // GOMAXPROCS after each
	}{
		{"idle stays on one P", []float64{0, 0.2, 0.49}, []int{1, 1, 1}},
		{"busy: the default", []float64{0.3, 0.5, 1.8}, []int{1, 4, 4}},
		{"back to one P after a quiet spell", append([]float64{0.9}, quiet...),
			append([]int{4}, append(slices.Repeat([]int{4}, lowerAfter-1), 1)...)},
		{"a busy window restarts the spell", append(append([]float64{0.9}, quiet[1:]...), 0.3, 0.1),
			append([]int{4}, append(slices.Repeat([]int{4}, lowerAfter-1), 4, 4)...)},
		{"between the marks on the default: stays", []float64{2, 0.3, 0.4, 0.26}, []int{4, 4, 4, 4}},
	} {
		g := &procsGovernor{procs: 1, max: 4}
		var got []int
		for _, u := range tt.used {
			got = append(got, g.next(u))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
