#!/usr/bin/env node
// The image's HEALTHCHECK (deploy/Dockerfile): `node healthcheck.js`, exit 0 = healthy.
//
// One image runs every service; the command picks which. What "healthy" means depends on it:
// - a container running the query API (its main.js, alone or under `meterstream start`): GET the
//   API's public liveness endpoint, /health, on this container's own port (PORT, default 3000;
//   HOST when it names one address, else 127.0.0.1). Healthy when it answers 200 within 4 s.
// - the ingest bridge and the stream processor listen on no HTTP port: healthy while the container
//   runs. The container ends with its service (a bad setting or an unreachable engine at start-up
//   exits 1) and its restart policy acts; a service that runs without progress is for the metrics
//   and alarms to see, not for this check.
// HEALTHCHECK_URL overrides the check with a URL of your choice (e.g. an API on another port).
// Nothing here reads secrets: /health is public even when API_TOKEN is set.
'use strict';
const fs = require('node:fs');
const http = require('node:http');

const TIMEOUT_MS = 4_000;

/** True when some process in this container runs the query API's main.js. */
function runsQueryApi() {
  let entries;
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return false;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmdline;
    try {
      cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    if (cmdline.split('\0').some((arg) => /(^|\/)apps\/query-api\/src\/main\.js$/.test(arg))) return true;
  }
  return false;
}

function healthUrl() {
  if (process.env.HEALTHCHECK_URL) return process.env.HEALTHCHECK_URL;
  const host = process.env.HOST;
  const target = !host || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${target.includes(':') ? `[${target}]` : target}:${process.env.PORT || 3000}/health`;
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

if (process.env.HEALTHCHECK_URL || runsQueryApi()) {
  check(healthUrl());
} else {
  console.log('healthy: no query API in this container (ingest bridge or stream processor: no HTTP port; the container runs while the service does)');
}
