import * as fs from 'node:fs';
import * as path from 'node:path';

let cached: string | undefined;

/**
 * The Chart.js UMD bundle from node_modules, read once and kept in memory (about 200 kB).
 *
 * chart.js's package "exports" map does not expose dist/chart.umd.min.js, so
 * require.resolve('chart.js/dist/chart.umd.min.js') throws ERR_PACKAGE_PATH_NOT_EXPORTED; its
 * CommonJS entry (dist/chart.cjs) is exported and the UMD bundle sits beside it.
 */
export function chartLibrarySource(): string {
  if (cached === undefined) {
    const entry = require.resolve('chart.js');
    cached = fs.readFileSync(path.join(path.dirname(entry), 'chart.umd.min.js'), 'utf8');
  }
  return cached;
}
