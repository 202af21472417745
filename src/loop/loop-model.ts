/**
 * Everything about one TMR run that is independent of how replicas are reached: the law, the core,
 * the world (plant, actuators, sensors, setpoints), the fault schedule, the unsafe-command audit,
 * the voted-trace hash and the summary. `tmr sim` (in-process replicas, simulated time) and
 * `tmr run` (real processes, real time) both drive this, tick by tick, so the two compute the same
 * voted command sequence whenever the replicas' replies agree.
 *
 * Loop layer (src/loop/): imports only core, protocol, law and src/loop; the plants, and the
 * default run that names one (DEFAULT_LOOP_OPTIONS), are in src/sim/plants.ts.
 */
import { assert, fail } from '../core/assert.js';
import { crc32UpdateU32Le } from '../core/crc32.js';
import type { Mode, SimplexPolicy } from '../core/degradation.js';
import type { DetectorCounters, ExclusionReason, ReplicaHealth } from '../core/failure-detector.js';
import { deriveSeed } from '../core/prng.js';
import {
  COMMON_MODE_TICKS_MAX,
  createCoreState,
  createObservations,
  resetObservations,
  step,
  type CommonModeCause,
  type CommonModeOutcome,
  type CoreChannel,
  type CoreConfig,
  type CoreState,
  type Observations,
  type StepResult,
} from '../core/tmr-core.js';
import { requiredAgreeingFor } from '../core/voter.js';
import { hex, type LoadedLaw } from '../law/law-runtime.js';
import type { KillSwitchTrip } from './kill-switch.js';
import { DEFAULT_RECOVERY, Recovery, ticksForMs, type RecoveryOptions, type RecoverySummary } from './recovery.js';
import type { FaultKind } from '../protocol/messages.js';
import { checkPlantFitsLaw, type InputEvent, type IoSummary, type LoopWorld, type PlantDefinition } from './world.js';

export interface FaultSpec {
  readonly kind: FaultKind;
  readonly replicaIndex: number;
  readonly startTick: number;
  /** 0: until the end of the run. */
  readonly durationTicks: number;
}

/**
 * A machine-wide stall: every replica stops for durationTicks at once (SIGSTOP of every replica
 * process in tmr run, then SIGCONT; a hang of every replica in tmr sim, its replies delivered late
 * when it ends), what a machine hiccup or a USB hub reset does to every channel together.
 */
export interface StallSpec {
  readonly startTick: number;
  readonly durationTicks: number;
}

export interface LoopOptions {
  /** The control law every replica runs (loaded: its checks passed). */
  readonly law: LoadedLaw;
  /** The world it controls, unless the bench brings its own. */
  readonly plant: PlantDefinition;
  readonly replicaCount: number;
  readonly rateHz: number;
  readonly ticks: number;
  readonly seed: number;
  readonly injects: readonly FaultSpec[];
  /** Machine-wide stalls to inject (`--inject stall@TICK+TICKS`). */
  readonly stalls: readonly StallSpec[];
  readonly simplexPolicy: SimplexPolicy;
  readonly deadlineMissLimit: number;
  readonly errorDensityLimit: number;
  readonly quorumLossTicksMax: number;
  /**
   * Longest common-mode episode ridden through (a majority silent or late at once), ms; past it the
   * episode is lost and the silent replicas are judged as usual. 0: no episodes (every miss counts).
   */
  readonly commonModeLimitMs: number;
  /** Restart, re-synchronise and re-admit excluded replicas (off by default: see DEFAULT_RECOVERY). */
  readonly recovery: RecoveryOptions;
}

/** Bound on commonModeLimitMs (10 minutes). */
export const COMMON_MODE_LIMIT_MS_MAX = 600_000;

/** The core's channel table from a law's output declarations: vote policy, range, safe value. */
export function coreChannelsFor(law: LoadedLaw): CoreChannel[] {
  return law.definition.outputs.map((c, i) => ({ ...(law.channels[i] as CoreChannel), min: c.min, max: c.max, safe: c.safe }));
}

/** PRNG stream ids derived from the run's seed (sensor: a plant's sensor noise). */
export const STREAM = { sensor: 1, babble: 100, bitflip: 200 } as const;

