import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { freePort, waitFor } from '@meterstream/test-harness';

export const MOSQUITTO = '/usr/sbin/mosquitto';
export const MOSQUITTO_PASSWD = '/usr/bin/mosquitto_passwd';

/** Fails loudly (never skips) when a Mosquitto binary is not installed. */
export function requireMosquittoBinaries(...binaries: string[]): void {
  for (const binary of binaries) {
    if (!fs.existsSync(binary)) throw new Error(`${binary} is missing: run \`bash scripts/engines/mosquitto.sh\` (installs the Debian packages mosquitto and mosquitto-clients)`);
  }
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A Mosquitto of a test's own, run from `conf` with its files in `dir` (written by the test before
 * start()), so a suite can give it a configuration the shared engine broker does not have (the
 * shipped ACLs, TLS) and stop or kill it. The test kills it in afterAll; `process.once('exit')`
 * with killNow covers a test process that dies first.
 */
export class OwnMosquitto {
  private child: ChildProcess | undefined;
  readonly logFile: string;
  private readonly confFile: string;

  constructor(
    private readonly dir: string,
    readonly port: number,
    conf: (files: { logFile: string }) => string,
  ) {
    this.logFile = path.join(dir, 'mosquitto.log');
    this.confFile = path.join(dir, 'mosquitto.conf');
    this.configure(conf);
  }

  /** Writes its configuration; a running broker reads it at its next start(). */
  configure(conf: (files: { port: number; logFile: string }) => string): void {
    fs.writeFileSync(this.confFile, conf({ port: this.port, logFile: this.logFile }));
  }

  /**
   * A Mosquitto on a free port of 127.0.0.1, started, and killed if the test process exits first;
   * close() it in afterAll.
   */
  static async launch(dir: string, conf: (files: { port: number; logFile: string }) => string): Promise<OwnMosquitto> {
    requireMosquittoBinaries(MOSQUITTO);
    const port = await freePort();
    const broker = new OwnMosquitto(dir, port, ({ logFile }) => conf({ port, logFile }));
    process.once('exit', broker.killOnExit);
    await broker.start();
    return broker;
  }

  private readonly killOnExit = () => this.killNow();

  /** Stops it and forgets the exit hook launch() set. */
  async close(): Promise<void> {
    await this.stop();
    process.removeListener('exit', this.killOnExit);
  }

  log(): string {
    return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, 'utf8') : '(no log)';
  }

  async start(): Promise<void> {
    // Started as root, Mosquitto drops to the `mosquitto` user: it must read its files and write its data.
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'mosquitto']).toString().trim());
      const gid = Number(execFileSync('id', ['-g', 'mosquitto']).toString().trim());
      const own = (entry: string) => {
        fs.chownSync(entry, uid, gid);
        if (fs.statSync(entry).isDirectory()) for (const name of fs.readdirSync(entry)) own(path.join(entry, name));
      };
      own(this.dir);
    }
    const child = spawn(MOSQUITTO, ['-c', this.confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    const early: string[] = [];
    child.stdout?.on('data', (c: Buffer) => early.push(c.toString()));
    child.stderr?.on('data', (c: Buffer) => early.push(c.toString()));
    this.child = child;
    await waitFor(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`mosquitto exited (${child.exitCode ?? child.signalCode}): ${early.join('')}\n${this.log()}`);
        }
        return portOpen(this.port);
      },
      { what: `Mosquitto on 127.0.0.1:${this.port}`, timeoutMs: 15_000 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nlog:\n${this.log()}`);
    });
  }

  /** SIGTERM (Mosquitto saves its persistence file), SIGKILL if it hangs. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  killNow(): void {
    this.child?.kill('SIGKILL');
  }
}
