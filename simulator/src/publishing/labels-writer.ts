import { once } from 'node:events';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import type { FaultLabel, MessageLabel } from '../faults/fault-spec';

/** Ground-truth labels as JSON Lines, one label per line, in the order they happen. */
export class LabelsWriter {
  private constructor(private readonly stream: WriteStream) {}

  /** Creates the file (and its folder); truncates it, or appends when a run continues. */
  static async open(path: string, append = false): Promise<LabelsWriter> {
    mkdirSync(dirname(path), { recursive: true });
    const stream = createWriteStream(path, { flags: append ? 'a' : 'w' });
    await once(stream, 'open');
    return new LabelsWriter(stream);
  }

  write(label: FaultLabel | MessageLabel): void {
    // Labels are rare (well under 1 % of messages), so the stream's buffer is enough back-pressure.
    this.stream.write(`${JSON.stringify(label)}\n`);
  }

  async close(): Promise<void> {
    this.stream.end();
    await once(this.stream, 'finish');
  }
}