/**
 * What a run controls and follows, when it is not the default: the HIL bench brings its own world
 * (models configured by a scenario, johnny-five in the command path, disturbances) and profile.
 */
export interface LoopBench {
  /** A world of the bench's own (it must supply and take the law's channels); default: the plant's. */
  readonly world?: LoopWorld;
  /**
   * TEST HOOK ONLY (the campaign's deliberately broken voter, CheckOptions.testHookBrokenVoter):
   * may rewrite the step's command after the vote and before the audit and the actuator, so tests
   * can show the campaign's checkers catch a voter that is wrong. Never set outside tests.
   */
  readonly testHookAfterVote?: (result: StepResult, obs: Observations) => void;
}

/**
 * What became of an injected fault: it excluded its replica (detected); the replica refused the
 * injection, so the fault never ran (a build without test hooks answers `error`
 * UNEXPECTED_MESSAGE, PROTOCOL.md 13); or neither (masked or tolerated, or it went unseen).
 */
export type FaultOutcome = 'detected' | 'refused' | 'notDetected';

export interface FaultRecord {
  kind: FaultKind;
  replica: number;
  injectedTick: number;
  durationTicks: number;
  outcome: FaultOutcome;
  detectedTick: number | null;
  detectionLatencyTicks: number | null;
  reason: ExclusionReason | null;
  /** The replica's answer when it refused the injection; null otherwise. */
  refusal: { code: 'UNEXPECTED_MESSAGE'; detail: string } | null;
}

/** One common-mode episode as the summary names it. */
export interface CommonModeRecord {
  startTick: number;
  /** null while it is still going on at the end of the run. */
  lengthTicks: number | null;
  cause: CommonModeCause;
  outcome: CommonModeOutcome | null;
  /** Replicas silent or late at some tick of it. */
  replicas: number[];
}

/** Episodes listed in a summary (all are counted). */
export const COMMON_MODE_RECORDS_MAX = 100;

export interface RunSummary {
  kind: 'sim' | 'run';
  law: { name: string; version: number; selfTestHash: string };
  plant: string;
  seed: number;
  replicaCount: number;
  rateHz: number;
  ticks: number;
  deadlineMisses: number;
  unsafeCommands: number;
  firstUnsafeTick: number | null;
  /**
   * Each tick at which the mode in force changed (the step result's mode, as logged per tick), from
   * the first tick on; reason: START, or the change's reason code.
   */
  modeHistory: { tick: number; mode: Mode; reason: string }[];
  finalMode: Mode;
  faults: FaultRecord[];
  /** Machine-wide stalls injected. */
  stalls: StallSpec[];
  replicas: {
    index: number;
    state: 'inService' | 'excluded' | 'probation';
    reason: ExclusionReason | null;
    excludedTick: number | null;
    /** First tick of the run of missed deadlines that ended in the exclusion; null if it was never silent. */
    firstMissTick: number | null;
    detail: string | null;
    /** What the failure detector saw of this replica over the run. */
    counters: DetectorCounters;
  }[];
  commands: { voted: number; held: number; simplex: number; safe: number };
  protocolErrors: number;
  lateReplies: number;
  actuator: { watchdogTrips: number; commandsRejected: number };
  /** How the plant's measured input followed its setpoint input, in their unit. */
  tracking: { setpoint: string; measured: string; unit: string; maxAbsError: number; finalError: number };
  votedTraceHash: string;
  /** Why the kill switch stopped the run, or null if it did not. */
  killSwitch: KillSwitchTrip | null;
  /** Real I/O only (`--io`): sensor samples and actuator writes over the wire, input faults. */
  io?: IoSummary;
  /** Restarts, re-admissions and retirements; null when recovery is off. */
  recovery: RecoverySummary | null;
  /** Common-mode episodes (a majority silent or late at once): ridden through without an exclusion, or lost. */
  commonMode: {
    /** The limit, ticks (0: episodes off). */
    limitTicks: number;
    episodes: number;
    ridden: number;
    lost: number;
    /** Ticks spent in episodes, and the longest one. */
    ticks: number;
    longestTicks: number;
    /** The first COMMON_MODE_RECORDS_MAX episodes. */
    records: CommonModeRecord[];
  };
}

