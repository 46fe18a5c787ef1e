#!/bin/sh
# After install or upgrade (deb postinst "configure [old-version]"; rpm %post
# 1 = install, 2 = upgrade): create the system user, enable the service and
# start it, as Debian's prometheus-*-exporter packages do. Where systemd is
# not running (containers, chroots, CI) the service is only enabled.
set -e
NAME=bender_cc_exporter
UNIT=$NAME.service

case "$1" in
  configure | 1 | 2) ;;
  *) exit 0 ;;
esac

if ! getent group "$NAME" >/dev/null; then
  groupadd --system "$NAME"
fi
if ! getent passwd "$NAME" >/dev/null; then
  useradd --system --gid "$NAME" --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin --comment "Prometheus bender_cc_exporter" "$NAME"
fi
# Password files beside the config are the user's to read, nobody else's.
chown root:"$NAME" /etc/$NAME
chmod 0750 /etc/$NAME

if command -v deb-systemd-helper >/dev/null 2>&1; then
  # As dh_installsystemd: enable on first install, respect a later "disable".
  deb-systemd-helper unmask "$UNIT" >/dev/null || true
  if deb-systemd-helper --quiet was-enabled "$UNIT"; then
    deb-systemd-helper enable "$UNIT" >/dev/null || true
  else
    deb-systemd-helper update-state "$UNIT" >/dev/null || true
  fi
elif [ "$1" = 1 ] && command -v systemctl >/dev/null 2>&1; then
  systemctl --no-reload enable "$UNIT" >/dev/null 2>&1 || true
fi

# deb-systemd-invoke honours policy-rc.d (an image build or chroot that must
# not start services), as dh_installsystemd's scripts do; rpm has systemctl.
invoke() {
  if command -v deb-systemd-invoke >/dev/null 2>&1; then deb-systemd-invoke "$@"; else systemctl "$@"; fi
}
if [ -d /run/systemd/system ]; then
  systemctl --system daemon-reload >/dev/null || true
  if [ "$1" = configure ] && [ -n "$2" ]; then
    invoke restart "$UNIT" || true # deb upgrade; rpm restarts in %postun
  elif [ "$1" = configure ] || [ "$1" = 1 ]; then
    invoke start "$UNIT" || true
  fi
fi
if ! [ -d /run/systemd/system ]; then
  # A container, WSL without systemd, a chroot: nothing runs the service.
  echo "bender_cc_exporter: systemd is not running here, so the service was NOT started."
  echo "  Run it by hand as its user (or with your init system):"
  echo "    . /etc/default/bender_cc_exporter"
  echo "    runuser -u bender_cc_exporter -- /usr/bin/bender_cc_exporter --config.file=/etc/bender_cc_exporter/config.yml \$ARGS"
elif { [ "$1" = configure ] && [ -z "$2" ]; } || [ "$1" = 1 ]; then
  echo "bender_cc_exporter: listens on localhost:9955 until you change /etc/default/bender_cc_exporter;"
  echo "  list your controllers in probe.allowed_targets of /etc/bender_cc_exporter/config.yml first."
fi
