package modbus

import (
	"context"
	"io"
	"log"
	"testing"
	"time"

	mb "github.com/simonvetter/modbus"

	"github.com/bender-cc/bender_cc_exporter/internal/modbustest"
	"github.com/bender-cc/bender_cc_exporter/simulator"
)

// BenchmarkRead is one probe's reads with the package's client (the version,
// then the coalesced plan in one burst); BenchmarkLibraryDirect the blocks
// of the one-by-one plan with github.com/simonvetter/modbus dialling the
// controller itself, one request at a time (the exporter's reads before
// its own client, without the relay they needed), for comparison.
func BenchmarkRead(b *testing.B) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	_, addrs, _ := benchSite(b, now)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Read(b.Context(), dialer, addrs[2], 255); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLibraryDirect(b *testing.B) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	_, addrs, _ := benchSite(b, now)
	st, err := Read(b.Context(), dialer, addrs[2], 255)
	if err != nil {
		b.Fatal(err)
	}
	set := Set522
	if values(st)["modbus_register_set"].Field.Value == "5.12" {
		set = Set512
	}
	var blocks []Block
	for _, g := range []Group{Base, Optional} {
		blocks = append(blocks, Plan(set, g)...)
	}
	b.ReportAllocs()
	for b.Loop() {
		c, err := mb.NewClient(&mb.ClientConfiguration{URL: "tcp://" + addrs[2], Timeout: time.Second, Logger: log.New(io.Discard, "", 0)})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Open(); err != nil {
			b.Fatal(err)
		}
		_ = c.SetUnitId(255)
		im := &Image{}
		for _, bl := range blocks {
			w, err := c.ReadRegisters(bl.Addr, bl.Count, mb.HOLDING_REGISTER)
			if err == nil {
				im.Add(bl.Addr, w)
			}
		}
		Decode(set, im)
		_ = c.Close()
	}
}

func benchSite(b *testing.B, now time.Time) (*simulator.Fleet, []string, []*simulator.ModbusServer) {
	return modbustest.SiteDirect(b, simulator.Options{Controllers: 4, Seed: 7, Firmware: "5.33", DLMSiteSize: 4,
		Start: now.Add(-time.Hour), Now: func() time.Time { return now }})
}

// BenchmarkFirstProbe is the first probe of a controller whose Modbus
// server drops pipelined requests, or refuses reads across gaps, a round
// trip of 300 ms away (the simulator's latency): the probe that finds it
// out and still reads everything (each iteration with a memory of its
// own), and, for comparison, the next one. Run with -benchtime=3x.
func BenchmarkFirstProbe(b *testing.B) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		b    simulator.ModbusBehaviour
	}{{"pipelining", simulator.ModbusBehaviour{}}, {"one-at-a-time", simulator.ModbusBehaviour{OneAtATime: true}}, {"strict", simulator.ModbusBehaviour{Strict: true}}} {
		tt.b.Latency = 300 * time.Millisecond
		_, addrs, _ := modbustest.Site(b, simulator.Options{Controllers: 4, Seed: 7, Firmware: "5.33", DLMSiteSize: 4,
			Start: now.Add(-time.Hour), Now: func() time.Time { return now }, Modbus: tt.b})
		for _, next := range []bool{false, true} {
			b.Run(tt.name+map[bool]string{false: "/first", true: "/next"}[next], func(b *testing.B) {
				cl := &Client{Memory: NewMemory(10, time.Hour, nil)}
				for b.Loop() {
					if !next {
						cl = &Client{Memory: NewMemory(10, time.Hour, nil)}
					} else if cl.Memory.Len() == 0 && tt.name != "pipelining" {
						b.StopTimer()
						_, _ = cl.Read(b.Context(), dialer, addrs[1], 255)
						b.StartTimer()
					}
					ctx, cancel := context.WithTimeout(b.Context(), 10*time.Second)
					st, err := cl.Read(ctx, dialer, addrs[1], 255)
					cancel()
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(values(st)["modbus_requests"].Numbers[0].Value, "requests/op")
				}
			})
		}
	}
}
