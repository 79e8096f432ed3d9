#!/usr/bin/env bash
# Provisions and starts the real engines the engine-backed test suites use, under .cache/engines/
# (ignored by git). Idempotent: a second run reuses what is installed and what is already running.
# Today: Mosquitto (Debian package). Kafka, Elasticsearch, kinesalite and moto join here later.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CACHE="$ROOT/.cache/engines"
mkdir -p "$CACHE"

step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'engines: %s\n' "$*" >&2; exit 1; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  step "installing ${missing[*]} (Debian)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq || fail "apt-get update failed; is the Debian mirror reachable?"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]} failed"
}

wait_port() { # host port seconds name
  local deadline=$((SECONDS + $3))
  until (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || fail "$4 did not open $1:$2 within $3 s; see its log under $CACHE"
    sleep 0.2
  done
}

# --- Mosquitto -------------------------------------------------------------------------------
MOSQUITTO_PORT=${MOSQUITTO_PORT:-18830}
apt_install mosquitto mosquitto-clients
MQ="$CACHE/mosquitto"
mkdir -p "$MQ"
cat > "$MQ/mosquitto.conf" <<CONF
# Test broker: loopback only, anonymous, deep queues so a bridge killed mid-run gets everything back.
listener $MOSQUITTO_PORT 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages 1000
max_queued_messages 1000000
max_queued_bytes 0
log_dest file $MQ/mosquitto.log
CONF
if [ -f "$MQ/pid" ] && kill -0 "$(cat "$MQ/pid")" 2>/dev/null; then
  step "Mosquitto already running (pid $(cat "$MQ/pid")) on 127.0.0.1:$MOSQUITTO_PORT"
else
  step "starting Mosquitto on 127.0.0.1:$MOSQUITTO_PORT"
  /usr/sbin/mosquitto -c "$MQ/mosquitto.conf" -d || fail "mosquitto would not start; see $MQ/mosquitto.log"
  sleep 0.2
  pgrep -n -f "mosquitto -c $MQ/mosquitto.conf" > "$MQ/pid" || fail "mosquitto exited; see $MQ/mosquitto.log"
fi
wait_port 127.0.0.1 "$MOSQUITTO_PORT" 15 mosquitto
# Health: a real publish/subscribe round trip, not just an open port.
token="health-$$-$RANDOM"
( mosquitto_sub -h 127.0.0.1 -p "$MOSQUITTO_PORT" -t meterstream/health -C 1 -W 5 > "$MQ/health.out" ) &
sub=$!
sleep 0.3
mosquitto_pub -h 127.0.0.1 -p "$MOSQUITTO_PORT" -t meterstream/health -m "$token" -q 1
wait $sub || true
grep -q "$token" "$MQ/health.out" || fail "Mosquitto did not deliver a health-check message"
echo "Mosquitto healthy: mqtt://127.0.0.1:$MOSQUITTO_PORT"
