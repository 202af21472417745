/**
 * The highest tick rate sustained with fewer than 1 deadline miss in 10,000 ticks: three Node
 * replicas under `tmr run` (the real runtime, compiled, as a user runs it) against three bare
 * echo children paced by the same rules in this process (the floor).
 *
 * Same rules for both, tmr run's: ticks on a grid of 1/rate; the replies are due 75 % of a period
 * after the tick is sent (the default deadline); when the deadline timer fires, a few more event-loop
 * turns let replies that reached the host in time count (a descheduled host is not a late replica);
 * a tick that ends past the next slot is an overrun and the grid restarts from now. A rate is
 * sustained when a run of SWEEP_TICKS ticks has fewer than 1 deadline miss in 10,000, i.e. none;
 * overruns are reported beside it. Rates are tried from the highest down; a trial stops at its
 * first miss (tmr run through its kill switch, `--kill-error-rate 0/1`), so only the rate that
 * passes costs its full length. Both run at the priority tmr run asks for.
 */
import { getPriority, setPriority } from 'node:os';
import { performance } from 'node:perf_hooks';
import { encodeMessage } from '../../src/protocol/codec.js';
import { CONTROL_NICE } from '../../src/runtime/priority.js';
import type { ChildProcessTransport } from '../../src/transport/child-process-transport.js';
import type { ResultRow } from './bench-stats.js';
import { startEchoFloorRig, withStallLimit, type EchoRig } from './round-trip.js';
import { runTmrJson } from './tmr-process.js';
import { armDeadline, sleepUntil, type Deadline } from '../../src/runtime/pacing.js';

/** Highest first; tmr run accepts at most 2,000 Hz. */
export const SWEEP_RATES_HZ: readonly number[] = [2000, 1500, 1000, 750, 500, 300, 200, 150, 100];
export const SWEEP_TICKS = 10_000;
/** Misses allowed per tick: fewer than 1 in 10,000. */
const MISS_RATE_MAX = 1 / 10_000;
const DEADLINE_FRACTION = 0.75;
/** tmr run's exit code when its kill switch stops the run. */
const EXIT_KILL_SWITCH = 4;
/** Beyond the trial's own length: start-up (spawn, handshake, one-second warm-up) and shut-down. */
const TRIAL_OVERHEAD_MS = 20_000;

export interface Trial {
  readonly rateHz: number;
  /** Ticks run before the trial ended (all of them, or up to its first miss). */
  readonly ticks: number;
  readonly misses: number;
  readonly overruns: number;
  readonly sustained: boolean;
  readonly wallMs: number;
}

export interface SweepSide {
  /** The highest rate sustained, or null if none on the ladder was. */
  readonly sustainedHz: number | null;
  readonly trials: readonly Trial[];
}

export interface SweepReport {
  readonly ticksPerTrial: number;
  readonly echo: SweepSide;
  readonly tmr: SweepSide;
}

function sustained(ticks: number, misses: number): boolean {
  return ticks >= SWEEP_TICKS && misses < SWEEP_TICKS * MISS_RATE_MAX;
}

/** Resolves false at `atMs` by tmr run's own deadline rule (armDeadline); `cancel` stops it once the replies are in. */
function deadline(atMs: number): { expired: Promise<false>; cancel: () => void } {
  let armed: Deadline | null = null;
  const expired = new Promise<false>((resolve) => {
    armed = armDeadline(atMs, () => resolve(false));
  });
  return { expired, cancel: () => armed?.cancel() };
}

/** One paced echo trial; stops at its first miss (overruns are counted, as tmr run counts them). */
async function echoTrial(rig: EchoRig, rateHz: number, signal: AbortSignal): Promise<Trial> {
  const periodMs = 1000 / rateHz;
  const deadlineMs = periodMs * DEADLINE_FRACTION;
  const startedMs = performance.now();
  let slotMs = startedMs;
  let misses = 0;
  let overruns = 0;
  let ticks = 0;
  // Bounded: SWEEP_TICKS, or the first miss.
  while (ticks < SWEEP_TICKS && misses === 0) {
    if (signal.aborted) throw new Error('interrupted');
    // As in tmr run, the deadline runs from the send, not from the slot: a host that woke late is
    // an overrun (counted apart), not a late reply.
    const sentAtMs = performance.now();
    const replies = withStallLimit(rig, rig.iterate()).then(() => true as const);
    const due = deadline(sentAtMs + deadlineMs);
    if (!(await Promise.race([replies, due.expired]))) misses++;
    due.cancel();
    await replies;
    ticks++;
    const nextMs = slotMs + periodMs;
    const nowMs = performance.now();
    if (nowMs > nextMs) {
      overruns++;
      slotMs = nowMs;
    } else {
      slotMs = nextMs;
      await sleepUntil(nextMs);
    }
  }
  return { rateHz, ticks, misses, overruns, sustained: sustained(ticks, misses), wallMs: performance.now() - startedMs };
}

