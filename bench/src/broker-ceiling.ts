import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { startEmbeddedBroker } from '@meterstream/mqtt';
import type { Workload } from './workload';

const DIST = path.resolve(__dirname, '../..');

function jsonLines(child: ReturnType<typeof spawn>, on: (event: { event: string; t: number }) => void): void {
  readline.createInterface({ input: child.stdout! }).on('line', (line) => on(JSON.parse(line)));
}

/**
 * The ceiling MQTT alone puts on the pipeline on this machine, measured in the same run with the
 * same publisher. Embedded: the broker with an ingest that commits nothing, so the figure is what
 * aedes carries to a publisher's PUBACK. External broker: the bridge's own subscriber with nothing
 * behind it.
 */
export async function measureBrokerCeiling(workload: Workload, messages: number, externalBrokerUrl?: string): Promise<{ messagesPerSec: number; seconds: number }> {
  if (!externalBrokerUrl) return measureEmbeddedCeiling(workload, messages);
  const broker = { url: externalBrokerUrl };
  {
    const subscriber = spawn(process.execPath, [path.join(DIST, 'bench/src/null-subscriber.js'), broker.url, String(messages + workload.lines)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      subscriber.once('exit', (code) => (received ? undefined : reject(new Error(`null subscriber exited with ${code}`))));
      jsonLines(subscriber, (e) => {
        if (e.event === 'subscribed') resolve();
        if (e.event === 'received') received = e.t;
      });
    });
    let start = 0;
    const publisher = spawn(process.execPath, [path.join(DIST, 'bench/src/publisher.js'), broker.url, JSON.stringify(workload)], { stdio: ['ignore', 'pipe', 'inherit'] });
    jsonLines(publisher, (e) => {
      if (e.event === 'start') start = e.t;
    });
    await new Promise((resolve) => subscriber.once('exit', resolve));
    await new Promise((resolve) => (publisher.exitCode !== null ? resolve(null) : publisher.once('exit', resolve)));
    if (!received) throw new Error('the null subscriber did not receive every message');
    const seconds = (received - start) / 1000;
    return { messagesPerSec: Math.round(messages / seconds), seconds };
  }
}

async function measureEmbeddedCeiling(workload: Workload, messages: number): Promise<{ messagesPerSec: number; seconds: number }> {
  const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, ingest: async () => undefined });
  try {
    let start = 0;
    let published = 0;
    const publisher = spawn(process.execPath, [path.join(DIST, 'bench/src/publisher.js'), broker.url, JSON.stringify(workload)], { stdio: ['ignore', 'pipe', 'inherit'] });
    jsonLines(publisher, (e) => {
      if (e.event === 'start') start = e.t;
      if (e.event === 'published') published = e.t;
    });
    await new Promise((resolve) => (publisher.exitCode !== null ? resolve(null) : publisher.once('exit', resolve)));
    if (!published) throw new Error('the publisher did not get every PUBACK');
    const seconds = (published - start) / 1000;
    return { messagesPerSec: Math.round(messages / seconds), seconds };
  } finally {
    await broker.close();
  }
}
