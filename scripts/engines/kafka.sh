#!/usr/bin/env bash
# Apache Kafka 4.x (KRaft, one node that is both broker and controller) on 127.0.0.1:$KAFKA_PORT
# (default 19092; controller on $KAFKA_CONTROLLER_PORT, default 19093), from the Maven Central jars.
#   bash scripts/engines/kafka.sh        install (once), format the log dir (once), start, health-check
#   bash scripts/engines/kafka.sh stop   stop only Kafka; its data stays (tests restart the broker so)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
KAFKA_VERSION=${KAFKA_VERSION:-4.1.1}
KAFKA_PORT=${KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19093}
KF="$CACHE/kafka"
mkdir -p "$KF"

if [ "${1:-}" = "stop" ]; then
  stop_engine kafka Kafka
  exit 0
fi

# --- Install: the broker jar and its runtime dependencies, fetched by Maven into $KF/libs.
# slf4j-simple is added because the broker pom ships no logging backend; its output goes to kafka.log.
if [ ! -f "$KF/libs/.complete-$KAFKA_VERSION" ]; then
  command -v mvn >/dev/null || apt_install maven
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  step "fetching Kafka $KAFKA_VERSION jars from Maven Central (first run only)"
  rm -rf "$KF/libs"
  cat > "$KF/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>meterstream.engines</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
POM
  (cd "$KF" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KF/libs" > "$KF/mvn.log" 2>&1) \
    || fail "mvn could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION; see $KF/mvn.log"
  ls "$KF/libs"/kafka_2.13-*.jar >/dev/null 2>&1 || fail "no kafka_2.13 jar in $KF/libs after mvn; see $KF/mvn.log"
  touch "$KF/libs/.complete-$KAFKA_VERSION"
fi

cat > "$KF/server.properties" <<PROPS
# Test broker: a single KRaft node, loopback only. Topics are created explicitly by the adapters.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$KF/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Tests join and leave consumer groups often: do not hold the first rebalance back 3 s.
group.initial.rebalance.delay.ms=0
# Let short session timeouts through (a SIGKILLed member must be noticed within seconds).
group.min.session.timeout.ms=2000
PROPS

JAVA_BIN=${JAVA_BIN:-java}
KAFKA_HEAP=${KAFKA_HEAP:--Xms256m -Xmx512m}
# shellcheck disable=SC2206
JAVA_CMD=("$JAVA_BIN" $KAFKA_HEAP -XX:+UseSerialGC -Djava.awt.headless=true
  -Dorg.slf4j.simpleLogger.defaultLogLevel=info -Dorg.slf4j.simpleLogger.showDateTime=true
  -cp "$KF/libs/*")

# --- Format the log dir once (KRaft needs a cluster id and the metadata log before first start).
if [ ! -f "$KF/data/meta.properties" ]; then
  step "formatting the Kafka log dir $KF/data"
  cluster_id=$("${JAVA_CMD[@]}" kafka.tools.StorageTool random-uuid 2> "$KF/format.log" | tail -1) \
    || fail "StorageTool random-uuid failed; see $KF/format.log"
  "${JAVA_CMD[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$KF/server.properties" >> "$KF/format.log" 2>&1 \
    || fail "StorageTool format failed; see $KF/format.log"
fi

if running kafka; then
  step "Kafka already running (pid $(cat "$KF/pid")) on 127.0.0.1:$KAFKA_PORT"
else
  step "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (log: $KF/kafka.log)"
  # One run's log at a time (the previous one is kept as kafka.log.1): restarts would grow it forever.
  [ -f "$KF/kafka.log" ] && mv -f "$KF/kafka.log" "$KF/kafka.log.1"
  # setsid: the broker must outlive this script and the test that restarted it. Without job
  # control the background child is no group leader, so setsid execs in place and $! is the JVM.
  setsid "${JAVA_CMD[@]}" kafka.Kafka "$KF/server.properties" >> "$KF/kafka.log" 2>&1 < /dev/null &
  echo $! > "$KF/pid"
fi
deadline=$((SECONDS + 120))
until port_open 127.0.0.1 "$KAFKA_PORT"; do
  running kafka || fail "Kafka exited during start-up; see $KF/kafka.log"
  [ $SECONDS -lt $deadline ] || fail "Kafka did not open 127.0.0.1:$KAFKA_PORT within 120 s; see $KF/kafka.log"
  sleep 0.5
done

# --- Health: create a topic, produce one message and read it back (kafkajs from node_modules).
step "Kafka health check (create topic, produce, consume)"
(cd "$ENGINES_ROOT" && KAFKA_HEALTH_BROKER="127.0.0.1:$KAFKA_PORT" timeout 120 node - > "$KF/health.log" 2>&1 <<'NODE'
const { Kafka, logLevel } = require('kafkajs');
const broker = process.env.KAFKA_HEALTH_BROKER;
const kafka = new Kafka({ clientId: 'meterstream-health', brokers: [broker], logLevel: logLevel.NOTHING,
  retry: { retries: 20, initialRetryTime: 300, maxRetryTime: 3000 } });
const topic = 'meterstream-health';
const token = `health-${process.pid}-${Date.now()}`;
(async () => {
  const admin = kafka.admin();
  await admin.connect();
  const existing = await admin.listTopics();
  if (!existing.includes(topic)) await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: [{ value: token }] });
  const consumer = kafka.consumer({ groupId: `meterstream-health-${process.pid}` });
  await consumer.connect();
  // From the beginning: the token is unique, so earlier health messages are simply passed over.
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const got = new Promise((resolve) => {
    consumer.run({ eachMessage: async ({ message }) => { if (String(message.value) === token) resolve(); } });
  });
  await Promise.race([got, new Promise((_, reject) => setTimeout(() => reject(new Error('no message within 60 s')), 60000))]);
  await consumer.disconnect();
  await producer.disconnect();
  await admin.deleteGroups([`meterstream-health-${process.pid}`]).catch(() => undefined);
  await admin.disconnect();
  console.log(`ok ${token}`);
  process.exit(0); // the 60 s guard timer would otherwise keep node alive
})().catch((e) => { console.error(e); process.exit(1); });
NODE
) || fail "Kafka health check failed (create/produce/consume); see $KF/health.log and $KF/kafka.log"
grep -q '^ok ' "$KF/health.log" || fail "Kafka health check printed no confirmation; see $KF/health.log"
echo "Kafka healthy: 127.0.0.1:$KAFKA_PORT"
