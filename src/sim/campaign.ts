/**
 * Deterministic fault campaigns: a seed draws a fault schedule (and the plant's noise), the
 * simulator runs it, and checkers look at every tick. Pure: no clock, no I/O; a seed's result and
 * its per-tick trace are a function of (seed, faults, ticks, code version), so any failure is
 * replayed exactly from its seed (FoundationDB's simulation and TigerBeetle's VOPR are the models).
 *
 * Invariants (each names itself in a failure, verbatim):
 *   NO_MINORITY_COMMAND  the loop's independent auditor counted an unsafe command at this tick
 *                        (a command no majority of replica replies backs). Every schedule.
 *   SINGLE_FAULT_MASKED  'single': this tick's command and its source equal the same seed's
 *                        fault-free run, tick for tick.
 *   LAW_COMMAND          a 'voted' or 'simplex' command equals (mid-value channels: within their
 *                        tolerance of) what the control law computes from
 *                        this run's own inputs (an oracle replica, never faulted). Every schedule;
 *                        see lawCommandCheckable for where it is not provable.
 *   SAFE_WITHIN_BOUND    'double', both faults persistent and visible, policy 'safe', recovery
 *                        off: the safe command from the bound on, and at every tick after it.
 *   TMR_AFTER_HEALING    recovery on: after the last fault ends the loop is in TMR, all replicas
 *                        counted, within the healing bound, and stays there.
 */
import { assert } from '../core/assert.js';
import { crc32Update } from '../core/crc32.js';
import { deriveSeed, Prng } from '../core/prng.js';
import type { Observations, StepResult } from '../core/tmr-core.js';
import type { FaultKind } from '../protocol/messages.js';
import { coreConfigFor, type FaultSpec, type LoopBench, type LoopModel, type LoopOptions } from '../loop/loop-model.js';
import { DEFAULT_LOOP_OPTIONS } from './plants.js';
import { DEFAULT_RECOVERY, restartPolicyFor, ticksForMs } from '../loop/recovery.js';
import { SimReplica } from './sim-replica.js';
import { runSimulation } from './simulator.js';

export type CampaignFaults = 'single' | 'double' | 'mixed';
export const CAMPAIGN_FAULTS: readonly CampaignFaults[] = ['single', 'double', 'mixed'];

export const CAMPAIGN_SEEDS_MAX = 1_000_000;
export const CAMPAIGN_TICKS_MAX = 100_000;
/** Shortest runs: 'mixed' needs room for one fault episode and its healing bound. */
export const CAMPAIGN_TICKS_MIN: Readonly<Record<CampaignFaults, number>> = { single: 100, double: 100, mixed: 1_000 };
/** Chosen so 2,000 seeds of 'single' or 'double' take a few seconds on two cores (measured in the README). */
export const CAMPAIGN_TICKS_DEFAULT: Readonly<Record<CampaignFaults, number>> = { single: 1_000, double: 1_000, mixed: 3_000 };

export type Invariant =
  | 'NO_MINORITY_COMMAND'
  | 'SINGLE_FAULT_MASKED'
  | 'LAW_COMMAND'
  | 'SAFE_WITHIN_BOUND'
  | 'TMR_AFTER_HEALING'
  /** --stack full only (src/sim/full-stack-campaign.ts). */
  | 'MODEL_TRACE'
  | 'TICK_RHYTHM'
  | 'RUN_COMPLETES';

export interface Violation {
  readonly invariant: Invariant;
  readonly tick: number;
  readonly detail: string;
}