interface TmrRunJson {
  ticks: number;
  deadlineMisses: number;
  timing: { tickOverruns: number; wallMs: number };
}

/** One `tmr run` at `rateHz`; its kill switch ends it at the first replica error. */
async function tmrTrial(root: string, rateHz: number, signal: AbortSignal): Promise<Trial> {
  const run = await runTmrJson<TmrRunJson>({
    root,
    args: ['run', '--rate-hz', String(rateHz), '--ticks', String(SWEEP_TICKS), '--seed', '1', '--kill-error-rate', '0/1'],
    timeoutMs: (SWEEP_TICKS * 1000) / rateHz + TRIAL_OVERHEAD_MS,
    signal,
    acceptCodes: [EXIT_KILL_SWITCH],
    label: `rate sweep at ${rateHz} Hz`,
  });
  return { rateHz, ticks: run.ticks, misses: run.deadlineMisses, overruns: run.timing.tickOverruns, sustained: sustained(run.ticks, run.deadlineMisses), wallMs: run.timing.wallMs };
}

/** Tries rates from the highest down; the first sustained one is the answer. */
async function sweep(trial: (rateHz: number) => Promise<Trial>): Promise<SweepSide> {
  const trials: Trial[] = [];
  for (const rateHz of SWEEP_RATES_HZ) {
    const t = await trial(rateHz);
    trials.push(t);
    if (t.sustained) return { sustainedHz: rateHz, trials };
  }
  return { sustainedHz: null, trials };
}

/** Raises this process to tmr run's priority for the echo floor (as root; else it stays as it is). */
function withControlPriority<T>(work: () => Promise<T>): Promise<T> {
  const before = getPriority(0);
  try {
    setPriority(0, CONTROL_NICE);
  } catch {
    // Not allowed: both sides then run unraised (tmr run reports it in timing.priorityRaised).
  }
  return work().finally(() => {
    try {
      setPriority(0, before);
    } catch {
      // Lowering our own priority back is always allowed; nothing to do if not.
    }
  });
}

export async function measureRateSweep(root: string, echoArgs: readonly string[], signal: AbortSignal): Promise<SweepReport> {
  const owned: ChildProcessTransport[] = [];
  let echo: SweepSide;
  try {
    const frame = encodeMessage({ kind: 'tick', tick: 1000, inputs: [90_000, 45_000] });
    const rig = await startEchoFloorRig(process.execPath, echoArgs, frame, owned);
    for (const t of owned) {
      try {
        if (t.pid !== undefined) setPriority(t.pid, CONTROL_NICE);
      } catch {
        // As above.
      }
    }
    echo = await withControlPriority(() => sweep((rateHz) => echoTrial(rig, rateHz, signal)));
  } finally {
    await Promise.all(owned.map((t) => t.close()));
  }
  const tmr = await sweep((rateHz) => tmrTrial(root, rateHz, signal));
  return { ticksPerTrial: SWEEP_TICKS, echo, tmr };
}

function trialText(t: Trial): string {
  const overran = t.overruns > 0 ? `, ${t.overruns} tick${t.overruns === 1 ? '' : 's'} overran` : '';
  return `${t.rateHz} Hz: ${t.sustained ? `sustained${overran}` : `missed at tick ${t.ticks}${overran}`}`;
}

export function sweepRows(r: SweepReport): ResultRow[] {
  const section = `highest tick rate with < 1 deadline miss in ${SWEEP_TICKS.toLocaleString('en-US')} ticks (deadline 75 % of the period)`;
  const tmrHz = r.tmr.sustainedHz ?? 0;
  const echoHz = r.echo.sustainedHz ?? 0;
  return [
    {
      section,
      metric: 'tmr run, 3 Node replicas vs 3 bare echoes (same pacing, priority)',
      measured: tmrHz,
      unit: 'Hz',
      floor: echoHz,
      ratio: echoHz > 0 ? tmrHz / echoHz : null,
      target: 'report; 0 = none on the ladder',
      verdict: 'INFO',
    },
  ];
}

export function sweepNotes(r: SweepReport): string[] {
  return [
    `rate sweep (ladder ${SWEEP_RATES_HZ.join(', ')} Hz, highest first; a trial stops at its first miss):`,
    `  tmr run: ${r.tmr.trials.map(trialText).join('; ')}`,
    `  echo:    ${r.echo.trials.map(trialText).join('; ')}`,
  ];
}
