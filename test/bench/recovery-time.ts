/**
 * Bench: recovery time, from a replica's crash to its first counted vote again (detection,
 * restart, state transfer and probation), over ≥ 20 crashes for a Node replica and for an
 * emulated Uno. Each run is one `tmr run` loop with recovery on and crash faults injected round
 * robin, spaced so the victim is back (and stable) before the next one.
 *
 *   crash instant     = wall time at the end of tick T−1 (onTick), where T is the tick the crash
 *                       inject goes out on. The inject is sent at the start of tick T, after the
 *                       idle gap, so this is early by at most one period: times are conservative.
 *   recovered instant = wall time at the end of the first tick after T whose vote counted the
 *                       victim (its bit in participantMask).
 *
 * Probation (P ticks × period) is policy, not cost: it is the "floor" column, and the targets are
 * written as "X ms + probation".
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { PROVIDERS } from '../../firmware-sim/replica-kinds.js';
import type { StepResult } from '../../src/core/tmr-core.js';
import type { FaultSpec, LoopModel } from '../../src/loop/loop-model.js';
import { DEFAULT_LOOP_OPTIONS } from '../../src/sim/plants.js';
import { runRealtime, type RealtimeSummary } from '../../src/runtime/realtime-runner.js';
import { DEFAULT_RECOVERY, type RecoveryRecord } from '../../src/loop/recovery.js';
import type { ReplicaSpec } from '../../src/runtime/replica-kinds.js';
import { formatNumber, infoRow, percentileOf, verdict, type ResultRow } from './bench-stats.js';

/** Targets beyond probation, ms (the issue's wording: "under 250 ms plus probation"). */
export const NODE_RECOVERY_BEYOND_PROBATION_MS_MAX = 250;
export const UNO_RECOVERY_BEYOND_PROBATION_MS_MAX = 100;
/** For comparison only: the worst-case recovery the best open system we know reports. */
const BEST_OPEN_SYSTEM_WORST_MS = 2050;

const REPLICA_COUNT = 3;
/** 21 crashes, 7 per replica: an odd count, so the median is one sample. */
const CRASH_COUNT = 21;
const HANDSHAKE_TIMEOUT_MS = 10_000;

interface RecoveryPlan {
  readonly label: string;
  /** Absent: Node replica processes (the runner's default). */
  readonly replica: ReplicaSpec | null;
  readonly rateHz: number;
  /** First crash after this many ticks; then one every spacing; the run ends one spacing after the last. */
  readonly crashSpacingTicks: number;
  readonly beyondProbationMsMax: number;
}

/**
 * Node: 200 Hz, a crash every 2 s, so each replica crashes every 6 s: past restartWindowMs
 * (5 s, 3 restarts) and stableMs (1 s), so every crash is a first, un-backed-off restart.
 * Uno: 100 Hz, the rate boards/uno/profile.json gives the default (1,000,000-baud) image;
 * probation 50 ticks = 0.5 s, a crash every 2.5 s. At 50 Hz a recovery is 55 ticks whatever the
 * firmware does (2 to detect, 2 to restart and transfer, 50 of probation, 1 to count): 1,100 ms
 * against a limit of exactly 1,100 ms, a tie decided by timer jitter (measured 1,100–1,102 ms).
 */
const NODE_PLAN: RecoveryPlan = { label: '3 Node replicas, 200 Hz', replica: null, rateHz: 200, crashSpacingTicks: 400, beyondProbationMsMax: NODE_RECOVERY_BEYOND_PROBATION_MS_MAX };
const UNO_PLAN: RecoveryPlan = { label: '3 emulated Unos, 100 Hz', replica: { kind: 'avr-sim' }, rateHz: 100, crashSpacingTicks: 250, beyondProbationMsMax: UNO_RECOVERY_BEYOND_PROBATION_MS_MAX };

export interface CrashOutcome {
  replicaIndex: number;
  crashTick: number;
  excludedTick: number | null;
  /** The probation that ended in the counted vote (after any failed ones). */
  probationTick: number | null;
  /** First tick after the crash whose vote counted the victim; null if none before its next crash. */
  countedTick: number | null;
  recoveryMs: number | null;
  /** (probationTick − excludedTick) × period: restart and state transfer, detection excluded. */
  restartTransferMs: number | null;
}

export interface Spread {
  medianMs: number;
  worstMs: number;
}

export interface RecoveryRunResult {
  label: string;
  rateHz: number;
  periodMs: number;
  probationTicks: number;
  probationMs: number;
  beyondProbationMsMax: number;
  ticks: number;
  crashes: CrashOutcome[];
  recovered: number;
  /** Over recovered crashes; null if none recovered. */
  recovery: Spread | null;
  restartTransfer: Spread | null;
  /** Exclusions that were not an injected crash's (load, a failed probation), bounded by the records kept. */
  otherExclusions: { replica: number; tick: number; reason: string; context: string }[];
  commands: RealtimeSummary['commands'];
  unsafeCommands: number;
  finalMode: string;
  tickOverruns: number;
  interrupted: boolean;
  restarts: number;
  restartFailures: number;
  probationFailures: number;
  stateTransfersRefused: number;
  retired: number[];
}

