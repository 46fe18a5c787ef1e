# bender_cc_exporter — see README.md.
GO        ?= go
# The release tag's version (v1.2.3 → 1.2.3) when HEAD is tagged, else VERSION.
VERSION   := $(shell v=$$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null) && echo $$v | sed 's/^v//' || cat VERSION)
REVISION  := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH    := $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
BUILDDATE := $(shell date -u +%Y%m%d-%H:%M:%S)
PKG       := github.com/prometheus/common/version
LDFLAGS   := -s -w -X $(PKG).Version=$(VERSION) -X $(PKG).Revision=$(REVISION) \
             -X $(PKG).Branch=$(BRANCH) -X $(PKG).BuildUser=$(shell id -un)@make -X $(PKG).BuildDate=$(BUILDDATE)
BUILD     := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := .build/bin/golangci-lint-$(GOLANGCI_LINT_VERSION)
# The newest GoReleaser that builds with the Go of go.mod (v2.17+ needs newer Go or modules the proxy refuses).
GORELEASER_VERSION := v2.16.0
GORELEASER := .build/bin/goreleaser-$(GORELEASER_VERSION)
HELM_VERSION := v3.22.0
# Prometheus 3, built from the module proxy (module v0.316.0 is Prometheus 3.16.0): the e2e and rule
# tests run against it and against the Debian package's 2.42, the oldest version we support.
# remove_all_sd leaves out the cloud service discoveries (static, file and http SD stay, which is
# all the tests use): half the compile time and none of the cloud SDKs downloaded.
PROMETHEUS3_VERSION := 3.16.0
PROMETHEUS3_MODULE  := v0.316.0
PROMETHEUS3 := .build/prometheus-$(PROMETHEUS3_VERSION)
HELM := .build/bin/helm-$(HELM_VERSION)
# Alertmanager and amtool for the delivery e2e and the routing tests (alerts/). v0.32+ do not build
# from the module proxy (their UI assets are not in the module); Debian's prometheus-alertmanager is 0.25.
ALERTMANAGER_VERSION := 0.31.1
ALERTMANAGER := .build/alertmanager-$(ALERTMANAGER_VERSION)
# The Kubernetes version the chart is rendered for (its kubeVersion allows >= 1.25).
KUBE_VERSION := 1.31.0

.PHONY: all build tools fuzz test test-prometheus3 unit lint cross load overload blackout blackout-matrix chaos soak chart-check package-check release-snapshot bench bench-load bench-peers bench-dashboards demo clean

all: build

## build: the exporter and the simulator, with version information
build:
	$(BUILD) -o bender_cc_exporter .
	$(BUILD) -o bender-cc-simulator ./cmd/bender-cc-simulator

## test: everything CI runs — lint, unit, golden, e2e and rules on Prometheus 2 and 3, fuzz, 386/ARM, chart, image build, packages, load, overload, blackout
test: tools
	$(MAKE) --no-print-directory lint
	./scripts/ensure-prometheus.sh
	PATH=$(CURDIR)/$(ALERTMANAGER):$$PATH BENDER_CC_ALERTMANAGER_VERSION=$(ALERTMANAGER_VERSION) $(GO) test -race -count=1 ./...
	$(MAKE) --no-print-directory -j2 --output-sync=target test-prometheus3 cross fuzz chart-check
	./scripts/docker-build-check.sh
	$(MAKE) --no-print-directory -j2 --output-sync=target package-check load
	$(MAKE) --no-print-directory overload
	$(MAKE) --no-print-directory blackout

## fuzz: 30 s of fuzzing the parser, 15 s of the Modbus register decoding
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 30s ./collector
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 15s ./modbus
	$(GO) test -run '^$$' -fuzz '^FuzzReplies$$' -fuzztime 15s ./modbus

## tools: the pinned tools the tests use, built into .build/ once, in parallel (downloads overlap builds)
tools:
	$(MAKE) --no-print-directory -j4 $(GOLANGCI_LINT) $(GORELEASER) $(HELM) $(PROMETHEUS3)/prometheus $(ALERTMANAGER)/alertmanager