export interface SeedResult {
  readonly seed: number;
  readonly ok: boolean;
  /** The first violation (lowest tick; at one tick, in the order the invariants are listed above). */
  readonly violation: Violation | null;
  /** The schedule as `--inject` specs, e.g. `wrong:1@300+40 hang:2@512`. */
  readonly schedule: string;
  readonly recovery: boolean;
  readonly simplexPolicy: LoopOptions['simplexPolicy'];
  /** CRC-32 of the canonical per-tick trace (LoopModel.traceLine, one line per tick): equal traces, equal hashes. */
  readonly traceHash: string;
  /** Which optional checks applied to this schedule. */
  readonly checked: { readonly safeBound: boolean; readonly liveness: boolean; readonly modelTrace?: boolean };
  /** --stack full: the timing environment the seed drew (links, stalls), in one line. */
  readonly environment?: string;
  /** Faults that started while their replica was on probation (re-admission). */
  readonly probationHits: number;
}

/** The law and plant a campaign runs (default: pid-q16 on the motor). */
export interface CampaignSetup {
  readonly law: LoopOptions['law'];
  readonly plant: LoopOptions['plant'];
}

export interface CheckOptions {
  readonly setup?: CampaignSetup;
  /** TEST HOOK: the command becomes replica 0's on-time output instead of the vote (a broken voter). */
  readonly testHookBrokenVoter?: boolean;
  /** Receives each tick's canonical trace line (replays write them out). */
  readonly onTraceLine?: (line: string) => void;
}

/** PRNG stream of the schedule, apart from the plant's (1) and the fault parameters' (100+, 200+). */
const SCHEDULE_STREAM = 0x7ca0;
/** Faults with a duration; crash and state happen once (their duration is always 0). */
const DURABLE_KINDS: readonly FaultKind[] = ['hang', 'wrong', 'stuck', 'late', 'babble', 'bitflip'];
const ONE_SHOT_KINDS: readonly FaultKind[] = ['crash', 'state'];
const ALL_KINDS: readonly FaultKind[] = [...ONE_SHOT_KINDS, ...DURABLE_KINDS];
/**
 * Kinds whose replica provably never backs the law's command while the fault lasts: no on-time
 * reply at all (crash, hang, late, babble; bitflip: CRC-32 refuses every one-bit error), or a
 * command offset by a nonzero amount that differs per replica (wrong). Not 'stuck' (a frozen reply
 * may equal the live one while the plant rests) nor 'state' (the integral can wind back to the
 * healthy value at the anti-windup clamp).
 */
const VISIBLE_KINDS: readonly FaultKind[] = ['crash', 'hang', 'late', 'babble', 'bitflip', 'wrong'];
const TRANSIENT_TICKS_MAX = 200;
const BURST_TICKS_MAX = 8;
const BURST_GAP_TICKS_MAX = 40;
const EPISODES_MAX = 8;
const SECOND_FAULT_SPREAD_TICKS_MAX = 200;

function pick<T>(prng: Prng, items: readonly T[]): T {
  return items[prng.nextBelow(items.length)] as T;
}

/** Where recovery is on: ticks from the end of the last fault to TMR (see checkLiveness). */
export function healingBoundTicks(options: LoopOptions): number {
  const policy = restartPolicyFor(options.recovery, options.rateHz);
  const restartTicks = ticksForMs(options.recovery.simRestartMs, options.rateHz);
  // Exclusion can follow the end of a fault (a hang's owed replies arrive late afterwards, error
  // density drains one tick at a time): at most deadlineMissLimit + errorDensityLimit ticks.
  // Then the longest back-off, the restart, one tick boundary for the state transfer, the
  // probation, and one tick for the re-admission to take effect in the mode.
  return options.deadlineMissLimit + options.errorDensityLimit + policy.backoffTicksMax + restartTicks + 2 + options.recovery.probationTicks + 1;
}

/** The tick from which a fault no longer acts: crash and state act once (a restart heals them). */
function faultEndTick(f: FaultSpec): number {
  if (f.kind === 'crash' || f.kind === 'state') return f.startTick + 1;
  return f.durationTicks === 0 ? Number.POSITIVE_INFINITY : f.startTick + f.durationTicks;
}

