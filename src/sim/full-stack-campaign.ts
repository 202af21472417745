/**
 * `tmr campaign --stack full`: each seed's fault schedule (the same draw as the model campaign's)
 * run through the real runner in simulated time (src/sim/full-stack.ts), under a timing
 * environment drawn from the same seed: link delay and jitter, lost and damaged frames, host
 * stalls, one replica stalled, every replica stalled at once. One seed in four gets a quiet
 * machine, where the full stack must match the fast model tick for tick.
 *
 * What this campaign found: a replica whose tick frame was lost or damaged on the way used to
 * skip that step without knowing, so its state left the law's. The digest vote caught one such
 * replica, but two that lost the SAME tick frame agreed with each other and outvoted the healthy
 * one (seed 1338, single faults, 300 ticks: voted [-12000, 2093] where the law gives
 * [-2531, 924]), and a lone replica in simplex drifted and then seeded the others through
 * recovery (seed 721). Protocol v3 closes it: a replica steps only the tick after its last one
 * and answers any other with TICK_GAP (PROTOCOL.md 7.3), so a replica that lost a tick stops
 * voting until a state transfer. Line damage is drawn on every link, under every simplex policy.
 *
 * Invariants (beside the model campaign's NO_MINORITY_COMMAND and LAW_COMMAND, on every seed):
 *   MODEL_TRACE    quiet machine, recovery off: every command and its source equal the fast
 *                  model's (runSimulation) for the same options, tick for tick.
 *   TICK_RHYTHM    the host never spends more than RHYTHM_PERIODS_MAX tick periods of simulated
 *                  time on one tick, except across a host stall (deadlines and the quorum grace
 *                  bound every wait).
 *   RUN_COMPLETES  the run ends by itself with every tick done: no deadlock, no assertion, no
 *                  event or time limit reached.
 */
import { crc32Update } from '../core/crc32.js';
import { deriveSeed, Prng } from '../core/prng.js';
import type { StepResult } from '../core/tmr-core.js';
import type { LoopModel, LoopOptions } from '../loop/loop-model.js';
import { defaultQuorumGraceUs } from '../runtime/realtime-runner.js';
import {
  drawSchedule,
  lawCommandCheckable,
  modelCommands,
  seedResult,
  violationLog,
  withinTolerance,
  type CampaignFaults,
  type CheckOptions,
  type SeedResult,
} from './campaign.js';
import { quietEnvironment, runFullStack, type LinkProfile, type StallWindow, type TimingEnvironment } from './full-stack.js';
import { SimReplica } from './sim-replica.js';

/** PRNG stream of a seed's timing environment. */
const ENVIRONMENT_STREAM = 0x7ca1;
/** Longest a tick may take, in periods, away from host stalls (deadline 0.75 + grace 2 + slack). */
export const RHYTHM_PERIODS_MAX = 4;
const HANDSHAKE_TIMEOUT_MS = 2_000;

export interface FullStackCheckOptions extends CheckOptions {
  /**
   * TEST HOOK ONLY: a broken deadline rule (the host waits for every reply as if the deadline
   * were a thousand times later), so tests can show TICK_RHYTHM catches it. Never set elsewhere.
   */
  readonly testHookBrokenDeadline?: boolean;
}

/** The seed's timing environment: quiet one seed in four, else drawn. */
export function drawEnvironment(seed: number, options: LoopOptions): { env: TimingEnvironment; quiet: boolean } {
  const prng = new Prng(deriveSeed(seed, ENVIRONMENT_STREAM));
  const n = options.replicaCount;
  if (prng.nextBelow(4) === 0) return { env: quietEnvironment(n), quiet: true };
  const periodMs = 1000 / options.rateHz;
  const runMs = options.ticks * periodMs;
  const uniform = (max: number): number => (prng.nextBelow(1 << 20) / (1 << 20)) * max;
  const links: LinkProfile[] = Array.from({ length: n }, () => ({
    delayMs: 0.05 + uniform(0.5),
    jitterMs: uniform(periodMs * 0.4),
    lossProbability: prng.nextBelow(2) === 0 ? uniform(2e-3) : 0,
    bitErrorProbability: prng.nextBelow(2) === 0 ? uniform(2e-3) : 0,
  }));
  const window = (maxMs: number): StallWindow => ({ atMs: uniform(runMs), durationMs: 1 + uniform(maxMs) });
  const hostStalls = Array.from({ length: prng.nextBelow(3) }, () => window(150));
  const replicaStalls = Array.from({ length: prng.nextBelow(3) }, () => ({ replica: prng.nextBelow(n), ...window(60) }));
  // One seed in five: every replica stopped at once (a machine-wide stall), up to 400 ms.
  if (prng.nextBelow(5) === 0) {
    const stall = window(400);
    for (let r = 0; r < n; r++) replicaStalls.push({ replica: r, ...stall });
  }
  return { env: { links, hostStalls, replicaStalls, startMs: 20 + uniform(80) }, quiet: false };
}

