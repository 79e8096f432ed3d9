import * as fs from 'node:fs';
import * as path from 'node:path';
import type { VoltageModelVersion } from '@meterstream/processing';

const FILE = /^voltage-model-v(\d+)\.json$/;

/**
 * The model registry on the embedded default: one JSON file per published version in a folder
 * (`voltage-model-v000003.json`). Publishing writes a temporary file and renames it, so a reader
 * never sees half a model; versions only go up. A processor polls `latest()` — one readdir when
 * the folder changed, nothing otherwise — and installs a newer version without a restart.
 */
export class FileModelRegistry {
  private cachedMtime = -1;
  private cached: VoltageModelVersion | null = null;

  constructor(readonly dir: string) {}

  /** The highest published version number, 0 when none. */
  latestVersion(): number {
    return Math.max(0, ...this.versions());
  }

  /** The newest published model, or null. Cheap to call often. */
  latest(): VoltageModelVersion | null {
    let mtime: number;
    try {
      mtime = fs.statSync(this.dir).mtimeMs;
    } catch {
      return null; // nothing published yet
    }
    if (mtime === this.cachedMtime) return this.cached;
    const newest = this.latestVersion();
    this.cached = newest === 0 ? null : this.load(newest);
    this.cachedMtime = mtime;
    return this.cached;
  }

  load(version: number): VoltageModelVersion {
    const file = path.join(this.dir, fileName(version));
    const model = JSON.parse(fs.readFileSync(file, 'utf8')) as VoltageModelVersion;
    if (model.version !== version) throw new Error(`${file} says it is version ${model.version}`);
    return model;
  }

  /** Publishes a model as the next version (its `version` field is set here); returns it. */
  publish(model: Omit<VoltageModelVersion, 'version'>): VoltageModelVersion {
    fs.mkdirSync(this.dir, { recursive: true });
    const published: VoltageModelVersion = { ...model, version: this.latestVersion() + 1 };
    const target = path.join(this.dir, fileName(published.version));
    const temporary = `${target}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, JSON.stringify(published));
    fs.renameSync(temporary, target);
    return published;
  }

  private versions(): number[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return [];
    }
    return names.map((name) => FILE.exec(name)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1]));
  }
}

function fileName(version: number): string {
  return `voltage-model-v${String(version).padStart(6, '0')}.json`;
}
