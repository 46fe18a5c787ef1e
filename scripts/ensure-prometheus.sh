#!/usr/bin/env bash
# Makes sure the real Prometheus server and promtool are on PATH: the
# end-to-end and rule tests run against them. Installs Debian's package when
# they are missing and we may (root, or password-less sudo).
set -euo pipefail
if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  if sudo -n true 2>/dev/null; then sudo="sudo -n"; fi
fi
if command -v apt-get >/dev/null && { [ "$(id -u)" = 0 ] || [ -n "$sudo" ]; }; then
  echo ">> installing prometheus (server and promtool) with apt-get" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq prometheus >/dev/null
  # The package starts a service we do not need; the tests run their own.
  $sudo systemctl stop prometheus 2>/dev/null || true
  exit 0
fi
cat >&2 <<'MSG'
!!
!! prometheus and promtool are not on PATH and cannot be installed here.
!! The end-to-end and alert-rule tests will be SKIPPED.
!! Install them (Debian/Ubuntu: apt-get install prometheus) or put both
!! binaries from a Prometheus release on PATH, then run the tests again.
!!
MSG