/** The core's configuration for a run's options and law (replay uses it too). */
export function coreConfigFor(
  options: Pick<LoopOptions, 'replicaCount' | 'deadlineMissLimit' | 'errorDensityLimit' | 'quorumLossTicksMax' | 'simplexPolicy' | 'law' | 'rateHz'> & {
    readonly recovery?: RecoveryOptions;
    /** Absent in logs written before common-mode episodes: none then. */
    readonly commonModeLimitMs?: number;
  },
): CoreConfig {
  const limitMs = options.commonModeLimitMs ?? 0;
  return {
    replicaCount: options.replicaCount,
    channels: coreChannelsFor(options.law),
    deadlineMissLimit: options.deadlineMissLimit,
    errorDensityLimit: options.errorDensityLimit,
    quorumLossTicksMax: options.quorumLossTicksMax,
    simplexPolicy: options.simplexPolicy,
    // Logs written before recovery existed carry no recovery options: the default applies.
    probationTicks: (options.recovery ?? DEFAULT_RECOVERY).probationTicks,
    commonModeTicksMax: limitMs === 0 ? 0 : Math.min(COMMON_MODE_TICKS_MAX, ticksForMs(limitMs, options.rateHz)),
  };
}

const NO_INPUT_EVENTS: readonly InputEvent[] = [];

export class LoopModel {
  readonly law: LoadedLaw;
  /** The law's parameters for this run (the law's defaults at its rate), sent in every hello. */
  readonly lawParams: Int32Array;
  readonly coreConfig: CoreConfig;
  readonly core: CoreState;
  readonly obs: Observations;
  readonly world: LoopWorld;
  /** This tick's input channels, sent to every replica (set by prepareTick). */
  readonly inputs: Int32Array;
  readonly faults: FaultRecord[];
  private readonly faultsByTick = new Map<number, FaultSpec[]>();
  private readonly stallsByTick = new Map<number, StallSpec>();
  readonly commonModeRecords: CommonModeRecord[] = [];
  /**
   * The mode in force at each tick it changed: each entry is a step result's own mode, the one its
   * command was decided in and the black box logs, so the two agree by construction.
   */
  readonly modeHistory: RunSummary['modeHistory'] = [];
  /** The mode in force at the last tick stepped; null before the first. */
  private modeInForce: Mode | null = null;
  /** Why the mode changed at the end of the last tick (an exclusion or a re-admission), in force from this one; null if it did not. */
  private modeChangeDecidedReason: string | null = null;
  readonly replicaDetail: (string | null)[];
  /** Per replica: first tick of the current run of missed deadlines, -1 if none. */
  private readonly missStreakStart: Int32Array;
  private readonly firstMissTickAtExclusion: Int32Array;
  private readonly setpointIndex: number;
  private readonly measuredIndex: number;
  private traceHash = 0;
  unsafeCommands = 0;
  firstUnsafeTick: number | null = null;
  deadlineMisses = 0;
  protocolErrors = 0;
  lateReplies = 0;
  maxAbsError = 0;
  ticksDone = 0;
  /** Why the kill switch stopped the run (see halt); null while it runs. */
  killSwitchTrip: KillSwitchTrip | null = null;
  /** This tick's input events (a real world's sensors: faults, recoveries); empty for simulated worlds. */
  inputEvents: readonly InputEvent[] = NO_INPUT_EVENTS;
  /**
   * Set by prepareTick when an input fault outlasted its hold: the runner halts with it before the
   * tick is sent to any replica (nothing is commanded from a stale reading), the actuator safe.
   */
  inputTrip: KillSwitchTrip | null = null;
  /** The supervisor's bookkeeping when recovery is on; the runner does the restarts. */
  readonly recovery: Recovery | null;
  private consecutiveHolds = 0;
  private auditInService = 0;
  private readonly lastApplied: Int32Array;
  private readonly testHookAfterVote: LoopBench['testHookAfterVote'];

