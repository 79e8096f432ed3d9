import { spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';

const dist = path.resolve(__dirname, '../../../..');

/**
 * `meterstream replay`: runs the stream processor's replay entry point as a child process, as
 * `start` runs the services (the rebuild is the processor runtime's own, and apps do not import
 * each other). Its output is this command's; resolves with its exit code.
 */
export function replay(): Promise<number> {
  const child = spawn(process.execPath, [path.join(dist, 'apps/stream-processor/src/replay.js')], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0)));
  });
}