/**
 * One replica's faults, from `startTick`: persistent (duration 0, only if allowed), one transient
 * fault or one-shot, or an intermittent train of short bursts; with recovery on, perhaps one more
 * burst aimed at the probation that follows the first fault's exclusion. At most `faultsMax` specs.
 */
function drawEpisode(prng: Prng, options: { replicaIndex: number; startTick: number; persistentAllowed: boolean; aimAtProbation: boolean; faultsMax: number; restartTicks: number; probationTicks: number }): FaultSpec[] {
  const { replicaIndex, faultsMax } = options;
  const specs: FaultSpec[] = [];
  let tick = options.startTick;
  const shape = prng.nextBelow(options.persistentAllowed ? 3 : 2);
  if (shape === 2) {
    specs.push({ kind: pick(prng, ALL_KINDS), replicaIndex, startTick: tick, durationTicks: 0 });
    return specs;
  }
  if (shape === 0) {
    const kind = pick(prng, ALL_KINDS);
    const durationTicks = ONE_SHOT_KINDS.includes(kind) ? 0 : prng.nextIntInclusive(1, TRANSIENT_TICKS_MAX);
    specs.push({ kind, replicaIndex, startTick: tick, durationTicks });
  } else {
    // Intermittent: several short bursts on the same replica, never overlapping.
    const bursts = prng.nextIntInclusive(2, Math.max(2, faultsMax - (options.aimAtProbation ? 1 : 0)));
    for (let b = 0; b < bursts && specs.length < faultsMax; b++) {
      const durationTicks = prng.nextIntInclusive(1, BURST_TICKS_MAX);
      specs.push({ kind: pick(prng, DURABLE_KINDS), replicaIndex, startTick: tick, durationTicks });
      tick += durationTicks + prng.nextIntInclusive(1, BURST_GAP_TICKS_MAX);
    }
  }
  if (options.aimAtProbation && specs.length < faultsMax) {
    // Exclusion comes 0..3 ticks after the last fault's start (or never, if it was too short),
    // the restart takes restartTicks, the transfer one boundary: probation follows.
    const last = specs[specs.length - 1]!;
    const at = last.startTick + 3 + options.restartTicks + 2 + prng.nextBelow(Math.max(1, options.probationTicks - 4));
    const kind = pick(prng, DURABLE_KINDS);
    specs.push({ kind, replicaIndex, startTick: Math.max(at, faultEndTick(last)), durationTicks: prng.nextIntInclusive(1, BURST_TICKS_MAX) });
  }
  return specs;
}

/**
 * The run's options for a seed: faults drawn from the seed's schedule stream, the plant's noise
 * from the seed itself (the simulator derives it).
 *   single  one replica: persistent, transient, one-shot or intermittent; recovery on for half
 *           the seeds, and then sometimes a burst aimed at its probation.
 *   double  two replicas, the second fault 0..200 ticks after the first; for one seed in three
 *           both persistent and visible; policy 'safe' for three seeds in four; recovery on for
 *           one seed in four.
 *   mixed   recovery on; episodes on any replicas, one after the other, each starting after the
 *           previous one's healing bound; bursts aimed at probation; at most restartsMax faults per
 *           replica, so the restart limit is never what stops a replica coming back.
 */
