import * as fs from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { loadConfig, type Config } from '@meterstream/config';
import { FileModelRegistry } from '@meterstream/model-registry';
import { retrain, RetrainError, runningModelFromSnapshots, type RetrainProgress, type RetrainResult } from '@meterstream/model-training';
import { decodeCheckpoint, PROCESSOR_GROUP, type VoltageModelVersion } from '@meterstream/processing';
import { createStreamLog, openEmbeddedDatabase, SqliteCheckpointStore } from '@meterstream/stream';

export interface RetrainCommandOptions {
  /** ISO-8601, "now", or relative to now like -6h. */
  from: string;
  to: string;
  heldOut: number;
  publish: boolean;
  force: boolean;
  json: boolean;
}

export interface RetrainCommandIo {
  out?: (line: string) => void;
  /** Progress while reading (carriage returns, no newline until done); stderr by default. */
  progress?: (text: string) => void;
  now?: () => number;
  config?: Config;
}

/** Where the model to beat came from, for the table. */
export interface RunningModelSource {
  kind: 'checkpoint' | 'registry' | 'none';
  /** The published version it started from (checkpoint) or is (registry); 0 = learned online only. */
  version: number;
  lines: VoltageModelVersion['lines'] | null;
}

/** The stream processor's checkpoint name in the embedded database (processor.module.ts). */
const PROGRESS_EVERY_MS = 250;

/**
 * `meterstream retrain`: refits the voltage model on an event-time range of the readings stream,
 * scores it against the model the processor is running on the held-out end of the range, prints
 * the comparison (a table, or JSON with --json) and, with --publish, publishes it to the model
 * registry, where the running processor picks it up without a restart.
 */
export async function retrainCommand(options: RetrainCommandOptions, io: RetrainCommandIo = {}): Promise<RetrainResult> {
  const out = io.out ?? console.log;
  const progress = io.progress ?? ((text: string) => process.stderr.write(text));
  const now = io.now ?? Date.now;
  const config = io.config ?? loadConfig();
  const at = now();
  const from = parseTimeArgument('--from', options.from, at);
  const to = parseTimeArgument('--to', options.to, at);
  if (!(from < to)) throw new RetrainError(`empty range: --from (${new Date(from).toISOString()}) must be before --to (${new Date(to).toISOString()})`);
  if (config.STREAM_BACKEND === 'embedded' && !fs.existsSync(config.databaseFile)) {
    throw new RetrainError(`no embedded database at ${config.databaseFile}: nothing has been ingested under DATA_DIR=${config.dataDir}`);
  }

  const registry = new FileModelRegistry(config.modelDir);
  const running = loadRunningModel(config, registry);
  const log = createStreamLog(config);
  let lastShown = -Infinity;
  /** A progress line written without its newline (it is rewritten in place). */
  let pendingLine = false;
  const onProgress = (p: RetrainProgress) => {
    if (p.phase === 'reading') {
      if (now() - lastShown < PROGRESS_EVERY_MS) return;
      lastShown = now();
      pendingLine = true;
      const rate = p.elapsedMs > 0 ? Math.round((p.records * 1000) / p.elapsedMs) : 0;
      progress(`\rretrain: read ${count(p.records)} readings from the stream, ${count(p.readings)} in range (${count(rate)} readings/s)`);
    } else if (p.phase === 'fitting') {
      pendingLine = false;
      progress(`\rretrain: read ${count(p.records)} readings from the stream, ${count(p.readings)} in range, in ${(p.elapsedMs / 1000).toFixed(1)} s\nretrain: fitting…\n`);
    } else if (p.phase === 'evaluating') {
      progress('retrain: scoring both models on the held-out readings…\n');
    }
  };
  let result: RetrainResult;
  try {
    result = await retrain({
      log,
      from,
      to,
      heldOutFraction: options.heldOut,
      registry,
      runningModel: running.lines,
      publish: options.publish,
      force: options.force,
      onProgress,
      now,
    });
  } finally {
    if (pendingLine) progress('\n'); // so an error message starts on a line of its own
    await log.close();
  }
  if (options.json) {
    const { model: _model, ...printable } = result;
    out(JSON.stringify({ ...printable, runningModel: { source: running.kind, version: running.version }, modelDir: config.modelDir }));
  } else {
    for (const line of formatRetrainResult(result, running, config.modelDir, options)) out(line);
  }
  return result;
}

/**
 * The model the processor runs right now: the voltage-model state in its partitions' checkpoints
 * (the version it installed plus what it learned online since). Without a checkpoint, the newest published
 * version; without that, none (the comparison is with a model learning from scratch).
 */
