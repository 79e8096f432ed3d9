#!/usr/bin/env bash
# Podman and the local base image node:${CONTAINER_NODE_MAJOR:-22}-bookworm-slim that
# e2e/src/container-image.engine.spec.ts builds deploy/Dockerfile on. These machines have no Docker
# engine and no Docker Hub: make-base-images.sh (../shared/containers, next to the checkout)
# installs podman and builds the base images from Debian packages and the npm registry; it needs
# root and takes 2–4 minutes, once. Afterwards every podman call needs
#   CONTAINERS_CONF=${WORK:-${TMPDIR:-/tmp}/meterstream-containers}/containers.conf
# (runc and ulimits these machines accept; the script writes it, never /etc).
# No daemon: there is nothing to stop, and down.sh leaves podman alone.
# Idempotent: with podman, containers.conf and the base image present it only checks that a
# container runs. Fails loudly otherwise: an engine suite must never pass without its engine.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

NODE_MAJOR="${CONTAINER_NODE_MAJOR:-22}"
export WORK="${WORK:-${TMPDIR:-/tmp}/meterstream-containers}"
export CONTAINERS_CONF="$WORK/containers.conf"
BASE_IMAGE="localhost/node:${NODE_MAJOR}-bookworm-slim"
mkdir -p "$CACHE/podman"

# make-base-images.sh: MAKE_BASE_IMAGES, else ../shared/containers next to this checkout or next
# to the main checkout of this git worktree.
find_script() {
  if [ -n "${MAKE_BASE_IMAGES:-}" ]; then echo "$MAKE_BASE_IMAGES"; return; fi
  local candidates=("$ENGINES_ROOT/../shared/containers/make-base-images.sh")
  local common
  if common=$(git -C "$ENGINES_ROOT" rev-parse --path-format=absolute --git-common-dir 2>/dev/null); then
    candidates+=("$(dirname "$common")/../shared/containers/make-base-images.sh")
  fi
  for c in "${candidates[@]}"; do [ -f "$c" ] && { echo "$c"; return; }; done
  return 1
}

ready() {
  command -v podman >/dev/null && command -v runc >/dev/null && [ -f "$CONTAINERS_CONF" ] \
    && podman image exists "$BASE_IMAGE" 2>/dev/null
}

if ! ready; then
  script=$(find_script) || fail "podman: make-base-images.sh not found (looked in ../shared/containers next to $ENGINES_ROOT and next to its main git checkout); set MAKE_BASE_IMAGES=/path/to/make-base-images.sh"
  [ "$(id -u)" -eq 0 ] || fail "podman: building the base image $BASE_IMAGE needs root (rootful podman, apt-get): run as root: NODE_MAJOR=$NODE_MAJOR bash $script"
  step "podman: base images debian:bookworm-slim and node:${NODE_MAJOR}-bookworm-slim ($script; 2–4 min; log $CACHE/podman/base-images.log)"
  NODE_MAJOR="$NODE_MAJOR" bash "$script" >"$CACHE/podman/base-images.log" 2>&1 \
    || { tail -30 "$CACHE/podman/base-images.log" >&2; fail "podman: make-base-images.sh failed; see $CACHE/podman/base-images.log"; }
  ready || fail "podman: make-base-images.sh finished, but podman, runc, $CONTAINERS_CONF or $BASE_IMAGE is still missing"
fi

# A real round trip: a container starts, on the host network, and runs the image's Node.
version=$(podman run --rm --network host "$BASE_IMAGE" node --version 2>"$CACHE/podman/check.err") \
  || { cat "$CACHE/podman/check.err" >&2; fail "podman: a container of $BASE_IMAGE does not run (CONTAINERS_CONF=$CONTAINERS_CONF)"; }
case "$version" in
  "v${NODE_MAJOR}."*) ;;
  *) fail "podman: $BASE_IMAGE runs Node $version, not ${NODE_MAJOR}.x" ;;
esac
echo "podman: $(podman --version), base image $BASE_IMAGE (Node $version); export CONTAINERS_CONF=$CONTAINERS_CONF"