export function drawSchedule(seed: number, faults: CampaignFaults, ticks: number, setup?: CampaignSetup): LoopOptions {
  assert(Number.isInteger(seed) && seed >= 0 && seed <= 0xffff_ffff, 'seed out of range');
  assert(Number.isInteger(ticks) && ticks >= CAMPAIGN_TICKS_MIN[faults] && ticks <= CAMPAIGN_TICKS_MAX, 'ticks out of range for a campaign');
  const prng = new Prng(deriveSeed(seed, SCHEDULE_STREAM));
  const base: LoopOptions = { ...DEFAULT_LOOP_OPTIONS, ...setup, ticks, seed, injects: [] };
  const recoveryOn = { ...DEFAULT_RECOVERY, enabled: true };
  const restartTicks = ticksForMs(recoveryOn.simRestartMs, base.rateHz);
  const episode = { restartTicks, probationTicks: recoveryOn.probationTicks };
  const replicaCount = base.replicaCount;
  const inRun = (specs: FaultSpec[]): FaultSpec[] => specs.filter((f) => f.startTick < ticks);
  if (faults === 'single') {
    const recovery = prng.nextBelow(2) === 1;
    const specs = drawEpisode(prng, {
      ...episode,
      replicaIndex: prng.nextBelow(replicaCount),
      startTick: prng.nextBelow(ticks),
      persistentAllowed: true,
      aimAtProbation: recovery && prng.nextBelow(2) === 1,
      faultsMax: recovery ? recoveryOn.restartsMax : 6,
    });
    return { ...base, simplexPolicy: prng.nextBelow(2) === 1 ? 'simplex' : 'safe', recovery: recovery ? recoveryOn : base.recovery, injects: inRun(specs) };
  }
  if (faults === 'double') {
    const simplexPolicy = prng.nextBelow(4) === 0 ? 'simplex' : 'safe';
    const recovery = prng.nextBelow(4) === 0;
    const first = prng.nextBelow(replicaCount);
    const second = (first + 1 + prng.nextBelow(replicaCount - 1)) % replicaCount;
    const start = prng.nextBelow(Math.max(1, Math.floor(ticks * 0.6)));
    const options = { ...episode, persistentAllowed: true, aimAtProbation: false, faultsMax: 4 };
    const start2 = start + prng.nextBelow(SECOND_FAULT_SPREAD_TICKS_MAX + 1);
    // One seed in three: both faults persistent and visible, the case SAFE_WITHIN_BOUND is about.
    if (prng.nextBelow(3) === 0) {
      const specs: FaultSpec[] = [
        { kind: pick(prng, VISIBLE_KINDS), replicaIndex: first, startTick: start, durationTicks: 0 },
        { kind: pick(prng, VISIBLE_KINDS), replicaIndex: second, startTick: start2, durationTicks: 0 },
      ];
      return { ...base, simplexPolicy, recovery: recovery ? recoveryOn : base.recovery, injects: inRun(specs) };
    }
    const specs = [
      ...drawEpisode(prng, { ...options, replicaIndex: first, startTick: start }),
      ...drawEpisode(prng, { ...options, replicaIndex: second, startTick: start2 }),
    ];
    return { ...base, simplexPolicy, recovery: recovery ? recoveryOn : base.recovery, injects: inRun(specs) };
  }
  const options: LoopOptions = { ...base, simplexPolicy: prng.nextBelow(2) === 1 ? 'simplex' : 'safe', recovery: recoveryOn };
  const healing = healingBoundTicks(options);
  const faultsLeft = new Array<number>(replicaCount).fill(recoveryOn.restartsMax);
  const specs: FaultSpec[] = [];
  let tick = prng.nextBelow(100);
  for (let e = 0; e < EPISODES_MAX; e++) {
    const replicaIndex = prng.nextBelow(replicaCount);
    if (faultsLeft[replicaIndex]! === 0) continue;
    const drawn = drawEpisode(prng, { ...episode, replicaIndex, startTick: tick, persistentAllowed: false, aimAtProbation: prng.nextBelow(2) === 1, faultsMax: faultsLeft[replicaIndex]! });
    const end = Math.max(...drawn.map(faultEndTick));
    // Every fault must end with room for its healing bound, so liveness is checked on every seed.
    if (end + healing >= ticks) break;
    specs.push(...drawn);
    faultsLeft[replicaIndex]! -= drawn.length;
    tick = end + healing + prng.nextBelow(100);
  }
  assert(specs.length > 0, 'a mixed schedule without faults (ticks too short)');
  return { ...options, injects: specs };
}

/** What the schedule's faults are, as `--inject` specs. */
export function scheduleText(injects: readonly FaultSpec[]): string {
  return injects.map((f) => `${f.kind}:${f.replicaIndex}@${f.startTick}${f.durationTicks > 0 ? `+${f.durationTicks}` : ''}`).join(' ');
}

