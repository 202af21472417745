/**
 * Redundant voters' takeover (issue 19), beside the lease-only floor (lease-takeover.ts): the
 * failover trials (test/failover/trials.ts: network namespaces, a real 3-member etcd, three
 * replica servers, the actuator, two voters) for a killed primary, a stopped one (SIGSTOP 2 s) and
 * one partitioned from etcd, in actuator ticks at 200 Hz from the primary's last applied command
 * to the standby's first; and a killed primary with the simulated Firmata board behind the
 * actuator (`tmr actuator --io firmata-sim`, 100 Hz, the rate its I/O was built for). Also
 * counted: what the checker found in the actuator's log (floor 0).
 */
import { infoRow, percentiles, verdict, type ResultRow } from './bench-stats.js';
import { RATE_HZ, SILENT_TICKS_MAX, TTL_S, TrialBench, type TrialFault, type TrialOptions } from '../failover/trials.js';

const IO_RATE_HZ = 100;
const FAULTS: readonly { label: string; fault: TrialFault; options?: TrialOptions }[] = [
  { label: 'kill', fault: 'kill' },
  { label: 'stop', fault: 'stop' },
  { label: 'partition-etcd', fault: 'partition-etcd' },
  { label: `kill, --io firmata-sim at ${IO_RATE_HZ} Hz`, fault: 'kill', options: { rateHz: IO_RATE_HZ, io: { scheme: 'firmata-sim' } } },
];
const TRIALS_PER_FAULT = 5;

export interface FailoverTakeoverReport {
  readonly rateHz: number;
  readonly ttlS: number;
  readonly silentTicksMax: number;
  readonly hosts: string;
  readonly byFault: Record<string, { rateHz: number; takeoverTicks: number[]; violations: string[]; unsafeCommands: number }>;
}

export async function measureFailoverTakeover(signal: AbortSignal): Promise<FailoverTakeoverReport> {
  const bench = await TrialBench.start();
  const byFault: FailoverTakeoverReport['byFault'] = {};
  try {
    for (const [f, { label, fault, options }] of FAULTS.entries()) {
      if (!bench.kinds.includes(fault)) continue;
      const entry = { rateHz: options?.rateHz ?? RATE_HZ, takeoverTicks: [] as number[], violations: [] as string[], unsafeCommands: 0 };
      byFault[label] = entry;
      for (let i = 0; i < TRIALS_PER_FAULT && !signal.aborted; i++) {
        const result = await bench.runTrial(9_000 + f * 100 + i, fault, options);
        if (result.takeoverTicks !== null) entry.takeoverTicks.push(result.takeoverTicks);
        entry.violations.push(...result.violations.map((v) => `${result.replay}: ${v}`));
        entry.unsafeCommands += result.actuator.unsafeCommands;
      }
    }
  } finally {
    await bench.stop();
  }
  return { rateHz: RATE_HZ, ttlS: TTL_S, silentTicksMax: SILENT_TICKS_MAX, hosts: bench.hosts.kind, byFault };
}

/** `leaseOnlyMedianMs`: the lease-only takeover's median (lease-takeover.ts), in each row's ticks as its floor. */
export function failoverTakeoverRows(report: FailoverTakeoverReport, leaseOnlyMedianMs: number | null): ResultRow[] {
  const section = `redundant voters (${report.hosts}): takeover at the actuator after ${report.silentTicksMax} silent ticks, TTL ${report.ttlS} s, ticks at ${report.rateHz} Hz unless named; floor = the lease-only median`;
  const rows: ResultRow[] = [];
  for (const [fault, r] of Object.entries(report.byFault)) {
    const leaseOnlyMedianTicks = leaseOnlyMedianMs === null ? null : Math.ceil((leaseOnlyMedianMs * r.rateHz) / 1000);
    const t = percentiles(Float64Array.from(r.takeoverTicks));
    const worst = r.takeoverTicks.length === 0 ? Number.POSITIVE_INFINITY : t.maxUs;
    rows.push(infoRow(section, `${fault}: takeover median (${r.takeoverTicks.length} trials)`, t.p50Us, 'ticks', leaseOnlyMedianTicks));
    rows.push({ section, metric: `${fault}: takeover worst (the issue: within 10)`, measured: worst, unit: 'ticks', floor: leaseOnlyMedianTicks, ratio: leaseOnlyMedianTicks === null || leaseOnlyMedianTicks === 0 ? null : worst / leaseOnlyMedianTicks, target: '≤ 10 ticks', verdict: verdict(worst <= 10) });
    rows.push({ section, metric: `${fault}: checker findings and unsafe commands`, measured: r.violations.length + r.unsafeCommands, unit: '', floor: null, ratio: null, target: '0', verdict: verdict(r.violations.length + r.unsafeCommands === 0) });
  }
  return rows;
}