## unit: the Go tests only, without installing anything
unit:
	$(GO) test -count=1 ./...

## lint: gofmt, go vet and golangci-lint (.golangci.yml; a pinned version is installed into .build/)
lint: $(GOLANGCI_LINT)
	@fmt=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$fmt" ]; then echo "gofmt needed: $$fmt"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...

$(GOLANGCI_LINT):
	mkdir -p .build/tmp/golangci-lint
	GOBIN=$(CURDIR)/.build/tmp/golangci-lint $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mkdir -p .build/bin && mv .build/tmp/golangci-lint/golangci-lint $@

## test-prometheus3: the end-to-end and rule tests again, against Prometheus 3 (built into .build/ once)
test-prometheus3: $(PROMETHEUS3)/prometheus $(ALERTMANAGER)/alertmanager
	PATH=$(CURDIR)/$(PROMETHEUS3):$(CURDIR)/$(ALERTMANAGER):$$PATH BENDER_CC_PROMETHEUS_VERSION=$(PROMETHEUS3_VERSION) \
	  BENDER_CC_ALERTMANAGER_VERSION=$(ALERTMANAGER_VERSION) \
	  $(GO) test -count=1 ./e2e ./alerts ./probe -run 'TestEndToEnd|TestShardingOverSD|TestSiteLabelFromFiles|TestPromtool|TestGolden|TestAlertDelivery'

$(PROMETHEUS3)/prometheus:
	mkdir -p .build/tmp/prometheus $(PROMETHEUS3)
	GOBIN=$(CURDIR)/.build/tmp/prometheus $(GO) install -tags remove_all_sd -ldflags '-X github.com/prometheus/common/version.Version=$(PROMETHEUS3_VERSION)' \
	  github.com/prometheus/prometheus/cmd/prometheus@$(PROMETHEUS3_MODULE) github.com/prometheus/prometheus/cmd/promtool@$(PROMETHEUS3_MODULE)
	mv .build/tmp/prometheus/promtool $(PROMETHEUS3)/promtool
	mv .build/tmp/prometheus/prometheus $@

$(ALERTMANAGER)/alertmanager:
	mkdir -p .build/tmp/alertmanager $(ALERTMANAGER)
	GOBIN=$(CURDIR)/.build/tmp/alertmanager $(GO) install -ldflags '-X github.com/prometheus/common/version.Version=$(ALERTMANAGER_VERSION)' \
	  github.com/prometheus/alertmanager/cmd/alertmanager@v$(ALERTMANAGER_VERSION) github.com/prometheus/alertmanager/cmd/amtool@v$(ALERTMANAGER_VERSION)
	mv .build/tmp/alertmanager/amtool $(ALERTMANAGER)/amtool
	mv .build/tmp/alertmanager/alertmanager $@

## cross: collector, probe and config tests on 32-bit x86 (natively) and on arm64 and armv7 (qemu-user-static);
## not the network-fault matrix (timed faults of the network, 19 s a platform, nothing in it depends on the
## architecture; the stale-connection guard it relies on is tested in ./config)
CROSS_PKGS := ./collector ./probe ./config
CROSS_SKIP := -skip '^TestNetworkFaults$$'
cross:
	CGO_ENABLED=0 GOARCH=386 $(GO) test -count=1 $(CROSS_SKIP) $(CROSS_PKGS)
	@command -v qemu-aarch64-static >/dev/null && command -v qemu-arm-static >/dev/null || \
	  { echo "qemu-user-static is needed for the ARM tests (apt-get install qemu-user-static)"; exit 1; }
	CGO_ENABLED=0 GOARCH=arm64 $(GO) test -count=1 $(CROSS_SKIP) -exec qemu-aarch64-static $(CROSS_PKGS)
	CGO_ENABLED=0 GOARCH=arm GOARM=7 $(GO) test -count=1 $(CROSS_SKIP) -exec qemu-arm-static $(CROSS_PKGS)

