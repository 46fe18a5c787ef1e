#!/bin/sh
# Before removal (deb prerm "remove"; rpm %preun 0 = erase, 1 = upgrade):
# stop the service. An upgrade keeps it running until postinstall restarts it.
set -e
UNIT=bender_cc_exporter.service

case "$1" in
  remove | 0) ;;
  *) exit 0 ;;
esac
if [ -d /run/systemd/system ]; then
  if command -v deb-systemd-invoke >/dev/null 2>&1; then
    deb-systemd-invoke stop "$UNIT" >/dev/null 2>&1 || true # honours policy-rc.d
  else
    systemctl stop "$UNIT" >/dev/null 2>&1 || true
  fi
fi
if [ "$1" = 0 ] && command -v systemctl >/dev/null 2>&1; then
  systemctl --no-reload disable "$UNIT" >/dev/null 2>&1 || true
fi
