#!/bin/sh
# build-blackbox.sh VERSION DEST: blackbox_exporter VERSION from its module source, for `make bench-peers`.
# (`go install …@vVERSION` fails here on the module's version list; its module source builds.)
set -eu
version=$1
dest=$(realpath -m "$2")
GO=${GO:-go}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Outside any module, so that nothing is added to this repository's go.mod.
dir=$(cd "$tmp" && "$GO" mod download -json "github.com/prometheus/blackbox_exporter@v$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] || { echo "build-blackbox.sh: module github.com/prometheus/blackbox_exporter@v$version not downloaded" >&2; exit 1; }
cp -R "$dir" "$tmp/src"
chmod -R u+w "$tmp/src"
mkdir -p "$(dirname "$dest")"
cd "$tmp/src"
GOFLAGS=-modcacherw CGO_ENABLED=0 "$GO" build -trimpath \
  -ldflags "-X github.com/prometheus/common/version.Version=$version" -o "$dest" .
echo "built $dest"
