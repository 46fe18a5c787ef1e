// Command bender-cc-simulator serves a fleet of simulated Bender/ebee charge
// controllers on one port: controller i answers at /cc/<i>/rest/full_state.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/bender-cc/bender_cc_exporter/internal/loopback"
	"github.com/bender-cc/bender_cc_exporter/simulator"
)

func main() {
	app := kingpin.New("bender-cc-simulator", "Simulated Bender/ebee charge controllers (Legacy REST API).")
	var (
		listen      = app.Flag("listen", "Address to listen on.").Default("127.0.0.1:8081").String()
		controllers = app.Flag("controllers", "Number of controllers; controller i answers at /cc/<i>/rest/full_state.").Default("10").Int()
		seed        = app.Flag("seed", "Seed of the fleet's lives; the same seed gives the same fleet.").Default("1").Uint64()
		firmware    = app.Flag("firmware", "Firmware of the fleet: 5.22, 5.33 or mixed (a third on 5.22).").Default("mixed").Enum("5.22", "5.33", "mixed")
		username    = app.Flag("username", "Require this Username header (and the password).").Envar("BENDER_CC_SIM_USERNAME").String()
		password    = app.Flag("password", "Require this Password header. Prefer the environment variable.").Envar("BENDER_CC_SIM_PASSWORD").String()
		modbusAddr  = app.Flag("modbus.listen", "Serve Modbus TCP too: controller i on this port + i-1 (port 0: a free port each, listed on the index page).").String()
		dlmSite     = app.Flag("dlm-site-size", "Group the controllers into DLM sites of this many: the first of each is the master, the rest its slaves (Modbus registers 600-635).").Int()
		firmwareOf  = app.Flag("controller-firmware", "Firmware of one controller: <controller>=<5.12|5.22|5.33> (5.12 serves the 5.12 Modbus register set). Repeatable.").Strings()
		behaviours  = app.Flag("modbus-behaviour", "How the Modbus TCP servers behave: [<controller>=]<behaviour>, behaviour a comma-separated list of strict (exception 02 for a read that touches an address the register map does not document; otherwise such an address reads 0), one-at-a-time (drops requests that arrive while it answers one: no pipelining), latency:<duration> (the round trip to the controller: each reply leaves this long after its request came). Without <controller>=, for every controller. Repeatable.").Strings()
		faults      = app.Flag("fault", "Inject a fault: <controller>=<mode>, mode one of "+strings.Join(simulator.FaultModes(), ", ")+" (rcmb to rcd: device faults, which the controller reports in its answer; modbus_…: faults of its Modbus server; the others: of its REST server). Repeatable; at run time POST /control/cc/<i>/fault?mode=… sets one, DELETE /control/cc/<i>/fault clears it.").Strings()
	)
	app.HelpFlag.Short('h')
	kingpin.MustParse(app.Parse(os.Args[1:]))
	logger := log.With(log.NewLogfmtLogger(log.NewSyncWriter(os.Stderr)), "ts", log.DefaultTimestampUTC)

	fwOf := map[int]string{}
	for _, f := range *firmwareOf {
		idStr, fw, _ := strings.Cut(f, "=")
		id, err := strconv.Atoi(idStr)
		if err != nil {
			_ = level.Error(logger).Log("msg", "Bad --controller-firmware", "value", f)
			os.Exit(2)
		}
		fwOf[id] = fw
	}
	all, mbOf, err := parseBehaviours(*behaviours)
	if err != nil {
		_ = level.Error(logger).Log("msg", "Bad --modbus-behaviour", "err", err)
		os.Exit(2)
	}
	fleet, err := simulator.NewFleet(simulator.Options{
		Controllers: *controllers, Seed: *seed, Firmware: *firmware, Username: *username, Password: *password,
		FirmwareOf: fwOf, DLMSiteSize: *dlmSite, Modbus: all, ModbusOf: mbOf,
	})
	if err != nil {
		_ = level.Error(logger).Log("err", err)
		os.Exit(2)
	}
	for _, f := range *faults {
		id, spec, err := parseFaultFlag(f, fleet.Len())
		if err != nil {
			_ = level.Error(logger).Log("msg", "Bad --fault", "err", err)
			os.Exit(2)
		}
		fleet.SetFault(id, spec)
	}

	if *modbusAddr != "" {
		if err := serveModbus(fleet, *modbusAddr, logger); err != nil {
			_ = level.Error(logger).Log("msg", "Modbus TCP", "err", err)
			os.Exit(1)
		}
	}
	srv := &http.Server{Handler: fleet, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan os.Signal, 1)
	signal.Notify(done, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-done
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = srv.Close() // hanging fault handlers do not end by themselves
	}()
	// Listen first, so that the URL logged has the real port (--listen=127.0.0.1:0 picks one).
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		_ = level.Error(logger).Log("err", err)
		os.Exit(1)
	}
	_ = level.Info(logger).Log("msg", "Simulating charge controllers", "controllers", fleet.Len(), "firmware", *firmware,
		"seed", *seed, "url", fmt.Sprintf("http://%s/cc/1/rest/full_state", l.Addr()), "credentials", *username != "")
	if err := srv.Serve(l); err != nil && err != http.ErrServerClosed {
		_ = level.Error(logger).Log("err", err)
		os.Exit(1)
	}
}

// parseFaultFlag reads "<controller>=<mode>".
func parseFaultFlag(s string, n int) (int, *simulator.FaultSpec, error) {
	idStr, mode, ok := strings.Cut(s, "=")
	id, err := strconv.Atoi(idStr)
	if !ok || err != nil || id < 1 || id > n {
		return 0, nil, fmt.Errorf("%q: want <controller 1..%d>=<mode>", s, n)
	}
	spec, err := simulator.ParseFault(mode)
	return id, spec, err
}

// parseBehaviours reads the --modbus-behaviour flags: the fleet's, and
// each controller's own.
func parseBehaviours(flags []string) (simulator.ModbusBehaviour, map[int]simulator.ModbusBehaviour, error) {
	var all simulator.ModbusBehaviour
	of := map[int]simulator.ModbusBehaviour{}
	for _, f := range flags {
		idStr, spec, ok := strings.Cut(f, "=")
		if !ok {
			idStr, spec = "", f
		}
		b, err := simulator.ParseModbusBehaviour(spec)
		if err != nil {
			return all, nil, fmt.Errorf("%q: %w", f, err)
		}
		if idStr == "" {
			all = b
			continue
		}
		id, err := strconv.Atoi(idStr)
		if err != nil || id < 1 {
			return all, nil, fmt.Errorf("%q: want [<controller>=]<behaviour>", f)
		}
		of[id] = b
	}
	return all, of, nil
}

// serveModbus starts every controller's Modbus TCP server: controller i on
// base port + i-1, or on a free port each when the base port is 0.
func serveModbus(fleet *simulator.Fleet, base string, logger log.Logger) error {
	host, portStr, err := net.SplitHostPort(base)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return err
	}
	for id := 1; id <= fleet.Len(); id++ {
		addr := net.JoinHostPort(host, strconv.Itoa(port+id-1))
		if port == 0 {
			if addr, err = loopback.FreeAddr(); err != nil {
				return err
			}
		}
		if _, err := fleet.ServeModbus(id, addr); err != nil {
			return fmt.Errorf("controller %d on %s: %w", id, addr, err)
		}
	}
	_ = level.Info(logger).Log("msg", "Serving Modbus TCP", "controllers", fleet.Len(), "first", fleet.ModbusAddr(1))
	return nil
}
