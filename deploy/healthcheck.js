#!/usr/bin/env node
// The image's HEALTHCHECK (deploy/Dockerfile): `node healthcheck.js`, exit 0 = healthy.
//
// One image runs every service; the command picks which, and each serves a public liveness
// endpoint, GET /health (@nestjs/terminus), which this asks:
// - the query API (its main.js, alone or under `meterstream start`): on its own port (PORT,
//   default 3000; HOST when it names one address, else 127.0.0.1);
// - the ingest bridge: on BRIDGE_METRICS_PORT (default 9464), the stream processor on
//   PROCESSOR_METRICS_PORT (default 9465), at METRICS_HOST (default 127.0.0.1; 0.0.0.0 → 127.0.0.1).
// Healthy when it answers 200 within 4 s. Liveness, not readiness (/ready): a container whose
// database or broker is away is not fixed by restarting it; that is for /ready, the metrics and
// the alarms to show.
// HEALTHCHECK_URL overrides the check with a URL of your choice.
// Nothing here reads secrets: /health is public even when API_TOKEN is set.
'use strict';
const fs = require('node:fs');
const http = require('node:http');

const TIMEOUT_MS = 4_000;

const SERVICES = [
  { main: /(^|\/)apps\/query-api\/src\/main\.js$/, host: 'HOST', port: 'PORT', defaultPort: 3000 },
  { main: /(^|\/)apps\/ingest-bridge\/src\/main\.js$/, host: 'METRICS_HOST', port: 'BRIDGE_METRICS_PORT', defaultPort: 9464 },
  { main: /(^|\/)apps\/stream-processor\/src\/main\.js$/, host: 'METRICS_HOST', port: 'PROCESSOR_METRICS_PORT', defaultPort: 9465 },
];

/** The service some process in this container runs (by its main.js), or undefined. */
function runningService() {
  let entries;
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmdline;
    try {
      cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const args = cmdline.split('\0');
    const service = SERVICES.find((s) => args.some((arg) => s.main.test(arg)));
    if (service) return service;
  }
  return undefined;
}

function healthUrl(service) {
  if (process.env.HEALTHCHECK_URL) return process.env.HEALTHCHECK_URL;
  const host = process.env[service.host];
  const target = !host || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${target.includes(':') ? `[${target}]` : target}:${process.env[service.port] || service.defaultPort}/health`;
}

function check(url) {
  const req = http.get(url, { timeout: TIMEOUT_MS }, (res) => {
    res.resume();
    if (res.statusCode === 200) {
      console.log(`healthy: GET ${url} answered 200`);
      process.exit(0);
    }
    console.log(`unhealthy: GET ${url} answered ${res.statusCode}`);
    process.exit(1);
  });
  req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
  req.on('error', (err) => {
    console.log(`unhealthy: GET ${url} failed: ${err.message}`);
    process.exit(1);
  });
}

const service = runningService();
if (process.env.HEALTHCHECK_URL || service) {
  check(healthUrl(service));
} else {
  // Another command (a one-off `meterstream replay`, a shell): nothing to ask; the container runs while it does.
  console.log('healthy: no meterstream service with an HTTP endpoint in this container');
}
