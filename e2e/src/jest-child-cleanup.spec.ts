import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTempDir, ROOT } from '@meterstream/test-harness';

/** Alive and not a zombie waiting for its reaper. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Issue 13: a test that times out before its cleanup must not leave its child processes running
 * (they would keep jest, and CI, waiting: "Jest did not exit one second after the test run has
 * completed"). scripts/jest/child-process-environment.js, every suite's test environment, kills
 * them when the test file is done. Shown on a jest of its own running a fixture whose test starts
 * a child with open pipes and times out.
 */
describe('the test environment', () => {
  it('kills the child process of a test that timed out, and jest exits', async () => {
    const temp = makeTempDir('meterstream-jest-child-');
    try {
      const pidFile = path.join(temp.dir, 'child.pid');
      const config = {
        rootDir: ROOT,
        testEnvironment: '<rootDir>/scripts/jest/child-process-environment.js',
        testMatch: ['<rootDir>/e2e/fixtures/leaves-a-child.fixture.js'],
        testTimeout: 3_000,
        transform: {},
      };
      const jest = spawn(process.execPath, [require.resolve('jest/bin/jest'), '--config', JSON.stringify(config), '--runInBand', '--ci'], {
        cwd: ROOT,
        env: { ...process.env, MS_FIXTURE_PID_FILE: pidFile },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      jest.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      jest.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      // Without the environment this jest never exits (the child's pipes hold it); then this test times out.
      const code = await new Promise<number | null>((resolve) => jest.once('close', (c) => resolve(c)));

      expect(code).toBe(1);
      expect(output).toMatch(/Exceeded timeout of 3000 ms/);
      expect(output).toMatch(/\[jest\] e2e\/fixtures\/leaves-a-child\.fixture\.js left 1 process\(es\) running after its tests; killed them/);
      const pid = Number(fs.readFileSync(pidFile, 'utf8'));
      expect(pid).toBeGreaterThan(0);
      expect(output).toContain(`  ${pid} ${process.execPath} -e setInterval`);
      expect(running(pid)).toBe(false);
    } finally {
      temp.cleanup();
    }
  }, 120_000);
});
