import { spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { buildOnce, forEachOutputLine, freePort, killProcessesWithEnv, makeTempDir, processesWithEnv, ROOT } from '@meterstream/test-harness';

/**
 * A service that cannot start (here: the API's port is taken) exits non-zero once; the launcher
 * does not restart it in a loop while the rest of the pipeline runs half-alive, but stops
 * everything with that service's own message and exits non-zero.
 */
describe('npm start when a service cannot start', () => {
  beforeAll(() => buildOnce());

  it('stops the whole pipeline with the service’s message and exits 1, without restarting it', async () => {
    const temp = makeTempDir('meterstream-start-failure-');
    const blocker = net.createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    const lines: string[] = [];
    try {
      const launcher = spawn(process.execPath, [path.join(ROOT, 'dist/apps/cli/src/main.js'), 'start', '--no-simulator'], {
        cwd: ROOT,
        env: { ...process.env, DATA_DIR: temp.dir, PORT: String(port), HOST: '127.0.0.1', MQTT_PORT: String(await freePort()) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      forEachOutputLine(launcher, (line) => lines.push(line));
      const exitCode = await new Promise<number | null>((resolve) => launcher.once('exit', (code) => resolve(code)));
      const output = lines.join('\n');
      expect(exitCode).toBe(1);
      expect(output).toMatch(/The api could not start \(code 1\): .*EADDRINUSE/);
      expect(output).toContain('Fix that and run npm start again.');
      expect(output).not.toContain('restarting in');
      expect(output).not.toContain('meterstream is running.');
      // Every service of this run is gone (they alone carry this DATA_DIR).
      expect(processesWithEnv('DATA_DIR', temp.dir)).toEqual([]);
    } finally {
      killProcessesWithEnv('DATA_DIR', temp.dir);
      blocker.close();
      temp.cleanup();
    }
  }, 180_000);
});
