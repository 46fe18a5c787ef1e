# bender_cc_exporter — see README.md.
GO        ?= go
VERSION   := $(shell cat VERSION)
REVISION  := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH    := $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
BUILDDATE := $(shell date -u +%Y%m%d-%H:%M:%S)
PKG       := github.com/prometheus/common/version
LDFLAGS   := -s -w -X $(PKG).Version=$(VERSION) -X $(PKG).Revision=$(REVISION) \
             -X $(PKG).Branch=$(BRANCH) -X $(PKG).BuildUser=$(USER)@make -X $(PKG).BuildDate=$(BUILDDATE)
BUILD     := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := .build/bin/golangci-lint-$(GOLANGCI_LINT_VERSION)

.PHONY: all build test unit lint bench bench-load demo clean

all: build

## build: the exporter and the simulator, with version information
build:
	$(BUILD) -o bender_cc_exporter .
	$(BUILD) -o bender-cc-simulator ./cmd/bender-cc-simulator

## test: everything CI runs — format, vet, unit, golden, end-to-end (real Prometheus), rules, fuzz
test: lint
	./scripts/ensure-prometheus.sh
	$(GO) test -race -count=1 ./...
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 30s ./collector
	./scripts/docker-build-check.sh

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
	mkdir -p .build/tmp
	GOBIN=$(CURDIR)/.build/tmp $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mkdir -p .build/bin && mv .build/tmp/golangci-lint $@

## bench: the Go benchmarks, with allocations
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./collector ./probe

## bench-load: the load run of docs/performance.md (about two minutes)
bench-load: build
	$(GO) build -o bender-cc-loadtest ./cmd/bender-cc-loadtest
	./bender-cc-loadtest --exporter ./bender_cc_exporter --rounds 5 --duration 10s
	./bender-cc-loadtest --exporter ./bender_cc_exporter --rounds 3 --duration 10s --targets 0 --controller-latency 5ms --concurrency 64

## demo: simulator + exporter on loopback; Ctrl-C stops both
demo: build
	./scripts/demo.sh

clean:
	rm -f bender_cc_exporter bender-cc-simulator bender-cc-loadtest