/**
 * Where LAW_COMMAND is provable: every voted or simplex command is backed by a strict majority
 * (the auditor checks that), so it equals the law's value unless faulty replicas form a majority
 * that agrees on a wrong value. Faulty replicas never fail identically by design (faultParam
 * gives each replica its own offset, frozen tick and seed), except that two 'stuck' or 'state'
 * replicas can both equal an older law output while the plant rests; those pairs are not checked.
 */
export function lawCommandCheckable(options: LoopOptions): boolean {
  const coincident = new Set(options.injects.filter((f) => f.kind === 'stuck' || f.kind === 'state').map((f) => f.replicaIndex));
  return coincident.size < 2;
}

/**
 * SAFE_WITHIN_BOUND applies when two different replicas each have exactly one fault, persistent
 * (duration 0) and of a visible kind, the policy is 'safe' and recovery is off. From the tick t2
 * the second fault starts, the healthy replica is the only one whose reply carries the law's
 * command, so no command vote reaches a strict majority of those in service (3 in service need 2,
 * 2 need 2, 1 is 'safe' by policy). Each such tick either latches safe at once (duplex, both
 * answered and differ) or adds one to the quorum-loss count, and the core commands safe once the
 * count exceeds quorumLossTicksMax. So the command is 'safe' at tick t2 + quorumLossTicksMax at the
 * latest and at every tick after it (no quorum forms again and nothing unlatches). The detector
 * limits (deadlineMissLimit, errorDensityLimit) only decide whether exclusions reach the safe mode
 * sooner; they do not enter the bound. The exception is a late fault: its replies carry the law's
 * command, and where they would make the quorum the host waits for them (the quorum grace), so it
 * is the failure detector that ends them: errorDensityLimit late ticks exclude the replica, and the
 * tick after it the loop is safe. Returns t2 + quorumLossTicksMax (t2 + errorDensityLimit if that
 * is later and a fault is late), or null where not checked.
 *
 * A late fault paired with another fault that is only silence (hang or late) makes a majority
 * silent or late in the same ticks: a common-mode episode, which the core rides through (the late
 * replies are the law's commands, voted in the quorum grace) until its limit, commonModeTicksMax;
 * then the detector judges both as usual. The bound grows by that limit plus the detector's
 * longer limit.
 */
export function safeBoundTick(options: LoopOptions): number | null {
  if (options.simplexPolicy !== 'safe' || options.recovery.enabled || options.injects.length !== 2) return null;
  const [a, b] = options.injects as [FaultSpec, FaultSpec];
  if (a.replicaIndex === b.replicaIndex) return null;
  if (!(a.durationTicks === 0 && b.durationTicks === 0 && VISIBLE_KINDS.includes(a.kind) && VISIBLE_KINDS.includes(b.kind))) return null;
  const anyLate = a.kind === 'late' || b.kind === 'late';
  const silentOnly = (kind: FaultKind): boolean => kind === 'hang' || kind === 'late';
  const ridden = anyLate && silentOnly(a.kind) && silentOnly(b.kind) ? coreConfigFor(options).commonModeTicksMax + Math.max(options.deadlineMissLimit, options.errorDensityLimit) : 0;
  const bound = Math.max(a.startTick, b.startTick) + Math.max(options.quorumLossTicksMax, anyLate ? options.errorDensityLimit : 0) + ridden;
  return bound < options.ticks ? bound : null;
}

/**
 * TMR_AFTER_HEALING applies with recovery on when every fault ends (no persistent durable fault)
 * and at most one replica is faulty at a time (faults on different replicas never overlap in
 * time, counting each from its start to its end plus the healing bound): then a commanding
 * majority exists at every tick, so a returning replica always has a donor. Two replicas out at
 * once with the 'safe' policy latch safe for good by design (a lone replica's unvoted state is
 * never copied), so there is no liveness to check. Returns the tick by which the loop must be in
 * TMR, or null where not checked.
 */
