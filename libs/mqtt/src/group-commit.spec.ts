import { waitFor } from '@meterstream/test-harness';
import { GroupCommit } from './group-commit';

type Outcome = 'done' | string;

function submitAll(commits: GroupCommit<number>, items: number[], outcomes: Map<number, Outcome>): void {
  for (const i of items) commits.submit(i, (err) => outcomes.set(i, err ? err.message : 'done'));
}

describe('GroupCommit', () => {
  it('batches what arrives while a commit is under way and reports each item done only after its commit', async () => {
    const batches: number[][] = [];
    let release: () => void = () => undefined;
    const commits = new GroupCommit<number>({
      maxBatch: 1000,
      commit: async (items) => {
        batches.push(items);
        if (batches.length === 1) await new Promise<void>((resolve) => (release = resolve));
      },
    });
    const outcomes = new Map<number, Outcome>();
    submitAll(commits, [0], outcomes);
    await waitFor(() => batches.length === 1, { what: 'the first commit' });
    submitAll(commits, [1, 2, 3, 4], outcomes);
    expect(outcomes.size).toBe(0);
    expect(commits.pending).toBe(5);
    release();
    await waitFor(() => outcomes.size === 5, { what: 'every item done' });
    expect(batches).toEqual([[0], [1, 2, 3, 4]]);
    expect([...outcomes.values()].every((o) => o === 'done')).toBe(true);
    expect(commits.counters).toEqual({ submitted: 5, committed: 5, batches: 2, failures: 0 });
  });

  it('retries a failing commit without reporting its items, and at stop reports them and the queue as not committed', async () => {
    const errors: string[] = [];
    const commits = new GroupCommit<number>({
      maxBatch: 2,
      retryMinMs: 10,
      commit: async () => {
        throw new Error('disk I/O error');
      },
      onError: (err) => errors.push(err.message),
    });
    const outcomes = new Map<number, Outcome>();
    submitAll(commits, [1, 2, 3], outcomes);
    await waitFor(() => errors.length >= 3, { what: 'three failed attempts' });
    expect(outcomes.size).toBe(0);
    await commits.stop();
    expect(outcomes.get(1)).toBe('disk I/O error');
    expect(outcomes.get(2)).toBe('disk I/O error');
    expect(outcomes.get(3)).toBe('stopping: not committed');
    commits.submit(4, (err) => outcomes.set(4, err!.message));
    expect(outcomes.get(4)).toBe('stopping: not committed');
  });

  it('forgets discarded queued items without reporting them', async () => {
    let release: () => void = () => undefined;
    let started = false;
    const committed: number[] = [];
    const commits = new GroupCommit<number>({
      maxBatch: 10,
      commit: async (items) => {
        if (!started) {
          started = true;
          await new Promise<void>((resolve) => (release = resolve));
        }
        committed.push(...items);
      },
    });
    const outcomes = new Map<number, Outcome>();
    submitAll(commits, [0], outcomes);
    await waitFor(() => started, { what: 'the first commit under way' });
    submitAll(commits, [1, 2, 3], outcomes);
    commits.discard((i) => i % 2 === 1);
    release();
    await waitFor(() => outcomes.size === 2, { what: 'the kept items done' });
    expect(committed).toEqual([0, 2]);
    expect([...outcomes.keys()].sort()).toEqual([0, 2]);
  });
});
