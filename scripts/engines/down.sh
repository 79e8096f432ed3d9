#!/usr/bin/env bash
# Stops the engines started by up.sh (the cache stays for the next run).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
for dir in "$CACHE"/*/; do
  [ -d "$dir" ] || continue
  engine=$(basename "$dir")
  stop_engine "$engine" "$engine"
done
