#!/usr/bin/env bash
# Elasticsearch (single node, security off) on 127.0.0.1:$ELASTICSEARCH_PORT (default 19200).
#   bash scripts/engines/elasticsearch.sh        install once, start (or reuse), health-check
#   bash scripts/engines/elasticsearch.sh stop   stop only Elasticsearch; data stays (outage tests)
#
# The distribution is Maven Central's integ-test-zip (the only Elasticsearch zip published there).
# 8.19.x: the newest line it exists for (no 9.x integ-test-zip is published), and it runs on the
# default Java 17. It is a minimal distribution: no painless, no reindex (so no _update_by_query /
# _delete_by_query); the read-model adapter is written to need neither.
# Elasticsearch refuses to run as root, so as root it runs as the unprivileged system user
# $ES_USER, which owns the config, data, log and run folders (the install stays root-owned, readable).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ELASTICSEARCH_PORT=${ELASTICSEARCH_PORT:-19200}
ES_VERSION=${ES_VERSION:-8.19.21}
ES_USER=${ES_USER:-meterstream-es}
ES="$CACHE/elasticsearch"
HOME_DIR="$ES/elasticsearch-$ES_VERSION"
CONF="$ES/config"
RUN="$ES/run"
LOG="$ES/logs/meterstream.log"
URL="http://127.0.0.1:$ELASTICSEARCH_PORT"

if [ "${1:-}" = stop ]; then
  stop_engine elasticsearch Elasticsearch
  exit 0
fi

mkdir -p "$ES"

# --- Java 17+ (ES_JAVA_HOME wins; otherwise the java on PATH) and Maven for the download.
if [ -z "${ES_JAVA_HOME:-}" ]; then
  command -v java >/dev/null 2>&1 || apt_install openjdk-17-jre-headless
  ES_JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
fi
[ -x "$ES_JAVA_HOME/bin/java" ] || fail "no java at $ES_JAVA_HOME/bin/java; set ES_JAVA_HOME to a JDK 17+"
command -v unzip >/dev/null 2>&1 || apt_install unzip
command -v curl >/dev/null 2>&1 || apt_install curl

# --- Download (once) and unzip (once).
ZIP="$ES/elasticsearch-$ES_VERSION.zip"
if [ ! -x "$HOME_DIR/bin/elasticsearch" ]; then
  if [ ! -s "$ZIP" ]; then
    command -v mvn >/dev/null 2>&1 || apt_install maven
    step "downloading Elasticsearch $ES_VERSION (integ-test-zip, ~100 MB) from Maven Central"
    mvn -q -B dependency:copy \
      -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
      -DoutputDirectory="$ES" >"$ES/download.log" 2>&1 \
      || fail "mvn dependency:copy of Elasticsearch $ES_VERSION failed; see $ES/download.log"
  fi
  step "unpacking Elasticsearch $ES_VERSION"
  rm -rf "$HOME_DIR.partial" && mkdir -p "$HOME_DIR.partial"
  unzip -q "$ZIP" -d "$HOME_DIR.partial" || fail "could not unzip $ZIP (delete it to download again)"
  mv "$HOME_DIR.partial/elasticsearch-$ES_VERSION" "$HOME_DIR" && rm -rf "$HOME_DIR.partial"
fi

# --- Config: our own folder (ES_PATH_CONF), rewritten each run so a port change takes effect.
mkdir -p "$CONF/jvm.options.d" "$ES/data" "$ES/logs" "$RUN" "$ES/tmp"
[ -f "$CONF/jvm.options" ] || cp "$HOME_DIR/config/jvm.options" "$HOME_DIR/config/log4j2.properties" "$CONF/"
cat > "$CONF/elasticsearch.yml" <<CONF
# Test node: one node, loopback only, no security (the integ-test-zip has no TLS material anyway).
cluster.name: meterstream-test
node.name: meterstream-es-1
discovery.type: single-node
network.host: 127.0.0.1
http.port: $ELASTICSEARCH_PORT
# Transport is unused by a single node but must bind: first free port of a range near http.
transport.port: $((ELASTICSEARCH_PORT + 100))-$((ELASTICSEARCH_PORT + 199))
path.data: $ES/data
path.logs: $ES/logs
xpack.security.enabled: false
# A busy CI disk must not turn indices read-only mid-test.
cluster.routing.allocation.disk.threshold_enabled: false
# Needs no vm.max_map_count >= 262144 (machines here have 65530 and we cannot always raise it).
node.store.allow_mmap: false
CONF
cat > "$CONF/jvm.options.d/heap.options" <<'CONF'
-Xms512m
-Xmx512m
CONF

