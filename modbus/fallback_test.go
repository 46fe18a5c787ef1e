package modbus

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/bender-cc/bender_cc_exporter/collector"
	"github.com/bender-cc/bender_cc_exporter/internal/modbustest"
	"github.com/bender-cc/bender_cc_exporter/simulator"
)

// twins starts two simulated sites of the same seed at the same instant:
// the reference, whose Modbus servers pipeline and read 0 in gaps, and one
// whose controller 1 (a DLM master, fw 5.33, a vehicle connected) behaves
// as b. It returns controller 1's address on each.
func twins(t *testing.T, b simulator.ModbusBehaviour) (ref, odd string) {
	t.Helper()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for seed := uint64(1); seed < 200; seed++ {
		o := simulator.Options{Controllers: 4, Seed: seed, Firmware: "5.33", DLMSiteSize: 4,
			Start: now.Add(-time.Hour), Now: func() time.Time { return now }}
		f, err := simulator.NewFleet(o)
		if err != nil {
			t.Fatal(err)
		}
		if cp := f.ModbusRegisters(1)[122]; cp < 2 || cp > 4 {
			continue
		}
		_, refAddrs, _ := modbustest.Site(t, o)
		o.ModbusOf = map[int]simulator.ModbusBehaviour{1: b}
		_, oddAddrs, _ := modbustest.Site(t, o)
		return refAddrs[1], oddAddrs[1]
	}
	t.Fatal("no seed gives a DLM master with a vehicle connected")
	return "", ""
}

// readValues reads a controller and returns its values by key, the
// numbers that say how it was read apart.
func readValues(t *testing.T, cl *Client, addr string) (vals map[string]collector.Value, how map[string]float64) {
	t.Helper()
	st, err := cl.Read(probeCtx(t), dialer, addr, 255)
	if err != nil {
		t.Fatal(err)
	}
	vals, how = values(st), map[string]float64{}
	for _, k := range []string{"modbus_requests", "modbus_pipelined", "modbus_split_reads"} {
		how[k] = vals[k].Numbers[0].Value
		delete(vals, k)
	}
	return vals, how
}

func sameValues(t *testing.T, probe string, got, want map[string]collector.Value) {
	t.Helper()
	if !maps.EqualFunc(got, want, func(a, b collector.Value) bool {
		return a.Field.Value == b.Field.Value && slicesEqual(a.Numbers, b.Numbers) && strings.Join(a.Codes, ";") == strings.Join(b.Codes, ";")
	}) {
		t.Errorf("%s: values differ from the reference controller's:\n got %v\nwant %v", probe, got, want)
	}
}

func slicesEqual(a, b []collector.Reading) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestControllersThatCannot: a controller that drops pipelined requests,
// one that refuses reads across gaps of the map, and one that does both
// give every value of the reference controller on the first probe already
// (the fallback within the probe), and from the second probe on are read
// the way they can be at once, with no more requests than the one-by-one
// plan of before coalescing (17 for this controller: version, 11 base, 3
// DLM, 2 vehicle), one at a time where they drop pipelined ones.
func TestControllersThatCannot(t *testing.T) {
	for _, tt := range []struct {
		name              string
		b                 simulator.ModbusBehaviour
		first, next, most int // requests of the first and the next probes; most at once in the next
		pipelined, split  float64
	}{
		{"pipelining, lenient", simulator.ModbusBehaviour{}, 8, 8, 7, 1, 0},
		{"one at a time", simulator.ModbusBehaviour{OneAtATime: true}, 14, 8, 1, 0, 0},
		// 104-132, 134-227, 610-635, 730-740 refused: 13 parts.
		{"strict", simulator.ModbusBehaviour{Strict: true}, 21, 17, 16, 1, 4},
		// The burst's first read refused, the others dropped: 4 parts, then
		// the other 6 reads one at a time, 3 of them refused (9 parts).
		{"strict, one at a time", simulator.ModbusBehaviour{Strict: true, OneAtATime: true}, 27, 17, 1, 0, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ref, odd := twins(t, tt.b)
			want, _ := readValues(t, &Client{Memory: NewMemory(10, time.Hour, nil)}, ref)
			cl := &Client{Memory: NewMemory(10, time.Hour, nil)}
			addr, rec := record(t, odd)
			got, how := readValues(t, cl, addr)
			sameValues(t, "first probe", got, want)
			first, _, _ := rec.reads()
			if first != tt.first || how["modbus_requests"] != float64(first) || how["modbus_pipelined"] != tt.pipelined || how["modbus_split_reads"] != tt.split {
				t.Errorf("first probe: %d requests, %v; want %d requests, pipelined %v, split %v", first, how, tt.first, tt.pipelined, tt.split)
			}
			rec.mu.Lock()
			rec.most = 0
			rec.mu.Unlock()
			got, how = readValues(t, cl, addr)
			sameValues(t, "second probe", got, want)
			if n, _, most := rec.reads(); n-first != tt.next || most != tt.most || how["modbus_requests"] != float64(n-first) {
				t.Errorf("second probe: %d requests (%v), %d at once; want %d, %d at once", n-first, how["modbus_requests"], most, tt.next, tt.most)
			}
			if learned := tt.pipelined == 0 || tt.split > 0; cl.Memory.Len() != map[bool]int{true: 1}[learned] {
				t.Errorf("memory holds %d targets", cl.Memory.Len())
			}
		})
	}
}

// TestSlowRepliesAreNotLearned: a controller whose replies to a burst pause
// for longer than the exporter waits, but do come, is read one at a time
// for the rest of that probe, and not remembered as one that drops
// pipelined requests: the late replies say it does not.
func TestSlowRepliesAreNotLearned(t *testing.T) {
	slow := modbustest.Serve(t, modbustest.ReplyTo(func(h, p []byte) []byte {
		if h[1] == 3 { // the second read of the burst
			time.Sleep(2 * silenceMargin)
		}
		return modbustest.Frame(h, p)
	}))
	cl := &Client{Memory: NewMemory(10, time.Hour, nil)}
	addr, rec := record(t, slow)
	_, how := readValues(t, cl, addr)
	if how["modbus_pipelined"] != 1 || cl.Memory.Len() != 0 {
		t.Errorf("learned %v, %d targets remembered; want pipelined, none", how, cl.Memory.Len())
	}
	// The version, the burst of 7 (the 5.22 plan), and of the 6 it had not
	// answered when it paused, the 4 that apply (600 and 122 read "5.": no
	// DLM master, no vehicle), again.
	if n, _, _ := rec.reads(); n != 1+7+4 {
		t.Errorf("%d requests, want 12", n)
	}
}

// TestReplyForAnotherRequest: in a burst, a reply whose transaction id was
// never sent is a wrong id, as for a single read.
func TestReplyForAnotherRequest(t *testing.T) {
	odd := modbustest.Serve(t, modbustest.ReplyTo(func(h, p []byte) []byte {
		f := modbustest.Frame(h, p)
		if h[1] == 4 {
			f[1] = 0x40
		}
		return f
	}))
	_, err := (&Client{Memory: NewMemory(10, time.Hour, nil)}).Read(probeCtx(t), dialer, odd, 255)
	if err == nil || !strings.Contains(err.Error(), "unexpected transaction id 0x0040") {
		t.Errorf("error %v", err)
	}
}
