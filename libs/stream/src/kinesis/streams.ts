import { CreateStreamCommand, DescribeStreamSummaryCommand, type DescribeStreamSummaryCommandOutput } from '@aws-sdk/client-kinesis';
import type { KinesisSender } from './client';
import { errorName } from './errors';

const STREAM_NAME = /^[a-zA-Z0-9_.-]{1,128}$/;

export interface KinesisStreamsOptions {
  /** Port stream `readings` is Kinesis stream `${prefix}readings`. */
  prefix: string;
  /** Shard count of a stream created here. */
  shards: number;
  /** How long a new stream may take to become ACTIVE. */
  activeTimeoutMs: number;
}

/** The Kinesis streams behind port streams: named by prefix, created on first use, waited for until ACTIVE. */
export class KinesisStreams {
  /** Kinesis stream name -> resolves once the stream exists and is ACTIVE. */
  private readonly streams = new Map<string, Promise<void>>();

  constructor(
    private readonly client: KinesisSender,
    private readonly options: KinesisStreamsOptions,
  ) {}

  /** The Kinesis stream behind a port stream. */
  nameOf(stream: string): string {
    const name = `${this.options.prefix}${stream}`;
    if (!STREAM_NAME.test(name)) throw new Error(`"${name}" is not a valid Kinesis stream name (1-128 of a-z A-Z 0-9 _ . -)`);
    return name;
  }

  /** The Kinesis stream of a port stream, created and ACTIVE (once per stream and process). */
  ready(stream: string): Promise<string> {
    const name = this.nameOf(stream);
    let ready = this.streams.get(name);
    if (!ready) {
      ready = this.createIfAbsent(name);
      this.streams.set(name, ready);
      // A failure is not remembered: the next call tries again.
      ready.catch(() => this.streams.delete(name));
    }
    return ready.then(() => name);
  }

  private async createIfAbsent(name: string): Promise<void> {
    const timeoutMs = this.options.activeTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    let waitMs = 25;
    for (;;) {
      const status = await this.status(name);
      if (status === 'ACTIVE' || status === 'UPDATING') return; // UPDATING (a reshard) still reads and writes
      if (status === null) {
        try {
          await this.client.send(new CreateStreamCommand({ StreamName: name, ShardCount: this.options.shards }));
        } catch (error) {
          // Another instance created it first: wait for ACTIVE like it does.
          if (errorName(error) !== 'ResourceInUseException') throw error;
        }
      }
      if (Date.now() > deadline) throw new Error(`Kinesis stream ${name} is not ACTIVE after ${timeoutMs} ms (status ${status ?? 'absent'})`);
      await sleep(waitMs);
      waitMs = Math.min(waitMs * 2, 2000);
    }
  }

  /** The stream's status, or null if it does not exist. */
  private async status(name: string): Promise<string | null> {
    try {
      const out = (await this.client.send(new DescribeStreamSummaryCommand({ StreamName: name }))) as DescribeStreamSummaryCommandOutput;
      return out.StreamDescriptionSummary?.StreamStatus ?? null;
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') return null;
      throw error;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
