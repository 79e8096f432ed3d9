import { balance, isExpired, observe, type BalanceDecision, type LeaseView, type Observation } from './lease-balancing';

const id = (n: number) => `shardId-${String(n).padStart(12, '0')}`;
const all = (n: number) => new Set(Array.from({ length: n }, (_, i) => id(i)));
const DURATION = 1000;

/** Leases observed long enough ago at their current counter that an unrenewed one is expired at `now`. */
function seenAt(leases: LeaseView[], since: number): Map<string, Observation> {
  return new Map(leases.map((l) => [l.shardId, { counter: l.counter, since }]));
}

/** What a decision would do: leases taken, and the one asked for. */
function moves(decision: BalanceDecision): string[] {
  return [...decision.take.map((l) => `take ${l.shardId}`), ...(decision.steal ? [`steal ${decision.steal.shardId}`] : [])];
}

function owned(owners: (string | undefined)[]): LeaseView[] {
  return owners.map((owner, i) => ({ shardId: id(i), owner, counter: 5 }));
}

describe('lease balancing (the taker, without I/O)', () => {
  it('counts a lease as expired only after a whole duration without a counter change on this clock', () => {
    const lease: LeaseView = { shardId: id(0), owner: 'a', counter: 3 };
    let seen = observe(new Map(), [lease], 10_000);
    expect(isExpired(lease, seen, 10_000 + DURATION, DURATION)).toBe(false);
    expect(isExpired(lease, seen, 10_001 + DURATION, DURATION)).toBe(true);
    // A renewal restarts the clock.
    const renewed = { ...lease, counter: 4 };
    seen = observe(seen, [renewed], 10_900);
    expect(isExpired(renewed, seen, 10_001 + DURATION, DURATION)).toBe(false);
    // A lease nobody holds is free at once.
    expect(isExpired({ shardId: id(1), counter: 9 }, new Map(), 0, DURATION)).toBe(true);
  });

  it('a first worker takes every free lease; a second is told to take half by stealing one per round', () => {
    const free = owned(Array(8).fill(undefined));
    const first = balance({ me: 'a', leases: free, observed: seenAt(free, 0), eligible: all(8), now: 1, leaseDurationMs: DURATION });
    expect(first.take.map((l) => l.shardId)).toEqual([...all(8)]);

    const heldByA = owned(Array(8).fill('a'));
    const second = balance({ me: 'b', leases: heldByA, observed: seenAt(heldByA, 0), eligible: all(8), now: 10, leaseDurationMs: DURATION });
    expect(second).toMatchObject({ take: [], target: 4, workers: 2 });
    expect(second.steal).toMatchObject({ shardId: id(7), owner: 'a' });
  });

  it('takes expired leases before stealing, and only up to its share', () => {
    // a died (expired), b and c live: 8 shards over 2 live workers -> 4 each.
    const leases = owned(['a', 'a', 'a', 'b', 'b', 'b', 'c', 'c']);
    const observed = seenAt(leases, 0);
    const now = 5000;
    // b and c renewed recently (their clocks restarted), a did not.
    for (const l of leases) if (l.owner !== 'a') observed.set(l.shardId, { counter: l.counter, since: now - 100 });
    const c = balance({ me: 'c', leases, observed, eligible: all(8), now, leaseDurationMs: DURATION });
    expect(c).toMatchObject({ target: 4, workers: 2 });
    expect(c.take.map((l) => l.shardId)).toEqual([id(0), id(1)]);
    expect(c.steal).toBeUndefined();
  });

  it('reaches an even-ish split and then stays put (no stealing back and forth)', () => {
    const settle = (owners: string[], me: string) => {
      const leases = owned(owners);
      return balance({ me, leases, observed: seenAt(leases, 0), eligible: all(owners.length), now: 10, leaseDurationMs: DURATION });
    };
    // 3,3,2 and a fourth joins: it steals from a worker above the target of 2.
    expect(settle(['a', 'a', 'a', 'b', 'b', 'b', 'c', 'c'], 'd').steal?.owner).toMatch(/^[ab]$/);
    // 2,2,2,2: nobody moves.
    for (const me of ['a', 'b', 'c', 'd']) expect(moves(settle(['a', 'a', 'b', 'b', 'c', 'c', 'd', 'd'], me))).toEqual([]);
    // 5 over 3 = 2,2,1: the one short by one does not steal from a worker at the target.
    const short = settle(['a', 'a', 'b', 'b', 'c'], 'c');
    expect({ moves: moves(short), target: short.target }).toEqual({ moves: [], target: 2 });
  });

  it('hands out only eligible leases (a child waits for its parents)', () => {
    const leases = owned([undefined, undefined, undefined]);
    const decision = balance({ me: 'a', leases, observed: new Map(), eligible: new Set([id(0), id(2)]), now: 0, leaseDurationMs: DURATION });
    expect(decision.take.map((l) => l.shardId)).toEqual([id(0), id(2)]);
  });

  it('counts a lease being handed over to it as its own, so it does not ask for more than its share', () => {
    const leases = owned(['a', 'a', 'a', 'a']);
    leases[3].pendingOwner = 'b';
    leases[2].pendingOwner = 'b';
    const decision = balance({ me: 'b', leases, observed: seenAt(leases, 0), eligible: all(4), now: 10, leaseDurationMs: DURATION });
    expect({ moves: moves(decision), target: decision.target }).toEqual({ moves: [], target: 2 });
  });

  it('does not ask for a lease that is already being handed over', () => {
    const leases = owned(['a', 'a', 'a', 'a']);
    leases[3].pendingOwner = 'c';
    const decision = balance({ me: 'b', leases, observed: seenAt(leases, 0), eligible: all(4), now: 10, leaseDurationMs: DURATION });
    expect(decision.steal?.shardId).toBe(id(2));
  });
});
