// The test environment of every suite: jest's node environment, plus a guarantee that no process a
// test file started outlives the file. A test that fails or times out before its own cleanup (a
// stream processor, a whole `npm start`) would otherwise keep running, and with it the runner:
// "Jest did not exit one second after the test run has completed", holding CI until its limit.
//
// How: each test file gets a mark in its environment (MS_TEST_FILE), which every process it
// starts inherits — children, their children, services a launcher detached into process groups
// of their own, processes that lost their parent. When the file is done (after its own afterAll
// hooks), teardown finds the processes still carrying the mark in /proc and SIGKILLs them, and
// says so loudly on stderr: a passing test that leaves a process behind has a cleanup bug.
const { Buffer } = require('node:buffer');
const fs = require('node:fs');
const path = require('node:path');
const { TestEnvironment } = require('jest-environment-node');

const MARK = 'MS_TEST_FILE';

/** PIDs (other than ours) whose environment has MARK=value, with their command lines. */
function markedProcesses(value) {
  const wanted = Buffer.from(`${MARK}=${value}\0`);
  const found = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const environ = fs.readFileSync(`/proc/${entry}/environ`);
      if (environ.indexOf(wanted) !== 0 && environ.indexOf(Buffer.concat([Buffer.from('\0'), wanted])) < 0) continue;
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`).toString().split('\0').join(' ').trim();
      found.push({ pid: Number(entry), cmdline });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** SIGKILLs every process still carrying the mark; returns what it found. */
function killMarked(value) {
  const found = markedProcesses(value);
  for (const { pid } of found) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return found;
}

class ChildProcessEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    this.testFile = path.relative(config.globalConfig.rootDir, context.testPath);
    this.mark = `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  }

  async setup() {
    await super.setup();
    // Both: the test file's `process.env` (a copy jest makes) for children spawned with
    // `{ ...process.env, ... }`, and the worker's own for children spawned without an env.
    this.global.process.env[MARK] = this.mark;
    process.env[MARK] = this.mark;
  }

  async teardown() {
    const left = killMarked(this.mark);
    if (left.length > 0) {
      process.stderr.write(
        `\n[jest] ${this.testFile} left ${left.length} process(es) running after its tests; killed them (a test that failed or timed out before its cleanup, or a cleanup that misses them):\n` +
          left.map(({ pid, cmdline }) => `  ${pid} ${cmdline.slice(0, 200)}\n`).join(''),
      );
    }
    if (process.env[MARK] === this.mark) delete process.env[MARK];
    await super.teardown();
  }
}

module.exports = ChildProcessEnvironment;
module.exports.markedProcesses = markedProcesses;
module.exports.MARK = MARK;
