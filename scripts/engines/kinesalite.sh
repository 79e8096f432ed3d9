#!/usr/bin/env bash
# kinesalite (npm devDependency: a Kinesis API on LevelDB) on 127.0.0.1:$KINESALITE_PORT (default 14567).
# Data lives in $CACHE/kinesalite/data, so streams survive a restart of the engine.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
KINESALITE_PORT=${KINESALITE_PORT:-14567}
KL="$CACHE/kinesalite"
mkdir -p "$KL/data"

if [ ! -x "$ENGINES_ROOT/node_modules/.bin/kinesalite" ] || [ ! -d "$ENGINES_ROOT/node_modules/@aws-sdk/client-kinesis" ]; then
  step "installing node dependencies (npm ci) for kinesalite and the health check"
  (cd "$ENGINES_ROOT" && npm ci --no-audit --no-fund >"$KL/npm-ci.log" 2>&1) || fail "npm ci failed; see $KL/npm-ci.log"
fi

# The kinesalite CLI listens on every interface; this launcher binds loopback only. Short
# CREATING/UPDATING/DELETING phases keep tests quick; a high shard limit because test streams
# (unique per run) count against kinesalite's account-wide limit (default 10).
cat > "$KL/server.js" <<'JS'
const { createRequire } = require('node:module');
const load = createRequire(process.env.ENGINES_ROOT + '/package.json');
const kinesalite = load('kinesalite');
const server = kinesalite({
  path: process.env.KINESALITE_DATA,
  createStreamMs: 50,
  deleteStreamMs: 50,
  updateStreamMs: 50,
  shardLimit: 100000,
});
server.listen(Number(process.env.KINESALITE_PORT), '127.0.0.1', () => {
  console.log(`kinesalite listening on 127.0.0.1:${process.env.KINESALITE_PORT}, data in ${process.env.KINESALITE_DATA}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  // Close LevelDB cleanly so the next start does not find a held lock.
  process.on(signal, () => {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 5000).unref(); // a client still mid-request does not hold the stop up
  });
}
JS

# Health: create (if absent) the stream `health`, PutRecord, then read the record back with GetRecords.
cat > "$KL/health.js" <<'JS'
const { createRequire } = require('node:module');
const load = createRequire(process.env.ENGINES_ROOT + '/package.json');
const k = load('@aws-sdk/client-kinesis');
const { NodeHttpHandler } = load('@smithy/node-http-handler');
const client = new k.KinesisClient({
  region: 'us-east-1',
  endpoint: `http://127.0.0.1:${process.env.KINESALITE_PORT}`,
  credentials: { accessKeyId: 'kinesalite', secretAccessKey: 'kinesalite' },
  requestHandler: new NodeHttpHandler(),
  maxAttempts: 1,
});
const StreamName = 'health';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  try {
    await client.send(new k.CreateStreamCommand({ StreamName, ShardCount: 1 }));
  } catch (e) {
    if (e.name !== 'ResourceInUseException') throw e;
  }
  for (let i = 0; ; i++) {
    const s = await client.send(new k.DescribeStreamSummaryCommand({ StreamName }));
    if (s.StreamDescriptionSummary.StreamStatus === 'ACTIVE') break;
    if (i > 100) throw new Error('stream health never became ACTIVE');
    await sleep(50);
  }
  const token = `health-${process.pid}-${Date.now()}`;
  const put = await client.send(new k.PutRecordCommand({ StreamName, PartitionKey: 'health', Data: Buffer.from(token) }));
  const it = await client.send(
    new k.GetShardIteratorCommand({ StreamName, ShardId: put.ShardId, ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: put.SequenceNumber }),
  );
  const got = await client.send(new k.GetRecordsCommand({ ShardIterator: it.ShardIterator, Limit: 1 }));
  const back = got.Records.length ? Buffer.from(got.Records[0].Data).toString() : '(nothing)';
  if (back !== token) throw new Error(`GetRecords returned ${back}, expected ${token}`);
  client.destroy();
})().catch((e) => {
  console.error(`${e.name}: ${e.message}`);
  process.exit(1);
});
JS

export ENGINES_ROOT KINESALITE_PORT KINESALITE_DATA="$KL/data"
if running kinesalite; then
  step "kinesalite already running (pid $(cat "$KL/pid")) on 127.0.0.1:$KINESALITE_PORT"
else
  port_open 127.0.0.1 "$KINESALITE_PORT" && fail "port $KINESALITE_PORT is taken by a process that is not our kinesalite; stop it or set KINESALITE_PORT"
  step "starting kinesalite on 127.0.0.1:$KINESALITE_PORT (data in $KL/data)"
  nohup node "$KL/server.js" >>"$KL/kinesalite.log" 2>&1 &
  echo $! > "$KL/pid"
  sleep 0.3
  running kinesalite || fail "kinesalite exited at start; see $KL/kinesalite.log"
fi
wait_port 127.0.0.1 "$KINESALITE_PORT" 30 kinesalite
step "health check: PutRecord / GetRecords on stream health"
node "$KL/health.js" >"$KL/health.log" 2>&1 || fail "kinesalite health check failed: $(cat "$KL/health.log"); see $KL/kinesalite.log"
echo "kinesalite healthy: http://127.0.0.1:$KINESALITE_PORT"
