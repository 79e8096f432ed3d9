#!/usr/bin/env bash
# Stops the engines started by up.sh (the cache stays for the next run).
set -uo pipefail
cd "$(dirname "$0")/../.."
CACHE="$PWD/.cache/engines"
if [ -f "$CACHE/mosquitto/pid" ]; then
  kill "$(cat "$CACHE/mosquitto/pid")" 2>/dev/null && echo "stopped Mosquitto"
  rm -f "$CACHE/mosquitto/pid"
fi