export interface RecoveryReport {
  node: RecoveryRunResult;
  uno: RecoveryRunResult;
}

function crashSchedule(plan: RecoveryPlan): FaultSpec[] {
  return Array.from({ length: CRASH_COUNT }, (_, k) => ({ kind: 'crash', replicaIndex: k % REPLICA_COUNT, startTick: (k + 1) * plan.crashSpacingTicks, durationTicks: 0 }));
}

function spread(values: readonly number[]): Spread | null {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  return { medianMs: percentileOf(sorted, 0.5), worstMs: sorted[sorted.length - 1] as number };
}

/** Pairs each crash with its exclusion record, its first counted tick and the wall times between. */
function outcomesOf(injects: readonly FaultSpec[], periodMs: number, endMs: Float64Array, masks: Uint8Array, ticksDone: number, records: readonly RecoveryRecord[]): CrashOutcome[] {
  return injects.map((fault, k) => {
    const v = fault.replicaIndex;
    const t = fault.startTick;
    // The victim's next crash bounds the search (round robin: REPLICA_COUNT crashes later).
    const limit = Math.min(ticksDone, injects[k + REPLICA_COUNT]?.startTick ?? ticksDone);
    const trips = records.filter((r) => r.replica === v && r.excludedTick >= t && r.excludedTick < limit);
    const excludedTick = trips[0]?.excludedTick ?? null;
    let counted: number | null = null;
    for (let tick = (excludedTick ?? t) + 1; tick < limit && counted === null; tick++) if (((masks[tick] as number) & (1 << v)) !== 0) counted = tick;
    const probationTick = counted === null ? null : (trips.filter((r) => r.probationTick !== null && r.probationTick < (counted as number)).pop()?.probationTick ?? null);
    return {
      replicaIndex: v,
      crashTick: t,
      excludedTick,
      probationTick,
      countedTick: counted,
      recoveryMs: counted === null || t < 1 ? null : (endMs[counted] as number) - (endMs[t - 1] as number),
      restartTransferMs: probationTick === null || excludedTick === null ? null : (probationTick - excludedTick) * periodMs,
    };
  });
}

async function measurePlan(plan: RecoveryPlan, signal: AbortSignal | undefined): Promise<RecoveryRunResult> {
  const periodMs = 1000 / plan.rateHz;
  const injects = crashSchedule(plan);
  const ticks = (CRASH_COUNT + 1) * plan.crashSpacingTicks;
  const recovery = { ...DEFAULT_RECOVERY, enabled: true };
  // Preallocated: the hook writes two typed-array slots per tick and allocates nothing.
  const endMs = new Float64Array(ticks);
  const masks = new Uint8Array(ticks);
  const onTick = (_model: LoopModel, result: StepResult): void => {
    endMs[result.tick] = performance.now();
    masks[result.tick] = result.participantMask;
  };
  const replicas = plan.replica === null ? {} : { replicas: Array.from({ length: REPLICA_COUNT }, () => plan.replica as ReplicaSpec), providers: PROVIDERS };
  // runRealtime stops every replica it started in its own finally, also when it throws.
  const summary = await runRealtime(
    {
      ...DEFAULT_LOOP_OPTIONS,
      replicaCount: REPLICA_COUNT,
      rateHz: plan.rateHz,
      ticks,
      seed: 11,
      injects,
      // The CLI's default deadline: three quarters of the period.
      deadlineUs: Math.floor(periodMs * 750),
      handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
      recovery,
      ...replicas,
    },
    signal === undefined ? { onTick } : { onTick, signal },
  );
  const r = summary.recovery;
  const records = r?.records ?? [];
  const crashes = outcomesOf(injects, periodMs, endMs, masks, summary.ticks, records);
  const back = crashes.filter((c) => c.recoveryMs !== null);
  const crashTrips = new Set(crashes.map((c) => `${c.replicaIndex}@${c.excludedTick}`));
  return {
    label: plan.label,
    rateHz: plan.rateHz,
    periodMs,
    probationTicks: recovery.probationTicks,
    probationMs: recovery.probationTicks * periodMs,
    beyondProbationMsMax: plan.beyondProbationMsMax,
    ticks: summary.ticks,
    crashes,
    recovered: back.length,
    recovery: spread(back.map((c) => c.recoveryMs as number)),
    restartTransfer: spread(back.flatMap((c) => (c.restartTransferMs === null ? [] : [c.restartTransferMs]))),
    otherExclusions: records
      .filter((x) => !crashTrips.has(`${x.replica}@${x.excludedTick}`))
      .map((x) => ({ replica: x.replica, tick: x.excludedTick, reason: x.reason, context: x.context })),
    commands: summary.commands,
    unsafeCommands: summary.unsafeCommands,
    finalMode: summary.finalMode,
    tickOverruns: summary.timing.tickOverruns,
    interrupted: summary.interrupted,
    restarts: r?.restarts ?? 0,
    restartFailures: r?.restartFailures ?? 0,
    probationFailures: r?.probationFailures ?? 0,
    stateTransfersRefused: r?.stateTransfersRefused ?? 0,
    retired: (r?.replicas ?? []).filter((x) => x.retired !== null).map((x) => x.index),
  };
}

