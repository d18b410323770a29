#!/usr/bin/env bash
# Builds the keygate container image from this repository without pulling
# anything: a static binary (CGO_ENABLED=0) and the build host's CA
# certificates are put in a temporary build context with the Containerfile,
# whose base is scratch.
#
#   scripts/build-image.sh [TAG]        TAG defaults to localhost/keygate:latest
#
# The engine is $CONTAINER_ENGINE if set, else the first of podman, docker
# and buildah found. VERSION (default: `git describe`) is what
# `keygate version` reports. GOARCH may be set to build for another
# architecture.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
tag=${1:-localhost/keygate:latest}

engine=${CONTAINER_ENGINE:-}
if [[ -z $engine ]]; then
  for e in podman docker buildah; do
    if command -v "$e" >/dev/null; then
      engine=$e
      break
    fi
  done
fi
if [[ -z $engine ]]; then
  echo "build-image: no container engine (podman, docker or buildah) found" >&2
  exit 1
fi

ca=""
for f in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
  if [[ -s $f ]]; then
    ca=$f
    break
  fi
done
if [[ -z $ca ]]; then
  echo "build-image: no CA certificate bundle found on this host (install ca-certificates)" >&2
  exit 1
fi

version=${VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT

CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version" \
  -o "$ctx/keygate" ./cmd/keygate
cp "$ca" "$ctx/ca-certificates.crt"
chmod 0644 "$ctx/ca-certificates.crt"
install -d -m 0755 "$ctx/rootfs"
install -d -m 0700 "$ctx/rootfs/data"
cp Containerfile "$ctx/Containerfile"

case $engine in
  buildah) buildah build --layers=false -t "$tag" -f "$ctx/Containerfile" "$ctx" ;;
  *) "$engine" build -t "$tag" -f "$ctx/Containerfile" "$ctx" ;;
esac
echo "built $tag with $engine"