if [ "$(id -u)" -eq 0 ]; then
  id "$ES_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$ES_USER" \
    || fail "could not create the system user $ES_USER (Elasticsearch refuses to run as root)"
  chown -R "$ES_USER:" "$CONF" "$ES/data" "$ES/logs" "$RUN" "$ES/tmp"
  as_es() { runuser -u "$ES_USER" -- "$@"; }
else
  as_es() { "$@"; }
fi

# --- Start (unless already running).
if running elasticsearch; then
  step "Elasticsearch already running (pid $(cat "$ES/pid")) on $URL"
else
  step "starting Elasticsearch $ES_VERSION on $URL (transport $((ELASTICSEARCH_PORT + 100))+, heap 512 MB)"
  rm -f "$RUN/es.pid"
  # -d: detach once the node is up; -p: the node writes its own pid (in a folder it owns).
  as_es env ES_JAVA_HOME="$ES_JAVA_HOME" ES_PATH_CONF="$CONF" ES_TMPDIR="$ES/tmp" \
    "$HOME_DIR/bin/elasticsearch" -d -p "$RUN/es.pid" >"$LOG" 2>&1 \
    || fail "Elasticsearch would not start; see $LOG and $ES/logs/meterstream-test.log"
  for _ in $(seq 1 100); do [ -s "$RUN/es.pid" ] && break; sleep 0.2; done
  [ -s "$RUN/es.pid" ] || fail "Elasticsearch wrote no pid file; see $LOG and $ES/logs/meterstream-test.log"
  cp "$RUN/es.pid" "$ES/pid"
fi

# --- Health: cluster at least yellow, then a real write/read round trip.
wait_port 127.0.0.1 "$ELASTICSEARCH_PORT" 180 elasticsearch
deadline=$((SECONDS + 180))
until curl -fsS "$URL/_cluster/health?wait_for_status=yellow&timeout=10s" >"$ES/health.out" 2>&1; do
  [ $SECONDS -lt $deadline ] || fail "Elasticsearch cluster not yellow within 180 s; see $ES/health.out and $ES/logs/meterstream-test.log"
  sleep 1
done
token="health-$$-$RANDOM"
curl -fsS -X PUT "$URL/meterstream-health" -H 'Content-Type: application/json' \
  -d '{"settings":{"number_of_shards":1,"number_of_replicas":0}}' >/dev/null 2>&1 || true # exists on reruns
curl -fsS -X PUT "$URL/meterstream-health/_doc/probe?refresh=true" -H 'Content-Type: application/json' \
  -d "{\"token\":\"$token\"}" >"$ES/health.out" 2>&1 || fail "Elasticsearch refused a health-check write; see $ES/health.out"
curl -fsS "$URL/meterstream-health/_doc/probe" >"$ES/health.out" 2>&1 || fail "Elasticsearch health-check read failed; see $ES/health.out"
grep -q "$token" "$ES/health.out" || fail "Elasticsearch did not return the health-check document; see $ES/health.out"
# (The integ-test-zip answers GET / with 405, so the version comes from the nodes info API.)
version=$(curl -fsS "$URL/_nodes/_local?filter_path=nodes.*.version" | grep -o '"version":"[^"]*"' | head -1 | cut -d'"' -f4)
echo "Elasticsearch $version healthy: $URL"
