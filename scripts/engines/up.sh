#!/usr/bin/env bash
# Provisions and starts every real engine the engine-backed test suites use, under .cache/engines/
# (ignored by git): one script per engine (scripts/engines/<engine>.sh). Idempotent: a second run
# reuses what is installed and what is already running. `up.sh kafka elasticsearch` starts only those.
# podman is no server: it installs podman and the local Node base image the container-image suite
# builds deploy/Dockerfile on (needs root the first time; see scripts/engines/podman.sh).
set -euo pipefail
cd "$(dirname "$0")"
ENGINES=("$@")
[ ${#ENGINES[@]} -gt 0 ] || ENGINES=(mosquitto kafka elasticsearch kinesalite moto podman)
for engine in "${ENGINES[@]}"; do
  [ -f "./$engine.sh" ] || { echo "engines: no script scripts/engines/$engine.sh" >&2; exit 1; }
  bash "./$engine.sh"
done
echo
echo "engines up: ${ENGINES[*]}"
