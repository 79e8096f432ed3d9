#!/usr/bin/env bash
# Mosquitto (Debian package) on 127.0.0.1:$MOSQUITTO_PORT (default 18830).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
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
if running mosquitto; then
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