export function loadRunningModel(config: Config, registry: FileModelRegistry): RunningModelSource {
  if (config.STREAM_BACKEND === 'embedded' && fs.existsSync(config.databaseFile)) {
    const db = openEmbeddedDatabase(config.databaseFile);
    try {
      const saved = new SqliteCheckpointStore(db).loadAllSync(PROCESSOR_GROUP);
      const running = runningModelFromSnapshots([...saved].map(([partition, text]) => decodeCheckpoint(partition, text).topology));
      if (running !== null) return { kind: 'checkpoint', version: running.version, lines: running.lines };
    } finally {
      db.close();
    }
  }
  const latest = registry.latest();
  if (latest !== null) return { kind: 'registry', version: latest.version, lines: latest.lines };
  return { kind: 'none', version: 0, lines: null };
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** "now", a time relative to now ("-6h", "-90m", "-2d"; s, m, h, d, w) or an ISO-8601 time; epoch ms. */
export function parseTimeArgument(name: string, value: string, now: number): number {
  const text = value.trim();
  if (text === 'now') return now;
  const relative = /^-(\d+(?:\.\d+)?)([smhdw])$/.exec(text);
  if (relative !== null) return now - Number(relative[1]) * UNIT_MS[relative[2]];
  const ms = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms)) throw new RetrainError(`${name}: "${value}" is not an ISO-8601 time, "now" or a time relative to now like -6h (units s, m, h, d, w)`);
  return ms;
}

/** commander parser for --held-out. */
export function parseHeldOutFraction(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError('expected a fraction between 0 and 1, like 0.2');
  return n;
}

export function formatRetrainResult(r: RetrainResult, running: RunningModelSource, modelDir: string, options: Pick<RetrainCommandOptions, 'publish'>): string[] {
  const runningName =
    running.kind === 'checkpoint'
      ? `running model (checkpoint${running.version > 0 ? `, from v${running.version}` : ', online only'})`
      : running.kind === 'registry'
        ? `published v${running.version}`
        : 'online from scratch';
  const lines: string[] = [];
  lines.push(`retrain: readings with event time ${iso(r.range.from)} → ${iso(r.range.to)}`);
  lines.push(`  in range      ${count(r.readings)} readings (${count(r.duplicates)} duplicate deliveries dropped), ${r.lines} lines, ${count(r.meters)} meters`);
  lines.push(`  trained on    ${count(r.trainedOn.readings)} readings, ${iso(r.trainedOn.from)} → ${iso(r.trainedOn.to)}`);
  lines.push(`  held out      ${count(r.heldOut.readings)} readings, ${iso(r.heldOut.from)} → ${iso(r.heldOut.to)}`);
  lines.push('');
  const width = Math.max(13, runningName.length);
  lines.push(`  held-out error            ${'new model'.padStart(11)}  ${runningName.padStart(width)}`);
  lines.push(`  readings (MAE)            ${volts(r.newModelMae).padStart(11)}  ${volts(r.runningModelMae).padStart(width)}`);
  lines.push(`  line windows (MAE)        ${volts(r.baselineMae.newModel).padStart(11)}  ${volts(r.baselineMae.runningModel).padStart(width)}`);
  lines.push(`  model alerts raised       ${String(r.alertsRaised.newModel).padStart(11)}  ${String(r.alertsRaised.runningModel).padStart(width)}`);
  lines.push('');
  lines.push('  line     train rows  held out  new MAE  running MAE');
  for (const l of r.perLine) {
    lines.push(`  ${l.lineId.padEnd(7)} ${count(l.rows?.readingRows ?? 0).padStart(11)} ${count(l.heldOutReadings).padStart(9)} ${volts(l.newModelMae).padStart(8)} ${volts(l.runningModelMae).padStart(12)}`);
  }
  lines.push('');
  const percent = r.runningModelMae > 0 ? ` (${((100 * r.improvement) / r.runningModelMae).toFixed(1)} %)` : '';
  const verdict =
    r.verdict === 'better'
      ? `the new model is better: ${volts(r.improvement)} lower error${percent}`
      : r.verdict === 'worse'
        ? `the new model is WORSE: ${volts(-r.improvement)} higher error${percent}`
        : 'the new model is no better and no worse';
  lines.push(`  verdict       ${verdict}`);
  if (r.published !== undefined) lines.push(`  published     version ${r.published} to ${modelDir} (a running processor installs it within seconds)`);
  else if (r.notPublished !== undefined) lines.push(`  not published ${r.notPublished.replace('with force', 'with --force')}`);
  else if (!options.publish) lines.push('  not published (pass --publish to publish it)');
  return lines;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

function volts(v: number): string {
  return Number.isFinite(v) ? `${v.toFixed(3)} V` : '—';
}
