package main

import (
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bender-cc/bender_cc_exporter/internal/loopback"
	"github.com/bender-cc/bender_cc_exporter/simulator"
)

// faultCycle is what misbehaving controllers do, in turn; up is the
// bender_cc_up the exporter must report for each.
var faultCycle = []struct {
	mode string
	up   bool
}{
	{"hang", false}, {"500", false}, {"garbage", false}, {"truncated", false}, {"latency:2s", true},
}

// target is one controller as the load generator sees it.
type target struct {
	url            string
	faulty, wantUp bool
}

// startFleet serves the simulated controllers: targets in the order
// Prometheus would spread them over the interval, how many controllers one
// host serves, and on how many hosts.
func (o *openLoop) startFleet() (targets []target, fleetSize, hosts int, err error) {
	// One simulated fleet of perHost controllers, served on as many
	// loopback hosts (127.1.x.y) as it takes: distinct targets on distinct
	// hosts, as a real fleet is.
	fleetSize = min(o.controllers, o.perHost)
	hosts = (o.controllers + fleetSize - 1) / fleetSize
	fleet, err := simulator.NewFleet(simulator.Options{Controllers: fleetSize, Seed: 1, Firmware: "mixed"})
	if err != nil {
		return nil, 0, 0, err
	}
	// Misbehaving controllers: every step-th of the fleet (so on every
	// host), their modes in turn from faultCycle.
	proto := make([]target, fleetSize+1)
	step := 0
	if o.faults > 0 {
		step = max(1, int(1/o.faults+0.5))
	}
	for id, n := 1, 0; id <= fleetSize; id++ {
		proto[id].wantUp = true
		if step > 0 && id%step == 0 {
			f := faultCycle[n%len(faultCycle)]
			spec, err := simulator.ParseFault(f.mode)
			if err != nil {
				return nil, 0, 0, err
			}
			fleet.SetFault(id, spec)
			proto[id] = target{faulty: true, wantUp: f.up}
			n++
		} else if o.latency > 0 {
			fleet.SetFault(id, &simulator.FaultSpec{Mode: simulator.FaultLatency, Delay: o.latency})
		}
	}
	// Hanging controllers (--hang): every k-th of the well-behaved ones;
	// in an overload run they hang during the overload only.
	if o.hang > 0 {
		k := max(1, int(1/o.hang+0.5))
		for id, n := 1, 0; id <= fleetSize; id++ {
			if proto[id].faulty {
				continue
			}
			if n++; n%k == 0 {
				o.hangIDs = append(o.hangIDs, id)
				if o.overloadRate == 0 {
					fleet.SetFault(id, &simulator.FaultSpec{Mode: simulator.FaultHang})
					proto[id] = target{faulty: true, wantUp: false}
				}
			}
		}
	}
	o.fleet = fleet
	for h := 0; h < hosts; h++ {
		addr := "127.0.0.1:0"
		if hosts > 1 {
			addr = fmt.Sprintf("127.1.%d.%d:0", h/250, h%250+1)
		}
		if o.modbus {
			// One Modbus server per controller and host: controller c on
			// port 20000 + c of each host, as one controller per address.
			host := "127.0.0.1"
			if hosts > 1 {
				host = fmt.Sprintf("127.1.%d.%d", h/250, h%250+1)
			}
			for c := 1; c <= fleetSize && len(targets) < o.controllers; c++ {
				a := net.JoinHostPort(host, strconv.Itoa(20000+c))
				if _, err := fleet.ServeModbusDirect(c, a); err != nil {
					return nil, 0, 0, fmt.Errorf("modbus on %s: %w", a, err)
				}
				t := proto[c]
				t.url = "modbus://" + a + "&module=modbus"
				targets = append(targets, t)
			}
			continue
		}
		u, err := serve(fleet, addr)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("listening on host %d: %w", h, err)
		}
		for c := 1; c <= fleetSize && len(targets) < o.controllers; c++ {
			t := proto[c]
			t.url = fmt.Sprintf("%s/cc/%d", u, c)
			targets = append(targets, t)
		}
	}
	// Prometheus gives each target a fixed offset in the interval from a
	// hash of its labels; sorting by a hash of the URL does the same.
	slices.SortFunc(targets, func(a, b target) int { return cmp.Compare(hash(a.url), hash(b.url)) })

	return targets, fleetSize, hosts, nil
}

func countFaulty(ts []target) int {
	n := 0
	for _, t := range ts {
		if t.faulty {
			n++
		}
	}
	return n
}

func hash(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

// measureFloor runs the simulator binary alone and sends it raw requests
// at the same rate for up to 20 s: its CPU per request is what answering a
// request costs on this machine, the floor under any exporter's cost.
func (o *openLoop) measureFloor(client *http.Client, controllers int) (time.Duration, error) {
	if o.simulator == "" {
		return 0, errors.New("no --simulator binary")
	}
	addr, err := loopback.FreeAddr()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(o.simulator, "--listen="+addr, fmt.Sprintf("--controllers=%d", controllers))
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	sim := &exporterProc{cmd: cmd, addr: addr, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(sim.exited) }()
	defer sim.stop()
	if err := loopback.WaitReady("http://"+addr+"/cc/1/rest/full_state", sim.exited, 5*time.Second); err != nil {
		return 0, fmt.Errorf("%s on %s: %w", o.simulator, addr, err)
	}
	d := min(o.duration, 20*time.Second)
	n := int(o.rate * d.Seconds())
	cpu0 := sim.cpuSeconds()
	start := time.Now()
	var wg sync.WaitGroup
	var okN atomic.Int64
	for j := 0; j < n; j++ {
		if w := time.Until(start.Add(time.Duration(float64(j) / o.rate * float64(time.Second)))); w > 0 {
			time.Sleep(w)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(fmt.Sprintf("http://%s/cc/%d/rest/full_state", addr, j%controllers+1))
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				okN.Add(1)
			}
		}()
	}
	wg.Wait()
	if okN.Load() == 0 {
		return 0, errors.New("the simulator answered nothing")
	}
	return time.Duration((sim.cpuSeconds() - cpu0) / float64(okN.Load()) * 1e9), nil
}
