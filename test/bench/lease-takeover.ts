/**
 * The floor for redundant voters' takeover (issue 19): how long etcd alone takes to hand the lead
 * to a standby when the leader dies, on a 3-member cluster started here with the voters' leases (2 s) (tuned:
 * heartbeat 50 ms, election 500 ms), in ticks at 200 Hz. The leader "dies" by stopping its
 * keepalives without revoking its lease (VoterElection.abandon), which is what etcd sees of a
 * SIGKILLed voter. Also reported: how far ahead of that takeover the dead leader's own fence
 * deadline had passed (it must be ahead every time; the election test asserts it).
 *
 * Figures only (INFO rows). The actuator's takeover after a bounded silence (arbiter.ts) is what
 * redundant voters will use; this is what it is measured against.
 */
import { performance } from 'node:perf_hooks';
import { VoterElection } from '../../src/failover/election.js';
import { EtcdCluster } from '../setup/etcd-cluster.js';
import { TTL_S as VOTER_TTL_S } from '../failover/trials.js';
import { infoRow, percentiles, type ResultRow } from './bench-stats.js';

const TRIALS = 10;
/** The redundant voters' lease (test/failover/trials.ts), so that both are measured alike. */
const TTL_S = VOTER_TTL_S;
const RATE_HZ = 200;
const WAIT_MS = 10_000;

export interface LeaseTakeoverReport {
  readonly trials: number;
  readonly ttlS: number;
  readonly rateHz: number;
  /** ms from the leader's death to the standby learning it leads, per trial. */
  readonly takeoverMs: readonly number[];
  /** ms by which the dead leader's fence deadline preceded the takeover, per trial (negative: it did not). */
  readonly fenceLeadMs: readonly number[];
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + WAIT_MS;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`lease takeover: no ${what} within ${WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

export async function measureLeaseTakeover(signal: AbortSignal): Promise<LeaseTakeoverReport> {
  const cluster = await EtcdCluster.start({ members: 3 });
  const stop = (): void => void cluster.stop();
  signal.addEventListener('abort', stop, { once: true });
  const takeoverMs: number[] = [];
  const fenceLeadMs: number[] = [];
  try {
    for (let trial = 0; trial < TRIALS && !signal.aborted; trial++) {
      let toldAt = -1;
      const join = (voterId: string, onLead?: () => void): Promise<VoterElection> =>
        VoterElection.join({ endpoints: cluster.endpoints, set: `bench-${process.pid}-${trial}`, voterId, ttlS: TTL_S, fenceMarginMs: 0, ...(onLead === undefined ? {} : { onChange: (e) => e.isLeader && onLead() }) });
      const leader = await join('leader');
      const standby = await join('standby', () => {
        if (toldAt < 0) toldAt = performance.now();
      });
      try {
        await waitFor(() => leader.isLeader, 'leader');
        // A keepalive acknowledged at a random point of its period, as a real death falls.
        const before = leader.fenceDeadlineMs;
        await waitFor(() => leader.fenceDeadlineMs > before, 'keepalive');
        await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 300)));
        const diedAt = performance.now();
        await leader.abandon();
        await waitFor(() => toldAt >= 0, 'takeover');
        takeoverMs.push(toldAt - diedAt);
        fenceLeadMs.push(toldAt - leader.fenceDeadlineMs);
      } finally {
        await leader.abandon();
        await standby.resign();
      }
    }
  } finally {
    signal.removeEventListener('abort', stop);
    await cluster.stop();
  }
  return { trials: takeoverMs.length, ttlS: TTL_S, rateHz: RATE_HZ, takeoverMs, fenceLeadMs };
}

export function leaseTakeoverRows(report: LeaseTakeoverReport): ResultRow[] {
  const section = `takeover by etcd lease alone: 3-member etcd, TTL ${report.ttlS} s, ${report.trials} leader deaths, ticks at ${report.rateHz} Hz`;
  const ticks = (ms: number): number => Math.ceil((ms * report.rateHz) / 1000);
  // The percentile helper is named for µs; here it sorts ticks.
  const t = percentiles(Float64Array.from(report.takeoverMs.map(ticks)));
  const leastLeadMs = report.fenceLeadMs.length === 0 ? 0 : Math.min(...report.fenceLeadMs);
  return [
    infoRow(section, 'lease-only takeover, median (the floor of the next section)', t.p50Us, 'ticks', 10),
    infoRow(section, 'lease-only takeover, worst', t.maxUs, 'ticks', 10),
    infoRow(section, "dead leader's fence deadline ahead of the takeover, least (floor 0)", leastLeadMs, 'ms', 0),
  ];
}