## chart-check: helm lint --strict and helm template (default values, every option on), the manifests checked
## strictly against the Kubernetes and Prometheus Operator API types (charts/validate), the rendered config checked
chart-check: $(HELM) build
	HELM=$(HELM) KUBE_VERSION=$(KUBE_VERSION) GO=$(GO) ./scripts/chart-check.sh

$(HELM):
	mkdir -p .build/tmp/helm
	GOBIN=$(CURDIR)/.build/tmp/helm $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	mkdir -p .build/bin && mv .build/tmp/helm/helm $@

## release-snapshot: every archive and package of a release into dist/, with SHA256SUMS; publishes nothing
release-snapshot: $(GORELEASER)
	$(GORELEASER) check
	$(GORELEASER) release --snapshot --clean
	cd dist && sha256sum -c --quiet SHA256SUMS

## package-check: the Linux part of a snapshot (amd64, arm64, armv7), verified and the amd64 .deb installed, used, removed (root)
package-check: $(GORELEASER)
	RELEASE_LINUX_ONLY=1 $(GORELEASER) release --snapshot --clean
	cd dist && sha256sum -c --quiet SHA256SUMS
	./scripts/package-check.sh dist

$(GORELEASER):
	mkdir -p .build/tmp/goreleaser
	GOBIN=$(CURDIR)/.build/tmp/goreleaser $(GO) install github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION)
	mkdir -p .build/bin && mv .build/tmp/goreleaser/goreleaser $@

## load: 60 s open-loop run (1,000 controllers, 4 % misbehaving, config reloads, some invalid); fails on a lost
## or wrong answer or on growth of RSS, fds or goroutines
LOAD_ARGS := --controllers 1000 --faults 0.04 --controller-latency 20ms
load: build bender-cc-loadtest
	./bender-cc-loadtest $(LOAD_ARGS) --rate 300 --duration 60s --reload-every 10s --simulator=

## overload: 60 s in a 128 MiB memory cgroup (root): 20 s at 500 probes/s, 20 s at 2,000/s (2x what this
## 2-CPU machine sustains) with 20 % of the controllers hanging, 20 s at 500/s; fails on an OOM kill, health or
## /metrics failing, probes past the scrape timeout, a pile-up, or no recovery (docs/performance.md "Overload").
## The exporter runs on CPU 1 with GOMAXPROCS=1, the load generator on CPU 0.
OVERLOAD_ARGS := --rate 500 --hang 0.2 --interval 10s --scrape-timeout 5s --controller-latency 20ms \
                 --cgroup-memory 128MiB --exporter-env GOMAXPROCS=1
PIN := $(shell [ "$$(nproc)" -ge 2 ] 2>/dev/null && echo yes)
OVERLOAD := $(if $(PIN),taskset -c 0 )./bender-cc-loadtest $(OVERLOAD_ARGS) $(if $(PIN),--exporter-cpus 1)
overload: build bender-cc-loadtest
	$(OVERLOAD) --overload-rate 2000 --duration 20s

## blackout: 5,000 controllers scraped every 15 s (10 s timeout, 333 probes/s) by the exporter with its default
## flags in a 128 MiB memory cgroup (root), pinned as for overload; 30 % of them, whole sites of 50, hang for
## 3 intervals after 1, then come back for 2 (about 2 minutes). Fails unless a dark site costs only itself: no
## healthy scrape lost, healthy p99 < 1 s, every dark scrape 200 with up 0 in time, peak memory < 100 MiB, no
## OOM kill, up again from the second interval back (docs/performance.md "Blackout").
BLACKOUT_ARGS := --controllers 5000 --per-host 50 --interval 15s --scrape-timeout 10s --controller-latency 20ms \
                 --cgroup-memory 128MiB --exporter-env GOMAXPROCS=1
BLACKOUT := $(if $(PIN),taskset -c 0 )./bender-cc-loadtest $(BLACKOUT_ARGS) $(if $(PIN),--exporter-cpus 1)
blackout: build bender-cc-loadtest
	$(BLACKOUT) --blackout 0.3 --dark-mode hang --simulator=

