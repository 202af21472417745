/**
 * Who is primary, from a real 3-member etcd cluster (Debian's etcd-server, started here: test/
 * setup/etcd-cluster.ts). Asserted: what holds whatever the scheduler does. Epochs are ordered
 * by joining; the oldest key leads; a resigning leader hands over at once; and a leader that dies
 * (its keepalives stop) has passed its own fence deadline before anyone else is told it leads,
 * since that deadline is counted from a keepalive's send time and etcd's expiry from its arrival.
 * How long a lease-only takeover takes is a figure, for the bench.
 */
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElectionError, VoterElection } from '../../src/failover/election.js';
import { EtcdCluster } from '../setup/etcd-cluster.js';
import { timingFigure } from '../helpers/timing-figure.js';
import { until } from '../transport/contract.js';

const TTL_S = 1;
const WAIT_MS = 20_000;

let cluster: EtcdCluster;
const joined: VoterElection[] = [];
let setCount = 0;

beforeAll(async () => {
  cluster = await EtcdCluster.start({ members: 3 });
}, 60_000);

afterAll(async () => {
  await Promise.all(joined.map((e) => e.abandon()));
  await cluster?.stop();
});

/** Voters joining a fresh set one after another; `changes` records leadership as each sees it. */
async function voters(count: number): Promise<{ set: VoterElection[]; leaderAt: Map<VoterElection, number> }> {
  const name = `set-${process.pid}-${setCount++}`;
  const leaderAt = new Map<VoterElection, number>();
  const set: VoterElection[] = [];
  for (let i = 0; i < count; i++) {
    const e = await VoterElection.join({
      endpoints: cluster.endpoints,
      set: name,
      voterId: `voter-${i}`,
      ttlS: TTL_S,
      fenceMarginMs: 50,
      onChange: (election) => {
        if (election.isLeader && !leaderAt.has(election)) leaderAt.set(election, performance.now());
      },
    });
    joined.push(e);
    set.push(e);
  }
  return { set, leaderAt };
}

describe('voter election over a 3-member etcd cluster', () => {
  it('epochs are ordered by joining, the oldest leads, and every voter agrees who', async () => {
    const { set } = await voters(3);
    expect(set[0]!.epoch).toBeLessThan(set[1]!.epoch);
    expect(set[1]!.epoch).toBeLessThan(set[2]!.epoch);
    await until(() => set.every((e) => e.leaderEpoch === set[0]!.epoch), WAIT_MS, 'every voter to see the first as leader');
    expect(set.map((e) => e.isLeader)).toEqual([true, false, false]);
    expect(set[0]!.mayCommand()).toBe(true);
    expect(set[1]!.mayCommand()).toBe(false);
    expect(set[0]!.grantedTtlS).toBe(TTL_S);
  });

  it('a leader that resigns hands over at once to the next in line', async () => {
    const { set } = await voters(3);
    await until(() => set[0]!.isLeader, WAIT_MS, 'the first to lead');
    await set[0]!.resign();
    expect(set[0]!.mayCommand()).toBe(false);
    await until(() => set[1]!.isLeader, WAIT_MS, 'the second to lead after the first resigned');
    expect(set[2]!.isLeader).toBe(false);
  });

  it('a leader that dies has passed its own fence deadline before the next is told it leads', async () => {
    const { set, leaderAt } = await voters(2);
    const [first, second] = set as [VoterElection, VoterElection];
    await until(() => first.isLeader, WAIT_MS, 'the first to lead');
    // Let a few keepalives be acknowledged, so the deadline is a keepalive's, not the grant's.
    const deadlineBefore = first.fenceDeadlineMs;
    await until(() => first.fenceDeadlineMs > deadlineBefore, WAIT_MS, 'a keepalive to move the deadline');
    const diedAt = performance.now();
    await first.abandon();
    await until(() => leaderAt.has(second), WAIT_MS + TTL_S * 3000, 'the second to lead after the first died');
    const told = leaderAt.get(second)!;
    expect(first.fenceDeadlineMs, `fence deadline ${first.fenceDeadlineMs.toFixed(1)} ms against the takeover at ${told.toFixed(1)} ms`).toBeLessThanOrEqual(told);
    timingFigure('election: lease-only takeover after the leader died, TTL 1 s (ms)', told - diedAt, 3 * TTL_S * 1000, { diedAt, told, deadline: first.fenceDeadlineMs });
  });

  it('one etcd member killed changes no leader; the leader keeps its lease', async () => {
    const { set } = await voters(2);
    await until(() => set[0]!.isLeader, WAIT_MS, 'the first to lead');
    await cluster.kill(2);
    try {
      const deadline = set[0]!.fenceDeadlineMs;
      await until(() => set[0]!.fenceDeadlineMs > deadline + 500, WAIT_MS, 'keepalives to go on with a member down');
      expect(set.map((e) => e.isLeader)).toEqual([true, false]);
    } finally {
      cluster.startMember(2);
      await cluster.waitHealthy(WAIT_MS);
    }
  });

  it('an etcd nobody can reach is one line naming the endpoints', async () => {
    const error = await VoterElection.join({ endpoints: ['http://127.0.0.1:1'], set: 'unreachable', voterId: 'v', ttlS: 1, fenceMarginMs: 0 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ElectionError);
    expect((error as Error).message).toMatch(/^cannot join voter set 'unreachable' at http:\/\/127\.0\.0\.1:1: [^\n]+$/);
  }, 30_000);
});
