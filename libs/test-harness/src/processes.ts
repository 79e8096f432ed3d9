import * as fs from 'node:fs';

/**
 * PIDs of this machine's processes whose environment has `name=value` (Linux /proc). Services the
 * launcher starts live in process groups of their own, so a test that kills the launcher finds
 * what it left behind this way, to wait for it or to kill it when the test fails.
 */
export function processesWithEnv(name: string, value: string): number[] {
  const wanted = Buffer.from(`${name}=${value}\0`);
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const environ = fs.readFileSync(`/proc/${entry}/environ`);
      if (environ.indexOf(wanted) === 0 || environ.indexOf(Buffer.concat([Buffer.from('\0'), wanted])) >= 0) pids.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

/** SIGKILLs every process whose environment has `name=value`; returns how many there were. */
export function killProcessesWithEnv(name: string, value: string): number {
  const pids = processesWithEnv(name, value);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return pids.length;
}
