#!/usr/bin/env bash
# Shared helpers for the engine scripts (sourced, not run). Each engine has its own script,
# scripts/engines/<engine>.sh, that installs into $CACHE/<engine>, starts the engine in the
# background writing its pid to $CACHE/<engine>/pid, and health-checks it with a real round trip.
# Idempotent: a second run reuses the install and an engine that is already running and healthy.
ENGINES_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="$ENGINES_ROOT/.cache/engines"
mkdir -p "$CACHE"
# An engine outlives the test that (re)starts it (kafka-restart, the Elasticsearch outage, podman):
# without the test file's mark, the test environment's cleanup (scripts/jest/child-process-environment.js)
# leaves it running for the suites after it.
unset MS_TEST_FILE

step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'engines: %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  step "installing ${missing[*]} (Debian)"
  as_root apt-get update -qq || fail "apt-get update failed; is the Debian mirror reachable?"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]} failed"
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() { # host port seconds name
  local deadline=$((SECONDS + $3))
  until port_open "$1" "$2"; do
    [ $SECONDS -lt $deadline ] || fail "$4 did not open $1:$2 within $3 s; see its log under $CACHE"
    sleep 0.2
  done
}

# running <engine>: true when $CACHE/<engine>/pid names a live process.
running() { [ -f "$CACHE/$1/pid" ] && kill -0 "$(cat "$CACHE/$1/pid")" 2>/dev/null; }

# stop_engine <engine> <label>: TERM, then KILL after 20 s; removes the pid file.
stop_engine() {
  local pidfile="$CACHE/$1/pid"
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    echo "stopped $2"
  fi
  rm -f "$pidfile"
}