  constructor(
    readonly options: LoopOptions,
    bench: LoopBench = {},
  ) {
    this.testHookAfterVote = bench.testHookAfterVote;
    this.law = options.law;
    checkPlantFitsLaw(options.plant, this.law);
    this.world = bench.world ?? options.plant.create({ rateHz: options.rateHz, seed: options.seed, ticks: options.ticks });
    this.lawParams = this.law.paramsForRate(options.rateHz);
    this.coreConfig = coreConfigFor(options);
    this.core = createCoreState(this.coreConfig);
    this.recovery = options.recovery.enabled ? new Recovery(options.recovery, options.rateHz, this.core) : null;
    this.obs = createObservations(options.replicaCount, this.law.outputCount);
    this.inputs = new Int32Array(this.law.inputCount);
    const inputNames = this.law.definition.inputs.map((c) => c.name);
    this.setpointIndex = inputNames.indexOf(options.plant.tracking.setpoint);
    this.measuredIndex = inputNames.indexOf(options.plant.tracking.measured);
    this.lastApplied = Int32Array.from(this.coreConfig.channels.map((c) => c.safe));
    this.replicaDetail = new Array<string | null>(options.replicaCount).fill(null);
    this.missStreakStart = new Int32Array(options.replicaCount).fill(-1);
    this.firstMissTickAtExclusion = new Int32Array(options.replicaCount).fill(-1);
    this.faults = options.injects.map((f) => ({
      kind: f.kind,
      replica: f.replicaIndex,
      injectedTick: f.startTick,
      durationTicks: f.durationTicks,
      outcome: 'notDetected',
      detectedTick: null,
      detectionLatencyTicks: null,
      reason: null,
      refusal: null,
    }));
    for (const stall of options.stalls) {
      assert(stall.durationTicks >= 1 && !this.stallsByTick.has(stall.startTick), 'a stall lasts a tick or more, one per start tick');
      this.stallsByTick.set(stall.startTick, stall);
    }
    for (const f of options.injects) {
      assert(f.replicaIndex < options.replicaCount, 'fault aimed at a replica that does not exist');
      const list = this.faultsByTick.get(f.startTick) ?? [];
      list.push(f);
      this.faultsByTick.set(f.startTick, list);
    }
  }

  /** The kill switch tripped after this tick: the actuator goes to its safe state; the runner stops. */
  halt(trip: KillSwitchTrip): void {
    this.killSwitchTrip = trip;
    this.world.enterSafeState();
  }

  faultsStartingAt(tick: number): readonly FaultSpec[] {
    return this.faultsByTick.get(tick) ?? [];
  }

  /**
   * The replica refused this injection (one of faultsStartingAt's): the fault never ran, so no
   * exclusion of that replica is its detection, before or after. Returns its record.
   */
  injectionRefused(spec: FaultSpec, refusal: NonNullable<FaultRecord['refusal']>): FaultRecord {
    const index = this.options.injects.indexOf(spec);
    assert(index >= 0, 'a refusal of a fault that was not injected');
    const fault = this.faults[index]!;
    Object.assign(fault, { outcome: 'refused', refusal: { ...refusal }, detectedTick: null, detectionLatencyTicks: null, reason: null });
    return fault;
  }

  /** The machine-wide stall that starts at this tick, if any. */
  stallStartingAt(tick: number): StallSpec | null {
    return this.stallsByTick.get(tick) ?? null;
  }

  /** Reads this tick's inputs from the world and clears the observations. */
  prepareTick(tick: number): void {
    resetObservations(this.obs);
    this.world.sense(tick, this.inputs);
    if (!this.law.inputsValid(this.inputs)) fail(`the world gave inputs [${this.inputs.join(', ')}] outside law ${this.law.name}'s declared ranges at tick ${tick}`);
    this.inputEvents = this.world.inputHealth?.().events ?? NO_INPUT_EVENTS;
    for (const event of this.inputEvents) {
      if (event.kind !== 'inputHoldExpired' || this.inputTrip !== null) continue;
      const channel = this.law.definition.inputs[event.channel]!.name;
      this.inputTrip = {
        trigger: 'INPUT_FAULT',
        tick: Math.max(0, tick - 1),
        detail: `${event.reason} on input ${channel} at tick ${event.tick}, held ${event.heldTicks} ticks (its hold policy's limit): safe state before tick ${tick}`,
      };
    }
  }

