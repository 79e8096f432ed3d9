import { Command, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { mqttTlsNamespace, mqttTlsOptions } from '@meterstream/config';
import type { FaultSpec } from '../faults/fault-spec';
import type { RunSimulatorOptions } from '../publishing/run-simulator';
import { parseDuration, parseStart } from './time-arguments';

/** What the command line asks for: the runSimulator options plus how to report. */
export interface CliSettings {
  run: Omit<RunSimulatorOptions, 'signal' | 'onProgress'>;
  /** How often to print a progress line, ms. */
  progressEveryMs: number;
}

const wholeNumber = (min: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected a whole number of at least ${min}`);
  return n;
};
const positiveNumber = (value: string) => {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a positive number');
  return n;
};
const nonNegativeNumber = (value: string) => {
  const n = Number(value);
  if (!(n >= 0) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number >= 0');
  return n;
};
const asArgument =
  <T>(parse: (value: string) => T) =>
  (value: string): T => {
    try {
      return parse(value);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };

export function buildCommand(env: NodeJS.ProcessEnv): Command {
  const defaultBroker = env.MQTT_URL ?? `mqtt://${env.MQTT_HOST ?? '127.0.0.1'}:${env.MQTT_PORT ?? '1883'}`;
  return new Command()
    .name('simulate')
    .description(
      'A deterministic fleet of smart meters on feeder lines, publishing readings to line/{lineId}/SmartMeterData ' +
        'with labelled faults. Times are UTC. The same options and seed give byte-identical messages.',
    )
    .option('--broker <url>', 'MQTT broker URL (env MQTT_URL, or MQTT_HOST and MQTT_PORT); for mqtts:// TLS comes from env MQTT_CA_FILE, MQTT_CERT_FILE, MQTT_KEY_FILE (or their _PEM forms)', defaultBroker)
    .option('--username <name>', 'MQTT username (env MQTT_USERNAME)', env.MQTT_USERNAME || undefined)
    .addOption(new Option('--password <secret>', 'MQTT password; prefer env MQTT_PASSWORD, which ps does not show').default(env.MQTT_PASSWORD || undefined, 'env MQTT_PASSWORD'))
    .option('--client-id <id>', 'MQTT client id (default: random)')
    .option('--lines <n>', 'feeder lines', wholeNumber(1), 20)
    .option('--meters-per-line <n>', 'meters on each line', wholeNumber(1), 50)
    .option('--interval <duration>', 'each meter reports every <duration> of simulated time', asArgument((v) => parseDuration(v)), 15_000)
    .option('--seed <n>', 'random seed', wholeNumber(0), 42)
    .option('--start <when>', 'simulated start: now, now-1h, an ISO-8601 time (UTC) or epoch ms', 'now')
    .option('--duration <duration>', 'simulated duration: 15s, 5m, 1h, 24h, 7d or forever', 'forever')
    .option('--speed <x>', 'simulated ms per real ms; 0 = as fast as possible', nonNegativeNumber, 1)
    .option('--no-catch-up', 'keep running ahead of the wall clock instead of slowing to real time once simulated time reaches now')
    .addOption(new Option('--qos <level>', 'MQTT QoS').choices(['0', '1']).default('1'))
    .option('--faults <profile|file>', 'demo, none, or a JSON file holding an array of fault specs', 'demo')
    .option('--labels <file>', 'write ground-truth labels as JSON Lines to <file>')
    .option('--state <file>', 'continue the run recorded in <file> where it stopped (same fleet options; labels appended), and record progress there')
    .option('--rate <n>', 'at most <n> messages per second', positiveNumber)
    .option('--max-in-flight <n>', 'publishes awaiting acknowledgement at most', wholeNumber(1), 1000)
    .option('--progress-every <duration>', 'how often to print progress', asArgument((v) => parseDuration(v)), 5_000)
    .showHelpAfterError();
}

/** Parses argv (as in process.argv) into settings; throws on anything it cannot use. */
export function parseCliArgs(argv: string[], env: NodeJS.ProcessEnv, now: number): CliSettings {
  const command = buildCommand(env).exitOverride();
  command.parse(argv);
  const o = command.opts();
  const intervalMs = o.interval as number;
  if (intervalMs < 1) throw new Error('--interval must be at least 1ms');
  const run: CliSettings['run'] = {
    brokerUrl: o.broker,
    username: o.username,
    password: o.password,
    // The services' TLS variables (MQTT_CA_*, MQTT_CERT_*, MQTT_KEY_*), checked the same way.
    tls: mqttTlsOptions(mqttTlsNamespace.load(env)),
    clientId: o.clientId,
    seed: o.seed,
    lines: o.lines,
    metersPerLine: o.metersPerLine,
    intervalMs,
    start: parseStart(o.start, now, intervalMs),
    durationMs: parseDuration(o.duration, { allowForever: true }),
    speed: o.speed,
    catchUpToNow: o.catchUp,
    qos: o.qos === '0' ? 0 : 1,
    faults: parseFaults(o.faults),
    labelsFile: o.labels,
    stateFile: o.state,
    rate: o.rate,
    maxInFlight: o.maxInFlight,
  };
  return { run, progressEveryMs: o.progressEvery };
}

function parseFaults(value: string): CliSettings['run']['faults'] {
  if (value === 'demo' || value === 'none') return value;
  let specs: unknown;
  try {
    specs = JSON.parse(readFileSync(value, 'utf8'));
  } catch (err) {
    throw new Error(`--faults ${value}: not demo, none or a readable JSON file (${(err as Error).message})`);
  }
  if (!Array.isArray(specs)) throw new Error(`--faults ${value}: the file must hold a JSON array of fault specs`);
  return specs as FaultSpec[];
}