export function livenessBoundTick(options: LoopOptions): number | null {
  if (!options.recovery.enabled || options.injects.length === 0) return null;
  const healing = healingBoundTicks(options);
  const byStart = [...options.injects].sort((x, y) => x.startTick - y.startTick);
  let lastEnd = -1;
  let lastReplica = -1;
  for (const f of byStart) {
    const end = faultEndTick(f);
    if (end === Number.POSITIVE_INFINITY) return null;
    if (f.replicaIndex !== lastReplica && lastReplica !== -1 && f.startTick < lastEnd + healing) return null;
    if (f.replicaIndex !== lastReplica || end > lastEnd) lastEnd = Math.max(lastEnd, end);
    lastReplica = f.replicaIndex;
  }
  const bound = lastEnd + healing;
  return bound < options.ticks ? bound : null;
}

/** The fault-free run's per-tick commands (every channel) and source, for SINGLE_FAULT_MASKED. */
function faultFreeCommands(options: LoopOptions): ModelCommands {
  return modelCommands({ ...options, injects: [], recovery: DEFAULT_RECOVERY });
}

export interface ModelCommands {
  readonly commands: Int32Array;
  readonly channels: number;
  readonly source: string[];
}

/** The fast model's per-tick commands (every channel) and their source for these options. */
export function modelCommands(options: LoopOptions): ModelCommands {
  const channels = options.law.outputCount;
  const commands = new Int32Array(options.ticks * channels);
  const source = new Array<string>(options.ticks);
  runSimulation(options, {
    onTick: (_, result) => {
      commands.set(result.commands, result.tick * channels);
      source[result.tick] = result.commandSource;
    },
  });
  return { commands, channels, source };
}

/** The deliberately broken voter (test hook): replica 0's on-time outputs win, whatever the vote. */
function brokenVoter(result: StepResult, obs: Observations): void {
  if (obs.onTime[0] !== 1 || result.commandSource === 'safe') return;
  result.commands.set(obs.outputs.subarray(0, obs.channelCount));
}

function sameCommands(a: Int32Array, b: ArrayLike<number>, offset = 0): boolean {
  for (let c = 0; c < a.length; c++) if (a[c] !== b[offset + c]) return false;
  return true;
}

/**
 * Whether a command is the law's: exact channels bit for bit, mid-value channels within their
 * tolerance (the voter selects a middle value, which may be a healthy replica's neighbour within
 * tolerance, e.g. a stuck replica's older output in duplex).
 */
export function withinTolerance(model: LoopModel, commands: Int32Array, law: Int32Array): boolean {
  const channels = model.coreConfig.channels;
  for (let c = 0; c < channels.length; c++) {
    const channel = channels[c]!;
    if (Math.abs((commands[c] as number) - (law[c] as number)) > (channel.kind === 'exact' ? 0 : channel.toleranceCounts)) return false;
  }
  return true;
}

const show = (values: ArrayLike<number>): string => `[${Array.from(values).join(', ')}]`;

const ENCODER = new TextEncoder();

/** A seed's result from its options, its first violation and the CRC of its trace lines. */
export function seedResult(
  seed: number,
  options: LoopOptions,
  violation: Violation | null,
  traceHash: number,
  rest: Pick<SeedResult, 'checked' | 'probationHits'> & { readonly environment?: string },
): SeedResult {
  return {
    seed,
    ok: violation === null,
    violation,
    schedule: scheduleText(options.injects),
    recovery: options.recovery.enabled,
    simplexPolicy: options.simplexPolicy,
    traceHash: (traceHash >>> 0).toString(16).padStart(8, '0'),
    ...rest,
  };
}

