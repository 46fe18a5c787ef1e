#!/bin/sh
# After removal (deb postrm "remove" or "purge"; rpm %postun 0 = erase,
# 1 = upgrade). dpkg itself keeps the conffiles on remove and deletes them on
# purge; the system user stays, as in every Debian package (files it owned
# may still exist).
set -e
NAME=bender_cc_exporter
UNIT=$NAME.service

if [ -d /run/systemd/system ]; then
  systemctl --system daemon-reload >/dev/null || true
fi
case "$1" in
  remove)
    if command -v deb-systemd-helper >/dev/null 2>&1; then
      deb-systemd-helper mask "$UNIT" >/dev/null || true
    fi
    ;;
  purge)
    if command -v deb-systemd-helper >/dev/null 2>&1; then
      deb-systemd-helper purge "$UNIT" >/dev/null || true
      deb-systemd-helper unmask "$UNIT" >/dev/null || true
    fi
    if [ -d /etc/$NAME ] && ! rmdir /etc/$NAME 2>/dev/null; then
      echo "kept /etc/$NAME: it holds files the package did not install (password files?)"
    fi
    ;;
  1)
    if [ -d /run/systemd/system ]; then
      systemctl try-restart "$UNIT" >/dev/null 2>&1 || true # rpm upgrade
    fi
    ;;
esac
