import { loadConfig } from '@meterstream/config';
import { rebuildDerivedState } from './rebuild';

/**
 * `meterstream replay` runs this file (dist/apps/stream-processor/src/replay.js) as a process of
 * its own: the rebuild re-runs this app's processor runtime, and apps do not import each other.
 */
rebuildDerivedState(loadConfig(), (line) => console.log(line)).catch((err: Error) => {
  console.error(`replay failed: ${err.message}`);
  process.exit(1);
});
