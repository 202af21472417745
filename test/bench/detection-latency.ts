/**
 * Detection latency per fault kind, in ticks: `tmr run` with three real Node replicas (compiled,
 * as a user runs it) against the deterministic simulator on the same options, which is the
 * detector's own latency with perfect timing (the anchor). A fault is injected into replica 1 at
 * a fixed tick; latency = the tick it was excluded minus the tick it was injected.
 */
import { FAULT_KINDS, type FaultKind } from '../../src/protocol/messages.js';
import type { RunSummary } from '../../src/loop/loop-model.js';
import { DEFAULT_LOOP_OPTIONS } from '../../src/sim/plants.js';
import { runSimulation } from '../../src/sim/simulator.js';
import type { ResultRow } from './bench-stats.js';
import { runTmrJson } from './tmr-process.js';

const RATE_HZ = 200;
const TICKS = 300;
const FAULT_TICK = 150;
const FAULTY_REPLICA = 1;
/** Real runs per kind (each with its own seed). */
export const DETECTION_RUNS_PER_KIND = 2;
const RUN_TIMEOUT_MS = 30_000;

export interface KindLatency {
  readonly kind: FaultKind;
  /** The simulator's latency for the same options (ticks); null if it never detected it. */
  readonly simTicks: number | null;
  /** Each real run's latency; null where it was not detected (or the replica was out before the fault). */
  readonly runTicks: readonly (number | null)[];
}

export interface DetectionReport {
  readonly rateHz: number;
  readonly kinds: readonly KindLatency[];
}

function latencyOf(summary: RunSummary): number | null {
  return summary.faults[0]?.detectionLatencyTicks ?? null;
}

function simLatency(kind: FaultKind, seed: number): number | null {
  const summary = runSimulation({ ...DEFAULT_LOOP_OPTIONS, rateHz: RATE_HZ, ticks: TICKS, seed, injects: [{ kind, replicaIndex: FAULTY_REPLICA, startTick: FAULT_TICK, durationTicks: 0 }] });
  return latencyOf(summary);
}

async function runLatency(root: string, kind: FaultKind, seed: number, signal: AbortSignal): Promise<number | null> {
  const summary = await runTmrJson<RunSummary>({
    root,
    args: ['run', '--rate-hz', String(RATE_HZ), '--ticks', String(TICKS), '--seed', String(seed), '--inject', `${kind}:${FAULTY_REPLICA}@${FAULT_TICK}`],
    timeoutMs: RUN_TIMEOUT_MS,
    signal,
    label: 'detection latency',
  });
  return latencyOf(summary);
}

export async function measureDetectionLatency(root: string, signal: AbortSignal): Promise<DetectionReport> {
  const kinds: KindLatency[] = [];
  for (const kind of FAULT_KINDS) {
    const runTicks: (number | null)[] = [];
    for (let r = 0; r < DETECTION_RUNS_PER_KIND; r++) runTicks.push(await runLatency(root, kind, r + 1, signal));
    kinds.push({ kind, simTicks: simLatency(kind, 1), runTicks });
  }
  return { rateHz: RATE_HZ, kinds };
}

export function detectionRows(r: DetectionReport): ResultRow[] {
  const section = `detection latency in ticks, fault on 1 of 3 Node replicas at ${r.rateHz} Hz, worst of ${DETECTION_RUNS_PER_KIND} runs; floor = the simulator (perfect timing)`;
  return r.kinds.map((k) => {
    const detected = k.runTicks.filter((t): t is number => t !== null);
    const worst = detected.length > 0 ? Math.max(...detected) : Number.NaN;
    const missed = k.runTicks.length - detected.length;
    const floor = k.simTicks;
    // Equal to the simulator, or one tick more (a reply that is late rather than absent).
    const pass = missed === 0 && floor !== null && worst <= floor + 1;
    return {
      section,
      metric: `${k.kind}${missed > 0 ? ` (${missed} run${missed === 1 ? '' : 's'} not detected)` : ''}`,
      measured: worst,
      unit: 'ticks',
      floor,
      ratio: floor !== null && floor > 0 && detected.length > 0 ? worst / floor : null,
      target: '≤ simulator + 1 tick',
      verdict: pass ? 'PASS' : 'MISS',
    };
  });
}
