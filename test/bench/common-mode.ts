/**
 * Issue 16's figures for `npm run bench`: the full stack in simulated time (runRealtime over
 * simulated links) beside the fast model, in ticks per second, in one run; and the longest
 * machine-wide stall `tmr run` rides through at 200 Hz without an exclusion (every replica process
 * stopped at once with --inject stall, longer each time, until one is lost or excludes).
 */
import { performance } from 'node:perf_hooks';
import type { LoopOptions } from '../../src/loop/loop-model.js';
import { DEFAULT_LOOP_OPTIONS } from '../../src/sim/plants.js';
import { defaultQuorumGraceUs, type RealtimeSummary } from '../../src/runtime/realtime-runner.js';
import { quietEnvironment, runFullStack } from '../../src/sim/full-stack.js';
import { runSimulation } from '../../src/sim/simulator.js';
import { infoRow, type ResultRow } from './bench-stats.js';
import { runTmrJson } from './tmr-process.js';

const SPEED_TICKS = 20_000;
const STALL_RATE_HZ = 200;
/** Stalls tried, ms: up to and past the default common-mode limit (2 s). */
const STALLS_MS = [200, 500, 1_000, 1_500, 1_900, 2_500];

export interface FullStackSpeed {
  readonly ticks: number;
  readonly modelTicksPerS: number;
  readonly fullStackTicksPerS: number;
  readonly sameTrace: boolean;
}

export async function measureFullStackSpeed(): Promise<FullStackSpeed> {
  const options: LoopOptions = { ...DEFAULT_LOOP_OPTIONS, rateHz: STALL_RATE_HZ, ticks: SPEED_TICKS };
  let t0 = performance.now();
  const model = runSimulation(options);
  const modelMs = performance.now() - t0;
  t0 = performance.now();
  const full = await runFullStack(
    { ...options, deadlineUs: Math.floor(750_000 / STALL_RATE_HZ), quorumGraceUs: defaultQuorumGraceUs(STALL_RATE_HZ), handshakeTimeoutMs: 2_000 },
    quietEnvironment(options.replicaCount),
  );
  const fullMs = performance.now() - t0;
  return { ticks: SPEED_TICKS, modelTicksPerS: (SPEED_TICKS * 1000) / modelMs, fullStackTicksPerS: (SPEED_TICKS * 1000) / fullMs, sameTrace: full.votedTraceHash === model.votedTraceHash };
}

export function fullStackRows(s: FullStackSpeed): ResultRow[] {
  const section = `the full stack in simulated time, ${s.ticks.toLocaleString('en-US')} ticks at ${STALL_RATE_HZ} Hz on a quiet simulated machine; floor = the fast model, same options`;
  return [
    infoRow(section, 'fast model: ticks per second', s.modelTicksPerS, 'ticks/s'),
    infoRow(section, `full stack (runRealtime over simulated links): ticks per second (same trace: ${s.sameTrace ? 'yes' : 'NO'})`, s.fullStackTicksPerS, 'ticks/s', s.modelTicksPerS),
  ];
}

export interface StallAttempt {
  readonly stallMs: number;
  readonly ridden: boolean;
  readonly excluded: number;
  readonly episodes: RealtimeSummary['commonMode'];
}

/** `tmr run` at 200 Hz with every replica stopped for longer each time, until one is not ridden through. */
export async function measureStallRideThrough(root: string, signal: AbortSignal): Promise<StallAttempt[]> {
  const attempts: StallAttempt[] = [];
  for (const stallMs of STALLS_MS) {
    const stallTicks = Math.round((stallMs * STALL_RATE_HZ) / 1000);
    const startTick = 400;
    const run = await runTmrJson<RealtimeSummary>({
      root,
      args: ['run', '--rate-hz', String(STALL_RATE_HZ), '--ticks', String(startTick + stallTicks + 400), '--inject', `stall@${startTick}+${stallTicks}`],
      timeoutMs: 60_000,
      signal,
      label: `stall of ${stallMs} ms`,
    });
    const excluded = run.replicas.filter((r) => r.state !== 'inService').length;
    const ridden = excluded === 0 && run.commonMode.lost === 0 && run.finalMode === 'tmr';
    attempts.push({ stallMs, ridden, excluded, episodes: run.commonMode });
    if (!ridden) break;
  }
  return attempts;
}

export function stallRows(attempts: readonly StallAttempt[]): ResultRow[] {
  const section = `machine-wide stall, every replica process stopped at once (tmr run --inject stall) at ${STALL_RATE_HZ} Hz, default limit 2 s`;
  const ridden = attempts.filter((a) => a.ridden).map((a) => a.stallMs);
  const longest = ridden.length === 0 ? 0 : Math.max(...ridden);
  const firstLost = attempts.find((a) => !a.ridden);
  return [
    infoRow(section, `longest stall ridden through with no exclusion, back to TMR (tried ${attempts.map((a) => a.stallMs).join(', ')} ms)`, longest, 'ms'),
    ...(firstLost === undefined ? [] : [infoRow(section, `first not ridden through: ${firstLost.excluded} excluded, ${firstLost.episodes.lost} episode(s) lost`, firstLost.stallMs, 'ms')]),
  ];
}