  /**
   * Whether enough replicas in service have answered this tick for a vote: the core's strict
   * majority of those in service (two of three, both in duplex, the one left in simplex), or every
   * one that can still answer if fewer can. A replica whose link is down will not answer and is not
   * waited for (`isDown`: the shell's current view; by default this tick's observations). Below
   * this at the deadline, the real-time host waits on for its quorum grace.
   */
  quorumAnswered(isDown?: (replicaIndex: number) => boolean): boolean {
    let inService = 0;
    let answerable = 0;
    let answered = 0;
    for (let i = 0; i < this.obs.replicaCount; i++) {
      if (this.core.status[i] !== 'inService') continue;
      inService++;
      if (isDown === undefined ? this.obs.linkDown[i] === 1 : isDown(i)) continue;
      answerable++;
      if (this.obs.onTime[i] === 1) answered++;
    }
    return inService === 0 || answered >= Math.min(requiredAgreeingFor(inService), answerable);
  }

  /** Votes, audits, drives the actuator and advances the plant one step. */
  completeTick(tick: number): StepResult {
    const result = step(this.core, this.obs, tick);
    this.testHookAfterVote?.(result, this.obs);
    this.audit(result);
    this.world.actuate(tick, result.commands);
    // Each channel's command as four little-endian bytes (two's complement), channel 0 first.
    for (let c = 0; c < result.commands.length; c++) this.traceHash = crc32UpdateU32Le(this.traceHash, (result.commands[c] as number) >>> 0);
    for (let i = 0; i < this.options.replicaCount; i++) {
      const flags = result.flags[i] as number;
      if ((result.inServiceMask & (1 << i)) !== 0) {
        if ((flags & 1) === 0) this.missStreakStart[i] = -1;
        else if (this.missStreakStart[i] === -1) this.missStreakStart[i] = tick;
      }
      if (flags & 1) this.deadlineMisses++;
      this.protocolErrors += this.obs.protocolErrors[i] as number;
      this.lateReplies += this.obs.lateReplies[i] as number;
    }
    const error = Math.abs(this.trackingError());
    if (error > this.maxAbsError) this.maxAbsError = error;
    this.recordMode(result);
    if (result.events.length > 0) this.recordEvents(result);
    this.ticksDone = tick + 1;
    return result;
  }

  /** Setpoint minus measurement this tick, in the plant's tracking unit. */
  trackingError(): number {
    return (this.inputs[this.setpointIndex] as number) - (this.inputs[this.measuredIndex] as number);
  }

  /**
   * An independent check of every command that reaches the actuators, written without the voter,
   * channel by channel: a voted command must equal (an exact channel) or lie within tolerance of
   * (a mid-value channel) the on-time output of a strict majority of the replicas in service; a
   * held command must repeat the previous one, for a bounded number of ticks; a safe command must
   * be the safe value; a simplex command must come from the only replica in service.
   */
  private audit(result: StepResult): void {
    let safe = true;
    const channels = this.coreConfig.channels;
    for (let c = 0; c < channels.length; c++) {
      const commanded = result.commands[c] as number;
      switch (result.commandSource) {
        case 'voted':
        case 'simplex': {
          const agreeing = this.backing(result, c);
          const inService = this.auditInService;
          safe &&= result.commandSource === 'voted' ? inService >= 2 && agreeing * 2 > inService : inService === 1 && agreeing === 1 && this.options.simplexPolicy === 'simplex';
          break;
        }
        case 'held':
          safe &&= commanded === this.lastApplied[c] && this.consecutiveHolds < this.options.quorumLossTicksMax;
          break;
        case 'safe':
          safe &&= commanded === (channels[c] as CoreChannel).safe;
          break;
      }
    }
    this.consecutiveHolds = result.commandSource === 'held' ? this.consecutiveHolds + 1 : 0;
    this.lastApplied.set(result.commands);
    if (!safe) {
      this.unsafeCommands++;
      if (this.firstUnsafeTick === null) this.firstUnsafeTick = result.tick;
    }
  }

  /**
   * How many replicas in service have an on-time output on channel c that backs the command;
   * leaves the count in service in auditInService (no object per tick: this runs every tick).
   */
  private backing(result: StepResult, c: number): number {
    const channel = this.coreConfig.channels[c] as CoreChannel;
    const tolerance = channel.kind === 'exact' ? 0 : channel.toleranceCounts;
    const commanded = result.commands[c] as number;
    const width = this.obs.channelCount;
    let inService = 0;
    let agreeing = 0;
    for (let i = 0; i < this.options.replicaCount; i++) {
      if ((result.inServiceMask & (1 << i)) === 0) continue;
      inService++;
      if (this.obs.onTime[i] === 1 && Math.abs((this.obs.outputs[i * width + c] as number) - commanded) <= tolerance) agreeing++;
    }
    this.auditInService = inService;
    return agreeing;
  }

