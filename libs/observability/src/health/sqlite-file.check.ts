import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ReadinessCheck } from './readiness-check';

/**
 * Readiness of an embedded SQLite database: an open handle keeps answering queries from a file
 * that was deleted or replaced (the data directory removed, a volume swapped), while nothing it
 * commits reaches the file anyone else reads. So this checks the file itself: it is still at its
 * path, it is the same file the service opened (device and inode), and it and its directory are
 * writable (a read-only mount or a permission change fails every commit).
 */
export function sqliteFileCheck(name: string, file: string): ReadinessCheck {
  const opened = identity(file);
  return {
    name,
    check: () => {
      let now: string;
      try {
        now = identity(file);
      } catch (err) {
        throw new Error(`the database file ${file} is gone (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): was DATA_DIR removed? restart the service once it is back`);
      }
      if (opened !== undefined && now !== opened) throw new Error(`the database file ${file} was replaced since the service opened it: restart the service`);
      for (const target of [file, path.dirname(file)]) {
        try {
          fs.accessSync(target, fs.constants.W_OK);
        } catch {
          throw new Error(`${target} is not writable: fix its permissions or mount`);
        }
      }
    },
  };
}

function identity(file: string): string {
  const stat = fs.statSync(file);
  return `${stat.dev}:${stat.ino}`;
}
