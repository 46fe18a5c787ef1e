#!/usr/bin/env bash
# Proves the packages of a snapshot (make package-check builds it into dist/):
#   - the .deb and .rpm of amd64, arm64 and armv7 exist, for the right
#     architecture, and the .rpm holds the same files, modes and conffiles as
#     the .deb;
#   - the amd64 .deb installs with dpkg -i; --version prints the snapshot's
#     version; --config.check passes on the installed config as the package's
#     user; systemd-analyze verifies the installed unit; the installed binary,
#     run as that user with the installed config and /etc/default ARGS,
#     probes a simulated controller with bender_cc_up 1 and warns that /probe
#     is open; installing it again (an upgrade) keeps changed conffiles;
#     dpkg -r keeps the config, dpkg -P removes it.
# Needs root (dpkg -i) on a Debian-like machine. It refuses to run when the
# package is already installed, and leaves the machine as it found it: the
# package purged, and the user and group it created deleted.
# Usage: scripts/package-check.sh DIST_DIR
set -euo pipefail
dist=$(cd "${1:?usage: $0 DIST_DIR}" && pwd)
PKG=bender-cc-exporter
NAME=bender_cc_exporter
UNIT=/usr/lib/systemd/system/$NAME.service

if [ "$(id -u)" != 0 ]; then
  if sudo -n true 2>/dev/null; then exec sudo -n "$0" "$@"; fi
  echo "package-check: needs root to install the .deb (run as root or with password-less sudo)" >&2
  exit 1
fi
for tool in dpkg dpkg-deb rpm systemd-analyze runuser curl; do
  command -v "$tool" >/dev/null || { echo "package-check: $tool is missing (apt-get install rpm systemd curl)" >&2; exit 1; }
done
if dpkg-query -W -f '${Status}' "$PKG" 2>/dev/null | grep -qv 'not-installed'; then
  echo "package-check: $PKG is installed on this machine; not touching it" >&2
  exit 1
fi

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }

had_user=no had_group=no
getent passwd "$NAME" >/dev/null && had_user=yes
getent group "$NAME" >/dev/null && had_group=yes
work=$(mktemp -d)
pids=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if dpkg-query -W -f '${Status}' "$PKG" 2>/dev/null | grep -qv 'not-installed'; then
    dpkg -P "$PKG" >/dev/null 2>&1 || true
  fi
  if [ "$had_user" = no ] && getent passwd "$NAME" >/dev/null; then userdel "$NAME" || true; fi
  if [ "$had_group" = no ] && getent group "$NAME" >/dev/null; then groupdel "$NAME" || true; fi
  if [ "$rc" != 0 ]; then
    for f in "$work"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT INT TERM

