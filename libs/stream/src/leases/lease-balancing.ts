import { compareShardIds } from '../kinesis/shard-lineage';

/**
 * The decisions of a lease taker, without I/O (the Kinesis Client Library's lease taker, in a
 * few rules). Given every lease of a group as the table holds it and what this worker has
 * observed of them, it answers which leases to take and which one to steal.
 *
 * - A lease is expired when it has no owner, or when its counter has not moved for a whole
 *   lease duration as measured on THIS worker's clock (from the moment this worker first saw
 *   that counter value): clocks of different hosts are never compared.
 * - Only eligible leases are handed out: not drained (a closed shard whose group position is at
 *   its end), and every parent drained (a child shard waits until its parents are checkpointed
 *   to their end, so per-key order holds across a reshard).
 * - The target is an even share: ceil(eligible / live workers), live = owners of unexpired
 *   leases plus this worker. Below target, a worker takes expired leases first; if there are
 *   none, it asks the most loaded worker for one lease (a steal) when that worker holds more
 *   than the target, or exactly the target while this one is short by two or more. One steal
 *   per round keeps a joining worker from stripping another in one go.
 */

export interface LeaseView {
  shardId: string;
  /** Absent: nobody holds it. */
  owner?: string;
  counter: number;
  /** A worker asked the owner to hand this lease over (a steal in progress). */
  pendingOwner?: string;
}

export interface Observation {
  counter: number;
  /** This worker's clock when it first saw `counter` (epoch ms). */
  since: number;
}

export interface BalanceInput {
  me: string;
  leases: readonly LeaseView[];
  /** shardId -> the last counter seen and since when (updated by observe()). */
  observed: ReadonlyMap<string, Observation>;
  /** Shards that may be handed out now (not drained, parents drained). */
  eligible: ReadonlySet<string>;
  now: number;
  leaseDurationMs: number;
}

export interface BalanceDecision {
  /** Expired eligible leases to take now, in shard order. */
  take: LeaseView[];
  /** A live lease of the most loaded worker to ask for (at most one per round). */
  steal?: LeaseView;
  /** The even share this worker aims at. */
  target: number;
  /** Live workers counted, this one included. */
  workers: number;
}

/** Records the counters seen in a listing: a changed counter restarts its expiry clock. */
export function observe(previous: ReadonlyMap<string, Observation>, leases: readonly LeaseView[], now: number): Map<string, Observation> {
  const next = new Map<string, Observation>();
  for (const lease of leases) {
    const seen = previous.get(lease.shardId);
    next.set(lease.shardId, seen !== undefined && seen.counter === lease.counter ? seen : { counter: lease.counter, since: now });
  }
  return next;
}

export function isExpired(lease: LeaseView, observed: ReadonlyMap<string, Observation>, now: number, leaseDurationMs: number): boolean {
  if (lease.owner === undefined) return true;
  const seen = observed.get(lease.shardId);
  // Not seen at this counter before: its clock starts now, so it is not expired yet.
  if (seen === undefined || seen.counter !== lease.counter) return false;
  return now - seen.since > leaseDurationMs;
}

export function balance(input: BalanceInput): BalanceDecision {
  const { me, now, leaseDurationMs, observed } = input;
  const eligible = input.leases.filter((l) => input.eligible.has(l.shardId)).sort((a, b) => compareShardIds(a.shardId, b.shardId));
  const live = eligible.filter((l) => !isExpired(l, observed, now, leaseDurationMs));
  const load = new Map<string, number>([[me, 0]]);
  // A lease being handed over to this worker counts as its own already, so it does not ask twice.
  for (const lease of live) {
    const holder = lease.pendingOwner === me ? me : lease.owner!;
    load.set(holder, (load.get(holder) ?? 0) + 1);
  }
  const workers = load.size;
  const target = eligible.length === 0 ? 0 : Math.ceil(eligible.length / workers);
  const mine = load.get(me) ?? 0;
  if (mine >= target) return { take: [], target, workers };

  const expired = eligible.filter((l) => isExpired(l, observed, now, leaseDurationMs) && l.owner !== me);
  const take = expired.slice(0, target - mine);
  if (take.length > 0) return { take, target, workers };

  let busiest: string | undefined;
  for (const [worker, count] of load) if (worker !== me && (busiest === undefined || count > load.get(busiest)!)) busiest = worker;
  if (busiest === undefined) return { take: [], target, workers };
  const theirs = load.get(busiest)!;
  const shortBy = target - mine;
  if (!(theirs > target || (theirs === target && shortBy >= 2))) return { take: [], target, workers };
  // Their highest shard not already being handed over: deterministic, so two joiners tend to ask for different ones.
  const candidates = live.filter((l) => l.owner === busiest && l.pendingOwner === undefined);
  const steal = candidates[candidates.length - 1];
  return steal === undefined ? { take: [], target, workers } : { take: [], steal, target, workers };
}