/** The environment in one line, for reports. */
export function environmentText(env: TimingEnvironment, quiet: boolean): string {
  if (quiet) return 'quiet machine';
  const ms = (x: number): string => x.toFixed(1);
  const links = env.links.map((l) => `${ms(l.delayMs)}+${ms(l.jitterMs)}ms${l.lossProbability > 0 ? ` loss ${l.lossProbability.toExponential(1)}` : ''}${l.bitErrorProbability > 0 ? ` ber ${l.bitErrorProbability.toExponential(1)}` : ''}`);
  const host = env.hostStalls.map((s) => `host@${ms(s.atMs)}+${ms(s.durationMs)}`);
  const replicas = env.replicaStalls.map((s) => `r${s.replica}@${ms(s.atMs)}+${ms(s.durationMs)}`);
  return [`links ${links.join(', ')}`, ...host, ...replicas].join('; ');
}

const show = (values: ArrayLike<number>): string => `[${Array.from(values).join(', ')}]`;
const ENCODER = new TextEncoder();

/** Runs one seed through the full stack in simulated time and checks it at every tick. */
export async function checkSeedFullStack(seed: number, faults: CampaignFaults, ticks: number, opts: FullStackCheckOptions = {}): Promise<SeedResult> {
  const options = drawSchedule(seed, faults, ticks, opts.setup);
  const { env, quiet } = drawEnvironment(seed, options);
  const periodMs = 1000 / options.rateHz;
  const lawCheckable = lawCommandCheckable(options);
  const reference = quiet && !options.recovery.enabled ? modelCommands(options) : null;
  const { violate, first } = violationLog();
  let oracle: SimReplica | null = null;
  let unsafeSeen = 0;
  let traceHash = 0;
  let lastTickMs: number | null = null;
  let ticksDone = 0;
  const scheduled = new Set(options.injects.map((f) => f.replicaIndex));
  // Simplex is unchecked by definition: its command is held to the law only when the lone replica
  // has no scheduled fault (a damaged link no longer matters: a replica that lost a tick is silent).
  const unfaulted = (mask: number): boolean => [...scheduled].every((i) => (mask & (1 << i)) === 0);
  const stalled = (fromMs: number, toMs: number): boolean => env.hostStalls.some((s) => s.atMs < toMs && s.atMs + s.durationMs > fromMs);
  const onTick = (model: LoopModel, result: StepResult, nowMs: number): void => {
    const tick = result.tick;
    ticksDone = tick + 1;
    oracle ??= new SimReplica(0, model.law, model.lawParams);
    oracle.logic.onTick(tick, model.inputs);
    const line = model.traceLine(result);
    traceHash = crc32Update(traceHash, ENCODER.encode(`${line}\n`));
    opts.onTraceLine?.(line);
    if (model.unsafeCommands > unsafeSeen) {
      unsafeSeen = model.unsafeCommands;
      violate('NO_MINORITY_COMMAND', tick, `the auditor found ${result.commandSource} command ${show(result.commands)} without a majority of replies behind it`);
    }
    const lawCheck = result.commandSource === 'voted' || (result.commandSource === 'simplex' && unfaulted(result.inServiceMask));
    if (lawCheckable && lawCheck && !withinTolerance(model, result.commands, oracle.logic.outputs)) {
      violate('LAW_COMMAND', tick, `${result.commandSource} command ${show(result.commands)}; the law gives ${show(oracle.logic.outputs)} for this tick's inputs`);
    }
    if (reference !== null) {
      const c = model.law.outputCount;
      const expected = reference.commands.subarray(tick * c, (tick + 1) * c);
      if (result.commandSource !== reference.source[tick] || result.commands.some((v, k) => v !== expected[k])) {
        violate('MODEL_TRACE', tick, `command ${show(result.commands)} (${result.commandSource}); the model commanded ${show(expected)} (${reference.source[tick]}) on a quiet machine`);
      }
    }
    if (lastTickMs !== null && nowMs - lastTickMs > RHYTHM_PERIODS_MAX * periodMs && !stalled(lastTickMs, nowMs)) {
      violate('TICK_RHYTHM', tick, `${(nowMs - lastTickMs).toFixed(2)} ms of simulated time on one tick, more than ${RHYTHM_PERIODS_MAX} periods (${(RHYTHM_PERIODS_MAX * periodMs).toFixed(2)} ms) with no host stall`);
    }
    lastTickMs = nowMs;
  };
  try {
    await runFullStack(
      {
        ...options,
        deadlineUs: Math.floor((periodMs * 1000 * 3) / 4),
        quorumGraceUs: defaultQuorumGraceUs(options.rateHz),
        handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
      },
      env,
      { onTick, testHookBrokenDeadline: opts.testHookBrokenDeadline === true },
      {},
    );
    if (ticksDone !== options.ticks) violate('RUN_COMPLETES', ticksDone, `the run ended after ${ticksDone} of ${options.ticks} ticks`);
  } catch (error) {
    violate('RUN_COMPLETES', ticksDone, error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  }
  return seedResult(seed, options, first(), traceHash, {
    environment: environmentText(env, quiet),
    checked: { safeBound: false, liveness: false, modelTrace: reference !== null },
    probationHits: 0,
  });
}