## blackout-matrix: the blackout at 30 % and 60 % dark, as hang and as no-syn-ack (a connect never completes),
## with the simulator's own cost; every run, then fails if any failed (about 9 minutes)
blackout-matrix: build bender-cc-loadtest
	@failed=""; for share in 0.3 0.6; do for mode in hang no-syn-ack; do \
	  echo "== blackout $$share $$mode"; \
	  $(BLACKOUT) --blackout $$share --dark-mode $$mode || failed="$$failed $$share/$$mode"; \
	done; done; \
	if [ -n "$$failed" ]; then echo "blackout FAILED:$$failed"; exit 1; fi

## chaos: the long versions (about 21 minutes): the overload runs at 2x and 5x with 60 s phases, the abuse of
## the exporter's port for 120 s (docs/security.md), the network-fault matrix five times over, the blackout matrix
## (docs/performance.md)
chaos: build bender-cc-loadtest
	$(OVERLOAD) --overload-rate 2000 --duration 60s
	$(OVERLOAD) --overload-rate 5000 --duration 60s
	BENDER_CC_ABUSE_SECONDS=120 $(GO) test -count=1 -timeout 20m -v -run '^TestAbuseOfExporterPort$$' ./e2e
	$(GO) test -count=5 -run '^TestNetworkFaults$$' ./probe
	$(MAKE) --no-print-directory blackout-matrix

## soak: the same for an hour at 500 probes/s, then the floor (docs/performance.md)
soak: build bender-cc-loadtest
	./bender-cc-loadtest $(LOAD_ARGS) --rate 500 --duration 1h --reload-every 1m

.PHONY: bender-cc-loadtest
bender-cc-loadtest:
	$(GO) build -o bender-cc-loadtest ./cmd/bender-cc-loadtest

## bench: the Go benchmarks, with allocations
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./collector ./probe

## bench-load: the load run of docs/performance.md (about two minutes)
bench-load: build bender-cc-loadtest
	./bender-cc-loadtest --exporter ./bender_cc_exporter --rounds 5 --duration 10s
	./bender-cc-loadtest --exporter ./bender_cc_exporter --rounds 3 --duration 10s --targets 0 --controller-latency 5ms --concurrency 64

## bench-peers: this exporter against blackbox_exporter (built from its module source into .build/ once) on the same
## simulated fleet, open loop at 200 probes/s twice each and at saturation, interleaved; then Modbus against its own
## saturation (docs/performance.md "Against blackbox_exporter"; about 9 minutes; run it alone on the machine).
## BASELINE=<another build of this exporter> measures it too, in the same rounds: before and after a change in one run.
BLACKBOX_VERSION := 0.28.0
BLACKBOX ?= .build/blackbox_exporter-$(BLACKBOX_VERSION)/blackbox_exporter
BENCH_PEERS_ARGS := --controllers 1000 --per-host 100 --rate 200 --controller-latency 20ms
bench-peers: build bender-cc-loadtest $(BLACKBOX)
	./bender-cc-loadtest --peers --blackbox $(BLACKBOX) $(if $(BASELINE),--peers-baseline $(BASELINE)) $(BENCH_PEERS_ARGS)

$(BLACKBOX):
	GO=$(GO) ./scripts/build-blackbox.sh $(BLACKBOX_VERSION) $@

## bench-dashboards: the fleet dashboard's query times and the rules' evaluation times on a day of 5,000 controllers (docs/performance.md; minutes)
BENCH_DASHBOARDS_ARGS := -controllers 5000 -rules ../../alerts/bender_cc.rules.yml -groups bender_cc
bench-dashboards:
	cd dashboards/fleetbench && $(GO) run . $(BENCH_DASHBOARDS_ARGS)

## demo: simulator + exporter on loopback; Ctrl-C stops both
demo: build
	./scripts/demo.sh

clean:
	rm -f bender_cc_exporter bender-cc-simulator bender-cc-loadtest
	rm -rf dist
