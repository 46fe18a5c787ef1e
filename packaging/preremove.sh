#!/bin/sh
# Before removal (deb prerm "remove"; rpm %preun 0 = erase, 1 = upgrade):
# stop the service. An upgrade keeps it running until postinstall restarts it.
set -e
UNIT=bender_cc_exporter.service

case "$1" in
  remove | 0) ;;
  *) exit 0 ;;
esac
# As in postinstall: deb-systemd-invoke honours policy-rc.d; rpm has systemctl.
invoke() {
  if command -v deb-systemd-invoke >/dev/null 2>&1; then deb-systemd-invoke "$@"; else systemctl "$@"; fi
}
if [ -d /run/systemd/system ]; then
  invoke stop "$UNIT" >/dev/null 2>&1 || true
fi
if [ "$1" = 0 ] && command -v systemctl >/dev/null 2>&1; then
  systemctl --no-reload disable "$UNIT" >/dev/null 2>&1 || true
fi
