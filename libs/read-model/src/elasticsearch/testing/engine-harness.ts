// Shared set-up of the Elasticsearch engine specs (not exported from the library).
import { randomBytes } from 'node:crypto';
import type { Client } from '@elastic/elasticsearch';
import type { DeadLetterPosition, DeadLetterRow, ReadModel, TimeRange } from '../../read-model';
import { createElasticsearchClient } from '../client';
import { IndexNames } from '../index-names';
import { indexTemplates } from '../mappings';

export const ELASTICSEARCH_URL = process.env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:19200';

/** A prefix no other run uses, so runs never see each other's documents. */
export function uniqueIndexPrefix(label: string): string {
  return `msrm-${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}-`;
}

export function testClient(): Client {
  return createElasticsearchClient({ node: ELASTICSEARCH_URL });
}

/** Fails with how to start the engine: these suites must never skip silently. */
export async function assertElasticsearchUp(client: Client): Promise<void> {
  try {
    await client.cluster.health({ wait_for_status: 'yellow', timeout: '30s' }, { requestTimeout: 35_000, maxRetries: 0 });
  } catch (err) {
    throw new Error(`Elasticsearch is not reachable at ${ELASTICSEARCH_URL} (${(err as Error).message}). Start it with: bash scripts/engines/elasticsearch.sh`);
  }
}

/** Deletes every index and template of a prefix (by name: wildcard deletes may be disabled). */
export async function dropPrefix(client: Client, prefix: string): Promise<void> {
  const rows = (await client.cat.indices({ index: `${prefix}*`, format: 'json', h: 'index' })) as { index: string }[];
  const names = rows.map((r) => r.index);
  for (let i = 0; i < names.length; i += 50) await client.indices.delete({ index: names.slice(i, i + 50) });
  for (const template of indexTemplates(new IndexNames(prefix))) {
    await client.indices.deleteIndexTemplate({ name: template.name }).catch(() => undefined);
  }
}

export interface QueryProbes {
  lineIds: string[];
  /** Device ids to ask per-meter windows for (line → devices). */
  devices: Record<string, string[]>;
  ranges: TimeRange[];
  readingLimits: number[];
}

/**
 * Every query of the port, over the given lines, ranges and limits, as labelled results, so a
 * mismatch names the query that differs.
 */
export async function answers(model: ReadModel, probes: QueryProbes): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  out['lines()'] = await model.lines();
  for (const lineId of [...probes.lineIds, 'NO-SUCH-LINE']) {
    out[`line(${lineId})`] = await model.line(lineId);
    for (const [r, range] of probes.ranges.entries()) {
      out[`aggregates(${lineId}, range ${r})`] = await model.aggregates(lineId, range);
      for (const deviceId of [...(probes.devices[lineId] ?? []), 'no-such-meter']) {
        out[`aggregates(${lineId}, range ${r}, ${deviceId})`] = await model.aggregates(lineId, range, { deviceId });
      }
      for (const limit of probes.readingLimits) out[`readings(${lineId}, range ${r}, ${limit})`] = await model.readings(lineId, range, limit);
      out[`cvrHours(${lineId}, range ${r})`] = await model.cvrHours(lineId, range);
    }
    out[`alerts(line ${lineId})`] = await model.alerts({ lineId });
    out[`alerts(open, line ${lineId}, limit 1)`] = await model.alerts({ state: 'open', lineId, limit: 1 });
  }
  for (const state of [undefined, 'open', 'raised', 'acknowledged', 'cleared', 'closed'] as const) {
    out[`alerts(${state ?? 'any'})`] = await model.alerts({ state });
    out[`alerts(${state ?? 'any'}, limit 2)`] = await model.alerts({ state, limit: 2 });
  }
  out['alerts(limit 0)'] = await model.alerts({ limit: 0 });
  for (const limit of [-1, 0, 1, 3, 100]) out[`deadLetters(${limit})`] = await model.deadLetters(limit);
  out['deadLetters(3) page by page'] = await deadLetterPages(model, 3, 10);
  out['deadLetterCount()'] = await model.deadLetterCount();
  for (const [r, range] of probes.ranges.entries()) out[`cvrHours(every line, range ${r})`] = await model.cvrHours(null, range);
  return out;
}

/**
 * The ids of the dead letters page by page, each page starting after the last row of the one
 * before, as the API's cursor does; at most `maxPages` (so a model that ignored the position
 * fails the comparison instead of looping).
 */
export async function deadLetterPages(model: ReadModel, limit: number, maxPages: number): Promise<string[][]> {
  const pages: string[][] = [];
  let after: DeadLetterPosition | undefined;
  while (pages.length < maxPages) {
    const page: DeadLetterRow[] = await model.deadLetters(limit, after);
    if (page.length === 0) break;
    pages.push(page.map((row) => row.id));
    const last = page[page.length - 1];
    after = { receivedAt: last.receivedAt, id: last.id };
  }
  return pages;
}
