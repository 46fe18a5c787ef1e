package main

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// report prints the phases' medians and the ratios issue 29 asks for.
func (p *peerBench) report(phases []peerPhase, rate float64) error {
	cpus := map[string][]time.Duration{}
	var failed int
	for _, ph := range phases {
		key := ph.peer + "/" + ph.kind
		cpus[key] = append(cpus[key], ph.cpu)
		failed += ph.st.failed
	}
	span := func(key string) (time.Duration, string) {
		c := slices.Sorted(slices.Values(cpus[key]))
		if len(c) == 0 {
			return 0, "-"
		}
		med := c[len(c)/2]
		if len(c)%2 == 0 {
			med = (c[len(c)/2-1] + c[len(c)/2]) / 2
		}
		return med, fmt.Sprintf("%s–%s", c[0].Round(time.Microsecond), c[len(c)-1].Round(time.Microsecond))
	}
	fmt.Printf("\nexporter CPU per probe (range of the runs; ratios of the medians):\n")
	ratio := func(what, a, b, wanted string) {
		ma, ra := span(a)
		mb, rb := span(b)
		if ma == 0 || mb == 0 {
			return
		}
		fmt.Printf("  %-62s %6.2f×  (%s / %s; wanted %s)\n", what, float64(ma)/float64(mb), ra, rb, wanted)
	}
	open := fmt.Sprintf("open loop at %.0f/s", rate)
	ratio("bender_cc_exporter: "+open+" / saturation", "bender_cc_exporter/open", "bender_cc_exporter/saturation", "≤ 2×")
	ratio("blackbox_exporter / bender_cc_exporter, "+open, "blackbox_exporter (http)/open", "bender_cc_exporter/open", "≥ 3.5×")
	ratio("blackbox_exporter / bender_cc_exporter, saturation", "blackbox_exporter (http)/saturation", "bender_cc_exporter/saturation", "-")
	ratio("bender_cc_exporter Modbus: "+open+" / saturation", "bender_cc_exporter Modbus/open", "bender_cc_exporter Modbus/saturation", "≤ 2×")
	ratio("bender_cc_exporter: Modbus / REST, "+open, "bender_cc_exporter Modbus/open", "bender_cc_exporter/open", "-")
	for _, k := range []string{"", " Modbus"} {
		for _, kind := range []string{"open", "saturation"} {
			ratio("baseline / bender_cc_exporter"+k+", "+kind, baselineName+k+"/"+kind, "bender_cc_exporter"+k+"/"+kind, "-")
		}
	}
	ratio("baseline: "+open+" / saturation", baselineName+"/open", baselineName+"/saturation", "-")
	ratio("baseline Modbus: "+open+" / saturation", baselineName+" Modbus/open", baselineName+" Modbus/saturation", "-")
	if failed > 0 {
		return errors.New("some probes failed: the figures above do not compare like with like")
	}
	return nil
}