/** Keeps the first violation (lowest tick; at one tick, the first checked). */
export function violationLog(): { violate: (invariant: Invariant, tick: number, detail: string) => void; first: () => Violation | null } {
  let violation: Violation | null = null;
  return {
    violate: (invariant, tick, detail) => {
      if (violation === null) violation = { invariant, tick, detail };
    },
    first: () => violation,
  };
}

/** Runs one seed's schedule and checks it at every tick. */
export function checkSeed(seed: number, faults: CampaignFaults, ticks: number, opts: CheckOptions = {}): SeedResult {
  const options = drawSchedule(seed, faults, ticks, opts.setup);
  const reference = faults === 'single' ? faultFreeCommands(options) : null;
  const safeBound = faults === 'double' ? safeBoundTick(options) : null;
  const livenessBound = livenessBoundTick(options);
  const lawCheckable = lawCommandCheckable(options);
  const healing = healingBoundTicks(options);
  const { violate, first } = violationLog();
  let oracle: SimReplica | null = null;
  let unsafeSeen = 0;
  let traceHash = 0;
  let probationHits = 0;
  const startsAt = new Map<number, number[]>();
  for (const f of options.injects) startsAt.set(f.startTick, [...(startsAt.get(f.startTick) ?? []), f.replicaIndex]);
  const fullMask = (1 << options.replicaCount) - 1;
  const onTick = (model: LoopModel, result: StepResult): void => {
    const tick = result.tick;
    oracle ??= new SimReplica(0, model.law, model.lawParams);
    oracle.logic.onTick(tick, model.inputs);
    const lawOutputs = oracle.logic.outputs;
    const line = model.traceLine(result);
    traceHash = crc32Update(traceHash, ENCODER.encode(`${line}\n`));
    opts.onTraceLine?.(line);
    for (const r of startsAt.get(tick) ?? []) if ((result.probationMask & (1 << r)) !== 0) probationHits++;
    if (model.unsafeCommands > unsafeSeen) {
      unsafeSeen = model.unsafeCommands;
      violate('NO_MINORITY_COMMAND', tick, `the auditor found ${result.commandSource} command ${show(result.commands)} without a majority of replies behind it`);
    }
    if (reference !== null && (!sameCommands(result.commands, reference.commands, tick * reference.channels) || result.commandSource !== reference.source[tick])) {
      const expected = reference.commands.subarray(tick * reference.channels, (tick + 1) * reference.channels);
      violate('SINGLE_FAULT_MASKED', tick, `command ${show(result.commands)} (${result.commandSource}); the fault-free run commanded ${show(expected)} (${reference.source[tick]})`);
    }
    if (lawCheckable && (result.commandSource === 'voted' || result.commandSource === 'simplex') && !withinTolerance(model, result.commands, lawOutputs)) {
      violate('LAW_COMMAND', tick, `${result.commandSource} command ${show(result.commands)}; the law gives ${show(lawOutputs)} for this tick's inputs`);
    }
    if (safeBound !== null && tick >= safeBound && result.commandSource !== 'safe') {
      violate('SAFE_WITHIN_BOUND', tick, `${result.commandSource} command ${show(result.commands)} in mode ${result.mode}; two persistent faults must give the safe command from tick ${safeBound}`);
    }
    // From the bound on no fault is left and every replica is back: TMR, all counted, at every tick.
    if (livenessBound !== null && tick >= livenessBound && !(result.mode === 'tmr' && result.inServiceMask === fullMask)) {
      violate('TMR_AFTER_HEALING', tick, `mode ${result.mode}, in service ${result.inServiceMask.toString(2).padStart(options.replicaCount, '0')}; the last fault ended by tick ${livenessBound - healing}, TMR was due from tick ${livenessBound}`);
    }
  };
  const bench: LoopBench = opts.testHookBrokenVoter === true ? { testHookAfterVote: brokenVoter } : {};
  runSimulation(options, { onTick }, bench);
  return seedResult(seed, options, first(), traceHash, { checked: { safeBound: safeBound !== null, liveness: livenessBound !== null }, probationHits });
}