  /**
   * modeHistory from the step result's mode, never from a modeChanged event's tick: the core
   * decides some changes at the end of a tick (an exclusion by the failure detector, a
   * re-admission), in force only from the next tick, whose command is the first decided in the new
   * mode. The reason is that of the change that put the mode in force: one decided this tick before
   * the vote (its event's `to` is this tick's mode), else the one decided at the end of the last.
   */
  private recordMode(result: StepResult): void {
    let reasonNow: string | null = null;
    let reasonNext: string | null = null;
    for (const event of result.events) {
      if (event.kind !== 'modeChanged') continue;
      if (event.to === result.mode) reasonNow = event.reason;
      else reasonNext = event.reason;
    }
    if (result.mode !== this.modeInForce) {
      const reason = reasonNow ?? (this.modeInForce === null ? 'START' : this.modeChangeDecidedReason);
      if (reason === null) fail(`tick ${result.tick}: mode ${result.mode} in force after ${this.modeInForce} without a modeChanged event`);
      this.modeHistory.push({ tick: result.tick, mode: result.mode, reason });
      this.modeInForce = result.mode;
    }
    this.modeChangeDecidedReason = reasonNext;
  }

  private recordEvents(result: StepResult): void {
    for (const event of result.events) {
      if (event.kind === 'commonModeStarted' && this.commonModeRecords.length < COMMON_MODE_RECORDS_MAX) {
        this.commonModeRecords.push({ startTick: event.tick, lengthTicks: null, cause: event.cause, outcome: null, replicas: maskToList(event.silentMask) });
      }
      if (event.kind === 'commonModeEnded') {
        const record = this.commonModeRecords.find((r) => r.startTick === event.startTick);
        if (record !== undefined) Object.assign(record, { lengthTicks: event.lengthTicks, cause: event.cause, outcome: event.outcome, replicas: maskToList(event.silentMask) });
      }
      if (event.kind === 'replicaReadmitted' || event.kind === 'coldStarted') this.replicaDetail[event.replicaIndex] = null;
      if (event.kind === 'replicaExcluded') {
        this.firstMissTickAtExclusion[event.replicaIndex] = this.missStreakStart[event.replicaIndex] as number;
        for (const fault of this.faults) {
          if (fault.replica === event.replicaIndex && fault.outcome === 'notDetected' && event.tick >= fault.injectedTick) {
            fault.outcome = 'detected';
            fault.detectedTick = event.tick;
            fault.detectionLatencyTicks = event.tick - fault.injectedTick;
            fault.reason = event.reason;
          }
        }
      }
    }
  }

  get votedTraceHash(): string {
    return this.traceHash.toString(16).padStart(8, '0');
  }

