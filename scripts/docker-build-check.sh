#!/usr/bin/env bash
# No Docker engine runs in CI, so this does what `docker buildx build
# --platform linux/amd64,linux/arm64,linux/arm/v7` does in the builder stage:
# in a copy of the build context (minus what .dockerignore leaves out), `go mod
# download`, then the stage's own build command (scripts/docker-build.sh) once
# per platform with buildx's TARGET* variables. It checks each binary's
# architecture, runs the amd64 one, and the ARM ones under qemu-user-static
# when it is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
ctx=$(mktemp -d)
out=$(mktemp -d)
trap 'rm -rf "$ctx" "$out"' EXIT
git ls-files -z | grep -zvE '^(\.git|\.ci|charts)/' | xargs -0 cp -P --parents -t "$ctx"
cd "$ctx"
# Every file the Dockerfile copies must be in the context.
for f in go.mod go.sum config.yml.example LICENSE NOTICE scripts/docker-build.sh; do
  [ -f "$f" ] || { echo "missing $f in the build context"; exit 1; }
done
grep -q '^RUN ./scripts/docker-build.sh /out$' Dockerfile || { echo "Dockerfile no longer builds with scripts/docker-build.sh"; exit 1; }
go mod download

# platform  TARGETOS TARGETARCH TARGETVARIANT  emulator  readelf machine (last: it has spaces)
while read -r platform os arch variant emulator machine; do
  [ "$variant" = - ] && variant=""
  TARGETOS=$os TARGETARCH=$arch TARGETVARIANT=$variant VERSION=dev REVISION=unknown \
    ./scripts/docker-build.sh "$out/$arch"
  for bin in bender_cc_exporter bender-cc-simulator; do
    got=$(readelf -h "$out/$arch/$bin" | awk -F: '/Machine:/ {gsub(/^ +/, "", $2); print $2}')
    [ "$got" = "$machine" ] || { echo "$platform $bin: built for '$got', want '$machine'"; exit 1; }
  done
  if [ "$arch" = arm ]; then
    grep -qE '\sGOARM=7$' <<<"$(go version -m "$out/$arch/bender_cc_exporter")" || { echo "$platform: not built for ARMv7"; exit 1; }
  fi
  run=("$out/$arch/bender_cc_exporter")
  if [ "$emulator" != - ]; then
    if command -v "$emulator" >/dev/null; then run=("$emulator" "${run[@]}"); else run=(); fi
  fi
  if [ ${#run[@]} -gt 0 ]; then
    "${run[@]}" --version 2>&1 | head -1
    "${run[@]}" --config.file=config.yml.example --config.check --no-config.check-secrets 2>&1 | tail -1
  fi
  echo "docker build check: $platform ok"
done <<'PLATFORMS'
linux/amd64  linux amd64 -  -                   Advanced Micro Devices X86-64
linux/arm64  linux arm64 -  qemu-aarch64-static AArch64
linux/arm/v7 linux arm   v7 qemu-arm-static     ARM
PLATFORMS
