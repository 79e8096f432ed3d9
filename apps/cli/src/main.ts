import { Command, InvalidArgumentError } from 'commander';
import { cvrEvaluate } from './commands/cvr-evaluate';
import { evaluate } from './commands/evaluate';
import { replay } from './commands/replay';
import { parseHeldOutFraction, retrainCommand } from './commands/retrain';
import { start } from './commands/start';

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
};

const program = new Command()
  .name('meterstream')
  .description('Smart-meter voltage telemetry: MQTT ingest, a durable stream, event-time processing, alerts, REST.');

program
  .command('start')
  .description('run the whole pipeline on embedded defaults (configured by environment variables; see README)')
  .option('--no-simulator', 'do not start the simulated fleet')
  .option('--lines <n>', 'simulated feeder lines', positiveInt, 20)
  .option('--meters-per-line <n>', 'simulated meters per line', positiveInt, 50)
  .option('--speed <x>', 'simulated seconds per real second while catching up to the present', positiveInt, 30)
  .option('--faults <profile>', 'simulated fault profile: demo | none', 'demo')
  .action(async (options) => start(options));

program
  .command('replay')
  .description('rebuild the read model, aggregates and alerts from the readings stream (stop the processor first)')
  .action(async () => {
    process.exitCode = await replay();
  });

program
  .command('retrain')
  .description("refit the voltage model on an event-time range of the readings stream, compare it with the running processor's model on the held-out end of the range, and optionally publish it")
  .requiredOption('--from <time>', 'start of the range (event time): ISO-8601, "now" or relative to now like -6h')
  .option('--to <time>', 'end of the range, exclusive: ISO-8601, "now" or relative like -1h', 'now')
  .option('--held-out <fraction>', 'the last fraction of the range held out to compare the models on', parseHeldOutFraction, 0.2)
  .option('--publish', 'publish the new model to the registry (MODEL_DIR) if it beats the running one', false)
  .option('--force', 'with --publish: publish it even if it does not', false)
  .option('--json', 'print the result as one JSON document instead of a table', false)
  .action(async (options) => {
    const result = await retrainCommand(options);
    // Asked to publish and did not (the new model is no better): a script must be able to tell.
    if (options.publish && result.published === undefined) process.exitCode = 2;
  });

program
  .command('evaluate')
  .description('score the alert rules against a labelled simulated run, next to the original fixed-variance rule')
  .option('--days <n>', 'scored simulated days', positiveInt, 7)
  .option('--training-days <n>', 'simulated days before scoring, in which the model learns', positiveInt, 1)
  .option('--lines <n>', 'feeder lines', positiveInt, 20)
  .option('--meters-per-line <n>', 'meters per line', positiveInt, 50)
  .option('--interval <seconds>', 'seconds between a meter\'s readings', positiveInt, 15)
  .option('--seed <n>', 'simulator seed', positiveInt, 7)
  .option('--start <iso>', 'simulated start (UTC)', '2026-11-02T00:00:00Z')
  .option('--json', 'also print the whole result as one JSON line', false)
  .action((options) => {
    evaluate(options);
  });

program
  .command('cvr')
  .description('conservation voltage reduction: with --evaluate, estimate every line\'s CVR factor, savings and safe setpoint on a simulated programme with known truth')
  .requiredOption('--evaluate', 'run the evaluation on simulated data (the analysis of a data directory is not built yet)')
  .option('--lines <n>', 'feeder lines', positiveInt, 8)
  .option('--meters-per-line <n>', 'meters per line', positiveInt, 25)
  .option('--days <n>', 'simulated days (pairs of days: one reduced, one normal)', positiveInt, 56)
  .option('--interval <minutes>', 'minutes between a meter\'s readings', positiveInt, 15)
  .option('--seed <n>', 'simulator seed', positiveInt, 12)
  .option('--start <iso>', 'simulated start: local midnight of the first day', '2026-06-01T07:00:00Z')
  .option('--time-zone <iana>', 'the utility\'s time zone (schedules switch at its midnight)', 'America/Los_Angeles')
  .option('--margin <volts>', 'kept above 114 V when recommending a setpoint', (v) => {
    const n = Number(v);
    if (!(n >= 0 && n < 10)) throw new InvalidArgumentError('expected volts, 0–10');
    return n;
  }, 1)
  .option('--json', 'also print the per-line results as one JSON line', false)
  .action((options) => {
    const result = cvrEvaluate({ ...options, timeZone: options.timeZone, marginV: options.margin });
    if (!result.acceptance.passed) process.exitCode = 2;
  });

program.parseAsync().catch((err: Error) => {
  console.error(`meterstream: ${err.message}`);
  process.exit(1);
});
