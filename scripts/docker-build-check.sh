#!/usr/bin/env bash
# No Docker engine runs in CI, so this runs the Dockerfile's build commands
# in a scratch copy of the build context, as the builder stage would: the
# files .dockerignore leaves in, `go mod download`, then the same go build.
set -euo pipefail
cd "$(dirname "$0")/.."
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
git ls-files -z | grep -zvE '^(\.git|\.ci)/' | xargs -0 cp --parents -t "$ctx"
cd "$ctx"
# Every file the Dockerfile copies must be in the context.
for f in go.mod go.sum config.yml.example; do [ -f "$f" ] || { echo "missing $f in the build context"; exit 1; }; done
go mod download
# The RUN line of the builder stage, with its ARG defaults.
cmd=$(awk '/^RUN CGO_ENABLED=0 go build/,/cmd\/bender-cc-simulator$/' Dockerfile | sed 's/\\$//' | tr -s ' \n' ' ' | sed 's/^RUN //')
VERSION=dev REVISION=unknown
mkdir -p /tmp/docker-check-out
cmd=${cmd//\/out\//\/tmp\/docker-check-out\/}
eval "VERSION=$VERSION REVISION=$REVISION $cmd"
/tmp/docker-check-out/bender_cc_exporter --version 2>&1 | head -1
/tmp/docker-check-out/bender_cc_exporter --config.file=config.yml.example --config.check
rm -rf /tmp/docker-check-out
echo "docker build check: ok"