  summary(kind: RunSummary['kind']): RunSummary {
    const core = this.core;
    return {
      kind,
      law: { name: this.law.name, version: this.law.version, selfTestHash: hex(this.law.selfTestHash) },
      plant: this.options.plant.name,
      seed: this.options.seed,
      replicaCount: this.options.replicaCount,
      rateHz: this.options.rateHz,
      ticks: this.ticksDone,
      deadlineMisses: this.deadlineMisses,
      unsafeCommands: this.unsafeCommands,
      firstUnsafeTick: this.firstUnsafeTick,
      // Before the first tick (a run stopped before it began): the mode the core starts in.
      modeHistory: this.modeHistory.length > 0 ? this.modeHistory : [{ tick: 0, mode: core.mode, reason: 'START' }],
      finalMode: core.mode,
      faults: this.faults,
      stalls: this.options.stalls.map((x) => ({ ...x })),
      replicas: core.status.map((state, index) => ({
        index,
        state,
        reason: core.exclusionReason[index] ?? null,
        excludedTick: state === 'excluded' ? (core.excludedTick[index] as number) : null,
        firstMissTick: state === 'excluded' && (this.firstMissTickAtExclusion[index] as number) >= 0 ? (this.firstMissTickAtExclusion[index] as number) : null,
        counters: { ...(core.health[index] as ReplicaHealth).counters },
        detail: this.replicaDetail[index] ?? null,
      })),
      commands: {
        voted: core.counters.votedCommands,
        held: core.counters.heldCommands,
        simplex: core.counters.simplexCommands,
        safe: core.counters.safeCommands,
      },
      protocolErrors: this.protocolErrors,
      lateReplies: this.lateReplies,
      actuator: { ...this.world.actuatorCounters },
      tracking: { ...this.options.plant.tracking, maxAbsError: this.maxAbsError, finalError: this.trackingError() },
      votedTraceHash: this.votedTraceHash,
      killSwitch: this.killSwitchTrip,
      ...(this.world.ioSummary === undefined ? {} : { io: this.world.ioSummary() }),
      recovery: this.recovery?.summary() ?? null,
      commonMode: {
        limitTicks: this.coreConfig.commonModeTicksMax,
        episodes: core.counters.commonModeEpisodes,
        ridden: core.counters.commonModeRidden,
        lost: core.counters.commonModeLost,
        ticks: core.counters.commonModeTicks,
        longestTicks: Math.max(core.counters.commonModeLongestTicks, core.commonMode.active ? this.ticksDone - core.commonMode.startTick : 0),
        records: this.commonModeRecords.map((r) => ({ ...r, replicas: [...r.replicas] })),
      },
    };
  }

  /** One canonical line per tick, no wall-clock fields: the golden-trace format. */
  traceLine(result: StepResult): string {
    // Per replica, replica 0 first: in service (1/0) and the TICK_FLAG bits in hex.
    let flags = '';
    let inService = '';
    for (let i = 0; i < this.options.replicaCount; i++) {
      flags += (result.flags[i] as number).toString(16);
      inService += (result.inServiceMask >> i) & 1;
    }
    const events = result.events.map((e) => (e.kind === 'replicaExcluded' ? ` excluded:${e.replicaIndex}:${e.reason}` : e.kind === 'modeChanged' ? ` mode:${e.to}` : ` ${e.kind}`)).join('');
    return `${result.tick} inputs=${this.inputs.join(',')} cmd=${result.commands.join(',')} src=${result.commandSource} mode=${result.mode} in=${inService} flags=${flags}${events}`;
  }
}

function maskToList(mask: number): number[] {
  const list: number[] = [];
  for (let i = 0; mask !== 0; i++, mask >>>= 1) if (mask & 1) list.push(i);
  return list;
}

/**
 * The parameter an inject message carries for a fault, decided once from the run's options so
 * simulated and process replicas misbehave identically.
 */
export function faultParam(spec: FaultSpec, options: LoopOptions): number {
  // Parameters differ per replica, so two faulty replicas never fail identically by accident
  // (identical failures of a majority are common-mode faults no voter can see).
  const i = spec.replicaIndex;
  switch (spec.kind) {
    case 'wrong': {
      // pid-q16's commands are off by 1.5 V, 2 V, …; a narrower channel by a third of its span (a
      // wrap of the span itself would be no offset at all). Two replicas' offsets differ by more
      // than twice a mid-value tolerance, so two wrong replicas never agree with each other (except
      // on a two-valued channel, whose one wrong value they share).
      const channel = options.law.definition.outputs[0]!;
      const span = channel.max - channel.min + 1;
      const offset = 1_500 + 500 * i;
      const spacing = 2 * (channel.tolerance ?? 0) + 1;
      if (span > 4 * offset) return offset;
      // Never a whole number of spans (no change at all); a two-valued channel can only be flipped.
      return (Math.floor(span / 3) + i * spacing) % span || 1;
    }
    case 'state':
      return 50 * (i + 1);
    case 'stuck':
      return 1 + i;
    case 'late': {
      // Held back well past this tick's deadline, into the next tick: late, not lost.
      const periodUs = 1e6 / options.rateHz;
      return Math.round(periodUs * 1.5);
    }
    case 'babble':
      return deriveSeed(options.seed, STREAM.babble + i) | 0;
    case 'bitflip':
      return deriveSeed(options.seed, STREAM.bitflip + i) | 0;
    case 'crash':
    case 'hang':
      return 0;
  }
}
