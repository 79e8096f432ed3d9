#!/usr/bin/env bash
# moto (PyPI `moto[server]`) on 127.0.0.1:$MOTO_PORT (default 15000): the local STAND-IN for Amazon
# Timestream (write API), SNS and DynamoDB (the Kinesis lease table). No AWS service runs here: moto
# answers the same HTTP APIs from memory (a restart forgets everything) and emulates only part of
# their behaviour; see libs/timeseries/src/timestream.engine.spec.ts, libs/alert-channels/src/sns.engine.spec.ts
# and libs/stream/src/leases/leases.engine.spec.ts.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
MOTO_PORT=${MOTO_PORT:-15000}
# Pinned: a newer moto can change what it emulates; bump deliberately and re-run the engine specs.
MOTO_VERSION=5.2.5
MO="$CACHE/moto"
VENV="$MO/venv"
LOG="$MO/moto.log"
mkdir -p "$MO"

# A clean Debian python3 lacks ensurepip until python3-venv is installed.
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  apt_install python3-venv
fi

# The marker is written only after a complete install, so an interrupted one is redone.
if [ ! -f "$VENV/.installed-moto-$MOTO_VERSION" ]; then
  step "installing moto[server]==$MOTO_VERSION into $VENV (PyPI)"
  rm -rf "$VENV"
  python3 -m venv "$VENV" || fail "python3 -m venv $VENV failed"
  "$VENV/bin/pip" install --quiet "moto[server]==$MOTO_VERSION" > "$MO/pip.log" 2>&1 \
    || fail "pip install moto[server]==$MOTO_VERSION failed; see $MO/pip.log"
  touch "$VENV/.installed-moto-$MOTO_VERSION"
fi

if running moto; then
  step "moto already running (pid $(cat "$MO/pid")) on 127.0.0.1:$MOTO_PORT"
else
  port_open 127.0.0.1 "$MOTO_PORT" && fail "port $MOTO_PORT is taken by another process; set MOTO_PORT"
  step "starting moto_server $MOTO_VERSION on 127.0.0.1:$MOTO_PORT"
  # setsid: the server outlives this script; its pid is what down.sh stops.
  setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" > "$LOG" 2>&1 < /dev/null &
  echo $! > "$MO/pid"
  sleep 0.3
  running moto || fail "moto_server exited at start; see $LOG"
fi
wait_port 127.0.0.1 "$MOTO_PORT" 30 moto

# Health: real signed API calls through boto3 (installed with moto) with dummy credentials: SNS
# ListTopics, Timestream ListDatabases and DynamoDB ListTables, not just an open port.
MOTO_ENDPOINT="http://127.0.0.1:$MOTO_PORT" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
  "$VENV/bin/python" - > "$MO/health.out" 2>&1 <<'PY' || fail "moto health check failed (SNS ListTopics / Timestream ListDatabases / DynamoDB ListTables); see $MO/health.out and $LOG"
import os, boto3
kw = dict(endpoint_url=os.environ["MOTO_ENDPOINT"], region_name="us-east-1")
boto3.client("sns", **kw).list_topics()
boto3.client("timestream-write", **kw).list_databases()
boto3.client("dynamodb", **kw).list_tables()
print("ok")
PY
echo "moto healthy: http://127.0.0.1:$MOTO_PORT (moto $MOTO_VERSION; Timestream, SNS and DynamoDB are emulated, not AWS)"
