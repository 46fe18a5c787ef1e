#!/bin/sh
# The builder stage's build command (Dockerfile), also run by
# scripts/docker-build-check.sh: cross-compiles the exporter and the simulator
# for the image's platform from buildx's TARGETOS, TARGETARCH and
# TARGETVARIANT (v6, v7 for arm), on the build platform, without emulation.
# Usage: TARGETOS=linux TARGETARCH=arm TARGETVARIANT=v7 scripts/docker-build.sh OUT_DIR
set -eu
out=${1:?output directory}
export CGO_ENABLED=0 GOOS="${TARGETOS:-linux}" GOARCH="${TARGETARCH:-amd64}"
if [ "$GOARCH" = arm ]; then
  v=${TARGETVARIANT:-v7}
  export GOARM="${v#v}"
fi
pkg=github.com/prometheus/common/version
go build -trimpath -ldflags "-s -w -X $pkg.Version=${VERSION:-dev} -X $pkg.Revision=${REVISION:-unknown} -X $pkg.BuildUser=docker" \
  -o "$out/bender_cc_exporter" .
go build -trimpath -ldflags "-s -w -X $pkg.Version=${VERSION:-dev}" -o "$out/bender-cc-simulator" ./cmd/bender-cc-simulator