# The version GoReleaser built: in metadata.json, e.g. "version":"0.1.0-snapshot.1a2b3c4".
version=$(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' "$dist/metadata.json")
[ -n "$version" ] || fail "no version in $dist/metadata.json"
echo ">> packages of $version"

# --- every Linux package is there, for its architecture -----------------------
for arch in amd64:x86_64:x86-64 arm64:aarch64:AArch64 armhf:armv7hl:ARM; do
  IFS=: read -r debarch rpmarch machine <<<"$arch"
  deb=$(ls "$dist"/${PKG}_*_"$debarch".deb 2>/dev/null) || fail "no .deb for $debarch"
  rpmf=$(ls "$dist"/${PKG}-*."$rpmarch".rpm 2>/dev/null) || fail "no .rpm for $rpmarch"
  [ "$(dpkg-deb -f "$deb" Architecture)" = "$debarch" ] || fail "$deb: wrong Architecture"
  [ "$(rpm -qp --qf '%{ARCH}' "$rpmf" 2>/dev/null)" = "$rpmarch" ] || fail "$rpmf: wrong arch"
  dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/bin/$NAME >"$work/bin"
  grep -qi "Machine: *.*$machine" <<<"$(readelf -h "$work/bin")" || fail "$deb: binary is not $machine"

  # The same files with the same modes, and the same conffiles, in both formats.
  # The license is the one difference: Debian's copyright file, rpm's %license.
  dpkg-deb -c "$deb" | awk '$1 !~ /^d/ || $6 == "./etc/'$NAME'/" {p=$6; sub(/^\./, "", p); sub(/\/$/, "", p); print substr($1, 2), p}' |
    sed "s|/usr/share/doc/$PKG/copyright$|(license)|" | sort >"$work/deb.files"
  rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpmf" 2>/dev/null |
    awk '$1 !~ /^d/ || $2 == "/etc/'$NAME'" {print substr($1, 2), $2}' |
    sed "s|/usr/share/licenses/$PKG/LICENSE$|(license)|" | sort >"$work/rpm.files"
  grep -q ' (license)$' "$work/deb.files" || fail "$deb: no /usr/share/doc/$PKG/copyright"
  grep -qx "/usr/share/licenses/$PKG/LICENSE" <<<"$(rpm -qLp "$rpmf" 2>/dev/null)" || fail "$rpmf: LICENSE is not its %license"
  diff -u "$work/deb.files" "$work/rpm.files" >&2 || fail "$debarch: the .rpm's files differ from the .deb's"
  dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | sort >"$work/deb.conf"
  rpm -qcp "$rpmf" 2>/dev/null | sort >"$work/rpm.conf"
  diff -u "$work/deb.conf" "$work/rpm.conf" >&2 || fail "$debarch: conffiles differ"
  # Not "rpm … | grep -q": grep stops at the match, rpm gets SIGPIPE, pipefail fails the check.
  grep -q 'useradd --system' <<<"$(rpm -qp --scripts "$rpmf" 2>/dev/null)" || fail "$rpmf: no user-creating %post"
  ok "$debarch: $(basename "$deb") and $(basename "$rpmf"), $(wc -l <"$work/deb.files") files, conffiles: $(tr '\n' ' ' <"$work/deb.conf")"
done

# --- install the amd64 .deb -----------------------------------------------------
deb=$(ls "$dist"/${PKG}_*_amd64.deb)
dpkg -i "$deb" >"$work/dpkg-i.log" 2>&1 || fail "dpkg -i $deb"
ok "dpkg -i: $(grep -c . "$work/dpkg-i.log") lines of output, exit 0"
if ! [ -d /run/systemd/system ]; then
  # Here (a container) nothing starts the service: the postinst must say so, and how to run it.
  grep -qF "systemd is not running here, so the service was NOT started" "$work/dpkg-i.log" &&
    grep -qF "runuser -u $NAME -- /usr/bin/$NAME --config.file=/etc/$NAME/config.yml \$ARGS" "$work/dpkg-i.log" ||
    { cat "$work/dpkg-i.log" >&2; fail "without systemd, dpkg -i does not say that the service did not start and how to run it"; }
  ok "without systemd, dpkg -i says the service did not start and how to run it by hand"
fi
getent passwd "$NAME" | grep -q ':/usr/sbin/nologin$' || fail "no system user $NAME with nologin shell"
[ "$(stat -c '%U:%G %a' /etc/$NAME)" = "root:$NAME 750" ] || fail "/etc/$NAME is $(stat -c '%U:%G %a' /etc/$NAME)"
[ -L /etc/systemd/system/multi-user.target.wants/$NAME.service ] || fail "the service was not enabled"
ok "user $NAME, /etc/$NAME root:$NAME 0750, service enabled"

out=$(/usr/bin/$NAME --version 2>&1)
grep -q "version $version " <<<"$out" || fail "--version prints: $out"
ok "--version: $(head -1 <<<"$out")"

runuser -u "$NAME" -- /usr/bin/$NAME --config.file=/etc/$NAME/config.yml --config.check >"$work/check.log" 2>&1 ||
  fail "--config.check on the installed config"
ok "--config.check as $NAME"

systemd-analyze verify "$UNIT" >"$work/verify.log" 2>&1 || fail "systemd-analyze verify $UNIT"
ok "systemd-analyze verify"
# Exposure score of the hardening (0 = fully locked down, 10 = none): keep it low.
systemd-analyze security --offline=true --threshold=20 "$UNIT" >"$work/security.log" 2>&1 ||
  fail "systemd-analyze security: exposure above 2.0"
ok "systemd-analyze security: $(grep -o 'Overall exposure level.*' "$work/security.log")"

# --- run it as the service would, probe a simulated controller ----------------
# The simulator takes a port of its own (:0) and logs its URL: no port it could lose to another process.
"$dist"/simulator_linux_amd64_v1/bender-cc-simulator --listen=127.0.0.1:0 --controllers=1 >"$work/simulator.log" 2>&1 &
pids+=($!)
sim=
for _ in $(seq 100); do
  sim=$(sed -n 's|.* url=\(http://[^ ]*\)/cc/1/rest/full_state.*|\1|p' "$work/simulator.log")
  [ -n "$sim" ] && break
  sleep 0.1
done
[ -n "$sim" ] || fail "the simulator logged no URL"
# shellcheck disable=SC1091
ARGS=$(. /etc/default/$NAME && echo "$ARGS")
listen=${ARGS#*--web.listen-address=}
listen=${listen%% *}
[ "$listen" = localhost:9955 ] || fail "packaged ARGS do not listen on localhost:9955: $ARGS"
if curl -fs -o /dev/null "http://$listen/" 2>/dev/null; then fail "something already listens on $listen"; fi
# shellcheck disable=SC2086 # ARGS is a list of flags, as in the unit
runuser -u "$NAME" -- /usr/bin/$NAME --config.file=/etc/$NAME/config.yml $ARGS >"$work/exporter.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -fs -o /dev/null "http://$listen/-/ready" && curl -fs -o /dev/null "$sim/" && break
  sleep 0.1
done
metrics=$(curl -fsS "http://$listen/probe?target=$sim/cc/1") || fail "/probe"
grep -qx 'bender_cc_up 1' <<<"$metrics" || fail "bender_cc_up is not 1: $(grep '^bender_cc_up' <<<"$metrics")"
[ "$(ps -o user= -p "$(pgrep -f "^/usr/bin/$NAME --config.file")")" = "$NAME" ] || fail "the exporter does not run as $NAME"
grep -q 'probe.allowed_targets is not set' "$work/exporter.log" || fail "no warning about the open /probe"
ok "installed exporter as $NAME on $listen: bender_cc_up 1, $(grep -c '^bender_cc_' <<<"$metrics") series, open-/probe warning logged"
for p in "${pids[@]}"; do kill "$p"; done
wait 2>/dev/null || true
pids=()

# --- an upgrade (here: the same package again) keeps a changed configuration -----
echo "# changed by package-check" >>/etc/$NAME/config.yml
sed -i 's/^ARGS=.*/ARGS="--web.listen-address=localhost:9955 --log.level=debug"/' /etc/default/$NAME
dpkg -i "$deb" >"$work/dpkg-upgrade.log" 2>&1 || fail "dpkg -i over the installed package"
grep -q '^# changed by package-check$' /etc/$NAME/config.yml && grep -q -- '--log.level=debug' /etc/default/$NAME ||
  fail "the upgrade replaced a changed conffile"
[ -L /etc/systemd/system/multi-user.target.wants/$NAME.service ] || fail "the upgrade disabled the service"
ok "upgrade: changed config.yml and /etc/default kept, service still enabled"

# --- remove keeps the configuration, purge deletes it -------------------------
dpkg -r "$PKG" >"$work/dpkg-r.log" 2>&1 || fail "dpkg -r"
[ ! -e /usr/bin/$NAME ] && [ ! -e "$UNIT" ] || fail "dpkg -r left the binary or the unit"
[ -f /etc/$NAME/config.yml ] && [ -f /etc/default/$NAME ] || fail "dpkg -r removed the configuration"
ok "dpkg -r: binary and unit gone, /etc/$NAME/config.yml and /etc/default/$NAME kept"
dpkg -P "$PKG" >"$work/dpkg-p.log" 2>&1 || fail "dpkg -P"
[ ! -e /etc/$NAME ] && [ ! -e /etc/default/$NAME ] || fail "dpkg -P left configuration behind"
[ ! -e /etc/systemd/system/multi-user.target.wants/$NAME.service ] && [ ! -e /etc/systemd/system/$NAME.service ] ||
  fail "dpkg -P left the service enabled or masked"
ok "dpkg -P: configuration, enablement and mask gone"
echo ">> package-check passed"