/** Both runs, one after the other (each takes about 45–55 s of wall time plus start-up). */
export async function measureRecoveryTimes(signal?: AbortSignal): Promise<RecoveryReport> {
  const node = await measurePlan(NODE_PLAN, signal);
  if (signal?.aborted) throw new Error('interrupted');
  const uno = await measurePlan(UNO_PLAN, signal);
  return { node, uno };
}

function runRows(section: string, r: RecoveryRunResult): ResultRow[] {
  const head = `${r.label}, ${r.crashes.length} crashes (${r.recovered} back)`;
  const limitMs = r.beyondProbationMsMax + r.probationMs;
  const target = `≤ ${r.beyondProbationMsMax} ms + probation`;
  if (r.recovery === null) return [infoRow(section, `${head}: none recovered`, 0, 'ms', r.probationMs)];
  const row = (metric: string, ms: number): ResultRow => ({
    section,
    metric,
    measured: ms,
    unit: 'ms',
    floor: r.probationMs,
    ratio: ms / r.probationMs,
    target,
    // A crash that never came back misses the target whatever the others did.
    verdict: verdict(ms <= limitMs && r.recovered === r.crashes.length),
  });
  const rows = [row(`${head}: median`, r.recovery.medianMs), row(`${r.label}: worst`, r.recovery.worstMs)];
  rows.push(infoRow(section, `${r.label}: worst − probation (${r.probationTicks} ticks)`, r.recovery.worstMs - r.probationMs, 'ms'));
  if (r.restartTransfer !== null) {
    rows.push(infoRow(section, `${r.label}: restart + state transfer (excluded → probation), median`, r.restartTransfer.medianMs, 'ms'));
    rows.push(infoRow(section, `${r.label}: restart + state transfer, worst`, r.restartTransfer.worstMs, 'ms'));
  }
  return rows;
}

export function recoveryRows(report: RecoveryReport): ResultRow[] {
  const section = 'Recovery: crash to first counted vote; floor = probation (policy, not cost)';
  return [...runRows(section, report.node), ...runRows(section, report.uno)];
}

/** Lines for the notes under the table: what happened around the crashes besides the timing. */
export function recoveryNotes(report: RecoveryReport): string[] {
  const shown = 6;
  const others = (r: RecoveryRunResult): string => {
    const o = r.otherExclusions;
    if (o.length === 0) return 'no exclusions besides the crashes';
    const list = o.slice(0, shown).map((x) => `${x.replica} ${x.reason}@${x.tick}${x.context === 'serving' ? '' : ` (${x.context})`}`);
    return `${o.length} exclusions not caused by a crash: ${list.join(', ')}${o.length > shown ? ', …' : ''}`;
  };
  const line = (r: RecoveryRunResult): string =>
    `recovery, ${r.label}: ${r.ticks} ticks, crash every ${formatNumber((r.crashes[1]!.crashTick - r.crashes[0]!.crashTick) * r.periodMs)} ms ` +
    `round robin; ${r.restarts} restarts, ${r.restartFailures} failed, ${r.probationFailures} probation failures, ` +
    `${r.stateTransfersRefused} state transfers refused${r.retired.length > 0 ? `, retired: ${r.retired.join(', ')}` : ''}; ${others(r)}; ` +
    `commands ${r.commands.voted} voted / ${r.commands.held} held / ${r.commands.simplex} simplex / ${r.commands.safe} safe, ` +
    `${r.unsafeCommands} unsafe; ${r.tickOverruns} tick overruns; final mode ${r.finalMode}${r.interrupted ? ' (interrupted)' : ''}`;
  return [
    line(report.node),
    line(report.uno),
    `recovery: crash instant = end of the tick before the inject (conservative by ≤ 1 period); recovered = end of the first tick ` +
      `whose vote counted the victim; best open system we know: worst-case recovery ${formatNumber(BEST_OPEN_SYSTEM_WORST_MS)} ms`,
  ];
}

// `npx tsx test/bench/recovery-time.ts [node|uno]`: this measurement alone, with every crash listed.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { formatTable } = await import('./bench-stats.js');
  const only = process.argv[2];
  const plans = [NODE_PLAN, UNO_PLAN].filter((_, i) => only === undefined || only === ['node', 'uno'][i]);
  for (const plan of plans) {
    const r = await measurePlan(plan, undefined);
    console.log(formatTable(runRows('recovery', r)));
    console.log(r.crashes.map((c) => `${c.replicaIndex}@${c.crashTick}: excluded ${c.excludedTick}, probation ${c.probationTick}, counted ${c.countedTick}, ${c.recoveryMs?.toFixed(1) ?? '-'} ms`).join('\n'));
    console.log(JSON.stringify({ commands: r.commands, overruns: r.tickOverruns, others: r.otherExclusions, restarts: r.restarts, probationFailures: r.probationFailures, finalMode: r.finalMode }));
  }
}
