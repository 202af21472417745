/**
 * The TMR core: one pure, deterministic step per tick.
 *
 *   step(state, observations, tick) -> { commands, mode, events }
 *
 * Observations say, per replica, what arrived before the tick's deadline; the step votes every
 * output channel of the law and the state digest, feeds the failure detector, walks the
 * degradation ladder and decides the command on every channel (all voted, all held, or all safe:
 * the channels of one tick always come from one decision). It never reads a clock, a socket or a random source; time is
 * the integer tick. The returned result is owned by `state` and overwritten by the next step
 * (no per-tick allocation except for events, which only happen on changes).
 */
import { assert, fail } from './assert.js';
import { modeFor, type Mode, type SafeReason, type SimplexPolicy } from './degradation.js';
import {
  checkDetectorConfig,
  createReplicaHealth,
  detectorUpdate,
  exclusionReasonFor,
  resetReplicaHealth,
  TICK_FLAG,
  TIMING_FLAGS,
  type ExclusionReason,
  type ReplicaHealth,
} from './failure-detector.js';
import {
  createVoteResult,
  popcount,
  REPLICA_COUNT_MAX,
  requiredAgreeingFor,
  voteExact,
  voteMidValue,
  type ChannelSpec,
  type VoteResult,
} from './voter.js';

/** An output channel as the core sees it: how it is voted, its range and its safe value (the law's declaration). */
export interface CoreChannel extends ChannelSpec {
  /** Inclusive range: a reply outside it is out of range (paired with the actuator's own check). */
  readonly min: number;
  readonly max: number;
  /** What the actuator gets on this channel when no majority backs a command. */
  readonly safe: number;
}

export interface CoreConfig {
  /** Odd, 3..15. */
  readonly replicaCount: number;
  readonly channels: readonly CoreChannel[];
  readonly deadlineMissLimit: number;
  readonly errorDensityLimit: number;
  /** Ticks the last voted command may be held while no quorum forms, before latching safe. */
  readonly quorumLossTicksMax: number;
  readonly simplexPolicy: SimplexPolicy;
  /** Consecutive agreeing ticks a returning replica serves on probation before it counts again. */
  readonly probationTicks: number;
  /**
   * Longest common-mode episode ridden through, ticks: past it the episode is lost and the failure
   * detector judges the silent replicas as usual (exclusion, the safe state, the kill switch). 0
   * turns episodes off (every miss counts against its replica: logs written before episodes).
   */
  readonly commonModeTicksMax: number;
}

/** Bound on commonModeTicksMax (at 1 kHz, 100 s). */
export const COMMON_MODE_TICKS_MAX = 100_000;

/**
 * What started a common-mode episode, as far as the voter can tell at its first tick: the host
 * itself late (a deadline handled late: the voter's own overrun), or a majority of replicas silent
 * or late in the same tick with the host on time (a machine-wide stall, a shared bus or hub). A
 * host made late later in the episode (by the burst of queued replies when the replicas run
 * again, measured after a 1.9 s stop) does not rename it.
 */
export type CommonModeCause = 'HOST_OVERRUN' | 'REPLICAS_SILENT';
/** RIDDEN: a majority answered on time and agreed again within the limit. LOST: it did not. */
export type CommonModeOutcome = 'RIDDEN' | 'LOST';

/** Bound on probationTicks (at 1 kHz, 100 s). */
export const PROBATION_TICKS_MAX = 100_000;

export type CommandSource = 'voted' | 'held' | 'simplex' | 'safe';

export type CoreEvent =
  | { readonly kind: 'replicaExcluded'; readonly replicaIndex: number; readonly reason: ExclusionReason; readonly tick: number }
  | { readonly kind: 'modeChanged'; readonly from: Mode; readonly to: Mode; readonly reason: string; readonly tick: number }
  | { readonly kind: 'quorumLost'; readonly tick: number }
  | { readonly kind: 'quorumRegained'; readonly tick: number }
  /** A restarted, re-synchronised replica is compared from this tick but not counted. */
  | { readonly kind: 'probationStarted'; readonly replicaIndex: number; readonly tick: number }
  /** It agreed for probationTicks consecutive ticks: counted in the vote from the next tick. */
  | { readonly kind: 'replicaReadmitted'; readonly replicaIndex: number; readonly tick: number }
  /** Cold restart (the recovery policy allows it): back in service from the law's initial state, with nobody to copy a state from. */
  | { readonly kind: 'coldStarted'; readonly replicaIndex: number; readonly tick: number }
  /** A majority in service silent or late at once (or the host late): nobody is blamed for timing. */
  | { readonly kind: 'commonModeStarted'; readonly tick: number; readonly cause: CommonModeCause; readonly silentMask: number }
  | {
      readonly kind: 'commonModeEnded';
      readonly tick: number;
      readonly startTick: number;
      /** Ticks from its first common-mode tick to the tick it ended (exclusive). */
      readonly lengthTicks: number;
      readonly cause: CommonModeCause;
      readonly outcome: CommonModeOutcome;
      /** Every replica silent or late at some tick of it. */
      readonly silentMask: number;
    };

/** Per-replica inputs for one tick. Struct of arrays, preallocated, reset each tick by the shell. */
export interface Observations {
  readonly replicaCount: number;
  readonly channelCount: number;
  /** 1 if a valid output for this tick arrived before the deadline. */
  readonly onTime: Uint8Array;
  /** outputs[replica * channelCount + channel] for on-time replies. */
  readonly outputs: Int32Array;
  /** State digest of on-time replies (uint32). */
  readonly digests: Float64Array;
  /** Replies for earlier ticks that arrived during this tick. */
  readonly lateReplies: Uint16Array;
  /** Corrupt frames or invalid messages received during this tick. */
  readonly protocolErrors: Uint16Array;
  /** 1 if the link is known dead (process exited, port vanished). */
  readonly linkDown: Uint8Array;
  /**
   * 1 if the shell re-synchronised this excluded replica from the majority's state before this
   * tick: it starts probation now. Set by the shell, logged as the probationStarted event.
   */
  readonly probationStart: Uint8Array;
  /**
   * 1 if the shell cold-restarted this excluded replica before this tick (the recovery policy's
   * cold restart: nobody was in service, a majority of the set was restarted at the law's initial
   * state): in service from this tick. Logged as the coldStarted event.
   */
  readonly coldStart: Uint8Array;
  /**
   * Set by the shell when it was late itself this tick (it sent the tick, or handled its deadline,
   * well after its time: event-loop lag, a stalled host). Timing flags this tick are then not held
   * against any replica, and the tick belongs to a common-mode episode caused by the host.
   */
  hostLate: boolean;
}

export function createObservations(replicaCount: number, channelCount: number): Observations {
  return {
    replicaCount,
    channelCount,
    onTime: new Uint8Array(replicaCount),
    outputs: new Int32Array(replicaCount * channelCount),
    digests: new Float64Array(replicaCount),
    lateReplies: new Uint16Array(replicaCount),
    protocolErrors: new Uint16Array(replicaCount),
    linkDown: new Uint8Array(replicaCount),
    probationStart: new Uint8Array(replicaCount),
    coldStart: new Uint8Array(replicaCount),
    hostLate: false,
  };
}

export function resetObservations(obs: Observations): void {
  // A plain loop: TypedArray.fill's call costs more than the few replicas it clears (every tick).
  for (let i = 0; i < obs.replicaCount; i++) {
    obs.onTime[i] = 0;
    obs.lateReplies[i] = 0;
    obs.protocolErrors[i] = 0;
    obs.linkDown[i] = 0;
    obs.probationStart[i] = 0;
    obs.coldStart[i] = 0;
  }
  obs.hostLate = false;
}

/**
 * inService: counted in the vote. excluded: out (the shell may restart it). probation: back after
 * a restart and a state transfer; its replies are compared with the vote but never counted.
 */
export type ReplicaStatus = 'inService' | 'excluded' | 'probation';

export interface StepResult {
  tick: number;
  /** The command on every output channel, in the law's order (voted, held, simplex or safe values). */
  readonly commands: Int32Array;
  commandSource: CommandSource;
  /** Mode in force for this tick's command. */
  mode: Mode;
  /** Replicas in service when this tick was voted. */
  inServiceMask: number;
  /** Replicas on probation this tick (compared, not counted). */
  probationMask: number;
  /** In-service replicas whose on-time, in-range outputs took part in the vote. */
  participantMask: number;
  /** Per channel: the voted value and whether it had a quorum. */
  readonly votedOutputs: Int32Array;
  readonly votedOutputsOk: Uint8Array;
  votedDigest: number;
  digestOk: boolean;
  /** Per replica: TICK_FLAG bits observed this tick. */
  readonly flags: Uint8Array;
  /** Replicas whose timing flags this tick were not held against them (a common-mode episode, its settling, a late host). */
  excusedMask: number;
  /** Whether this tick belongs to a common-mode episode (from its first tick until a majority answers on time and agrees). */
  commonMode: boolean;
  readonly events: CoreEvent[];
}

export interface CoreCounters {
  votedCommands: number;
  heldCommands: number;
  simplexCommands: number;
  safeCommands: number;
  noQuorumTicks: number;
  commonModeEpisodes: number;
  commonModeRidden: number;
  commonModeLost: number;
  /** Ticks spent in common-mode episodes. */
  commonModeTicks: number;
  /** Longest episode so far, ticks. */
  commonModeLongestTicks: number;
}

/** The common-mode episode in progress, its settling, and whether the last one was lost. */
export interface CommonModeState {
  active: boolean;
  startTick: number;
  cause: CommonModeCause;
  silentMask: number;
  /** After an episode ends, the replicas it silenced catch up (replies queued during it arrive late) until this tick. */
  settleUntilTick: number;
  settleMask: number;
  /** The last episode was lost: no new one starts until a majority answers on time and agrees again. */
  lostLatched: boolean;
  /** Consecutive ticks the host said it was late (excused up to commonModeTicksMax of them). */
  hostLateRun: number;
}

export interface CoreState {
  readonly config: CoreConfig;
  /** Last tick stepped; -1 before the first. */
  tick: number;
  mode: Mode;
  safeLatched: boolean;
  /** Commanding safe because no quorum formed for longer than quorumLossTicksMax; not latched. */
  quorumLost: boolean;
  safeReason: SafeReason | null;
  readonly status: ReplicaStatus[];
  readonly exclusionReason: (ExclusionReason | null)[];
  readonly excludedTick: Int32Array;
  /** Per replica on probation: consecutive ticks it has agreed with the vote. */
  readonly probationAgreedTicks: Int32Array;
  readonly health: ReplicaHealth[];
  readonly lastCommands: Int32Array;
  quorumLossTicks: number;
  readonly counters: CoreCounters;
  readonly commonMode: CommonModeState;
  readonly result: StepResult;
  readonly scratchValues: Float64Array;
  readonly scratchSort: Float64Array;
  readonly vote: VoteResult;
}

export function checkCoreConfig(config: CoreConfig): void {
  const n = config.replicaCount;
  if (!(Number.isInteger(n) && n >= 3 && n <= REPLICA_COUNT_MAX && n % 2 === 1)) fail(`replicaCount ${n} must be odd, 3..${REPLICA_COUNT_MAX}`);
  assert(requiredAgreeingFor(n) * 2 > n, 'quorum must be a strict majority');
  assert(config.channels.length >= 1 && config.channels.length <= 8, 'channel count out of range');
  for (const c of config.channels) {
    assert(Number.isInteger(c.min) && Number.isInteger(c.max) && c.min <= c.max, `channel ${c.name}: range is not min <= max`);
    assert(Number.isInteger(c.safe) && c.safe >= c.min && c.safe <= c.max, `channel ${c.name}: safe value outside its range`);
  }
  assert(config.quorumLossTicksMax >= 0 && config.quorumLossTicksMax <= 100, 'quorumLossTicksMax out of range');
  assert(Number.isInteger(config.probationTicks) && config.probationTicks >= 1 && config.probationTicks <= PROBATION_TICKS_MAX, 'probationTicks out of range');
  assert(Number.isInteger(config.commonModeTicksMax) && config.commonModeTicksMax >= 0 && config.commonModeTicksMax <= COMMON_MODE_TICKS_MAX, 'commonModeTicksMax out of range');
  checkDetectorConfig(config);
}

export function createCoreState(config: CoreConfig, initialStatus?: readonly ReplicaStatus[]): CoreState {
  checkCoreConfig(config);
  const n = config.replicaCount;
  const status = initialStatus ? [...initialStatus] : new Array<ReplicaStatus>(n).fill('inService');
  assert(status.length === n, 'initial status length differs from replicaCount');
  const inService = status.filter((s) => s === 'inService').length;
  return {
    config,
    tick: -1,
    mode: modeFor(inService, config.simplexPolicy, false),
    safeLatched: false,
    quorumLost: false,
    safeReason: null,
    status,
    exclusionReason: new Array<ExclusionReason | null>(n).fill(null),
    excludedTick: new Int32Array(n).fill(-1),
    probationAgreedTicks: new Int32Array(n),
    health: Array.from({ length: n }, createReplicaHealth),
    lastCommands: safeCommands(config),
    quorumLossTicks: 0,
    counters: {
      votedCommands: 0, heldCommands: 0, simplexCommands: 0, safeCommands: 0, noQuorumTicks: 0,
      commonModeEpisodes: 0, commonModeRidden: 0, commonModeLost: 0, commonModeTicks: 0, commonModeLongestTicks: 0,
    },
    commonMode: { active: false, startTick: -1, cause: 'REPLICAS_SILENT', silentMask: 0, settleUntilTick: -1, settleMask: 0, lostLatched: false, hostLateRun: 0 },
    result: {
      tick: -1,
      commands: safeCommands(config),
      commandSource: 'safe',
      mode: 'safe',
      inServiceMask: 0,
      probationMask: 0,
      participantMask: 0,
      votedOutputs: new Int32Array(config.channels.length),
      votedOutputsOk: new Uint8Array(config.channels.length),
      votedDigest: 0,
      digestOk: false,
      flags: new Uint8Array(n),
      excusedMask: 0,
      commonMode: false,
      events: [],
    },
    scratchValues: new Float64Array(n),
    scratchSort: new Float64Array(n),
    vote: createVoteResult(),
  };
}

/** Every channel's safe value, in order. */
export function safeCommands(config: Pick<CoreConfig, 'channels'>): Int32Array {
  return Int32Array.from(config.channels.map((c) => c.safe));
}

/** Whether every channel of a replica's on-time reply lies within its declared range. */
function outputsInRange(config: CoreConfig, obs: Observations, replicaIndex: number): boolean {
  const base = replicaIndex * obs.channelCount;
  for (let c = 0; c < config.channels.length; c++) {
    const channel = config.channels[c] as CoreChannel;
    const value = obs.outputs[base + c] as number;
    if (value < channel.min || value > channel.max) return false;
  }
  return true;
}

/** Takes a replica out of service (also used by the shell for a refused handshake). */
export function excludeReplica(state: CoreState, replicaIndex: number, reason: ExclusionReason, tick: number): void {
  assert(replicaIndex >= 0 && replicaIndex < state.config.replicaCount, 'replica index out of range');
  if (state.status[replicaIndex] === 'excluded') return;
  state.status[replicaIndex] = 'excluded';
  state.exclusionReason[replicaIndex] = reason;
  state.excludedTick[replicaIndex] = tick;
  state.result.events.push({ kind: 'replicaExcluded', replicaIndex, reason, tick });
}

function inServiceMaskOf(state: CoreState): number {
  let mask = 0;
  for (let i = 0; i < state.config.replicaCount; i++) if (state.status[i] === 'inService') mask |= 1 << i;
  return mask;
}

/** Gathers flags for missing, late, corrupt and out-of-range replies; returns the participant mask. */
function observe(state: CoreState, obs: Observations, inServiceMask: number): number {
  const { config, result } = state;
  let participants = 0;
  for (let i = 0; i < config.replicaCount; i++) {
    let flags = 0;
    if ((inServiceMask & (1 << i)) !== 0) {
      if (obs.onTime[i] === 1) {
        if (!outputsInRange(config, obs, i)) flags |= TICK_FLAG.RANGE;
        else participants |= 1 << i;
      } else {
        flags |= TICK_FLAG.MISSED;
      }
      if ((obs.lateReplies[i] as number) > 0) flags |= TICK_FLAG.LATE;
      if ((obs.protocolErrors[i] as number) > 0) flags |= TICK_FLAG.PROTOCOL;
    }
    result.flags[i] = flags;
  }
  return participants;
}

/** Votes every channel and the digest; flags participants that disagree with a winning value. */
function voteAll(state: CoreState, obs: Observations, participants: number, required: number): void {
  const { config, result, scratchValues, vote } = state;
  const n = config.replicaCount;
  for (let c = 0; c < config.channels.length; c++) {
    const spec = config.channels[c] as ChannelSpec;
    for (let i = 0; i < n; i++) scratchValues[i] = obs.outputs[i * obs.channelCount + c] as number;
    if (spec.kind === 'exact') voteExact(scratchValues, participants, n, required, vote);
    else voteMidValue(scratchValues, participants, n, required, spec.toleranceCounts, state.scratchSort, vote);
    result.votedOutputs[c] = vote.value;
    result.votedOutputsOk[c] = vote.ok ? 1 : 0;
    if (vote.ok) markDissenters(result.flags, participants & ~vote.agreeMask, TICK_FLAG.DISAGREE);
  }
  voteExact(obs.digests, participants, n, required, vote);
  result.votedDigest = vote.value;
  result.digestOk = vote.ok;
  if (vote.ok) markDissenters(result.flags, participants & ~vote.agreeMask, TICK_FLAG.DIGEST);
}

function markDissenters(flags: Uint8Array, mask: number, flag: number): void {
  for (let i = 0; mask !== 0; i++, mask >>>= 1) if (mask & 1) flags[i] = (flags[i] as number) | flag;
}

function latchSafe(state: CoreState, reason: SafeReason): void {
  state.safeLatched = true;
  state.safeReason = reason;
}

/**
 * Decides the actuator command for this tick from the vote and the ladder's mode.
 *
 * No quorum (nobody blamed: replicas silent or in disagreement with no majority): the last voted
 * command, which had a majority behind it, is held for up to quorumLossTicksMax ticks; then the
 * safe command, until a strict majority agrees again. That is not latched: a majority that was
 * late is still a majority. What is latched is a duplex disagreement, where nobody can tell who
 * is right.
 */
function decideCommand(state: CoreState, ladder: Mode, participants: number, inServiceMask: number, tick: number): void {
  const { result, counters } = state;
  let commandOk = true;
  for (let c = 0; c < result.votedOutputsOk.length; c++) if (result.votedOutputsOk[c] !== 1) commandOk = false;
  if (ladder === 'safe') {
    setCommand(state, 'safe');
    return;
  }
  const quorum = ladder === 'simplex' ? commandOk : commandOk && result.digestOk;
  if (quorum) {
    if (state.quorumLossTicks > 0) result.events.push({ kind: 'quorumRegained', tick });
    state.quorumLossTicks = 0;
    if (state.quorumLost) {
      state.quorumLost = false;
      state.safeReason = null;
    }
    setCommand(state, ladder === 'simplex' ? 'simplex' : 'voted');
    return;
  }
  counters.noQuorumTicks++;
  // Two replicas that both answered and differ: nobody can tell who is right.
  if (ladder === 'duplex' && participants === inServiceMask) {
    latchSafe(state, 'DUPLEX_DISAGREEMENT');
    setCommand(state, 'safe');
    return;
  }
  if (state.quorumLossTicks === 0) result.events.push({ kind: 'quorumLost', tick });
  state.quorumLossTicks++;
  if (state.quorumLost || state.quorumLossTicks > state.config.quorumLossTicksMax) {
    state.quorumLost = true;
    state.safeReason = 'QUORUM_LOST';
    setCommand(state, 'safe');
    return;
  }
  // A short gap (a replica late while another is out): repeat the last voted command, which had
  // a majority behind it when it was voted. Never a value from a minority.
  setCommand(state, 'held');
}

/** The mode in force: the ladder's, or safe while no quorum has formed for too long. */
function effectiveMode(state: CoreState): Mode {
  const ladder = modeFor(popcount(inServiceMaskOf(state)), state.config.simplexPolicy, state.safeLatched);
  return state.quorumLost && ladder !== 'safe' ? 'safe' : ladder;
}

function changeMode(state: CoreState, to: Mode, tick: number): void {
  if (to === state.mode) return;
  state.result.events.push({ kind: 'modeChanged', from: state.mode, to, reason: modeReason(state, to, tick), tick });
  state.mode = to;
}

/**
 * Sets every channel's command from one source: the vote (voted, simplex), the last command
 * (held) or the safe values (safe).
 */
function setCommand(state: CoreState, source: CommandSource): void {
  const { result, counters, config, lastCommands } = state;
  const commands = result.commands;
  for (let c = 0; c < config.channels.length; c++) {
    const channel = config.channels[c] as CoreChannel;
    const value = source === 'safe' ? channel.safe : source === 'held' ? (lastCommands[c] as number) : (result.votedOutputs[c] as number);
    if (value < channel.min || value > channel.max) fail(`command ${value} on channel ${channel.name} beyond its range`);
    commands[c] = value;
    lastCommands[c] = value;
  }
  result.commandSource = source;
  if (source === 'voted') counters.votedCommands++;
  else if (source === 'held') counters.heldCommands++;
  else if (source === 'simplex') counters.simplexCommands++;
  else counters.safeCommands++;
}

function modeReason(state: CoreState, to: Mode, tick: number): string {
  if (to === 'safe' && state.safeReason !== null) return state.safeReason;
  if (state.result.events.some((e) => e.kind === 'coldStarted' && e.tick === tick)) return 'COLD_RESTART';
  const readmitted = state.result.events.filter((e) => e.kind === 'replicaReadmitted' && e.tick === tick);
  if (readmitted.length > 0) return readmitted.map((e) => `replica ${'replicaIndex' in e ? e.replicaIndex : -1} READMITTED`).join(', ');
  const excluded: string[] = [];
  for (let i = 0; i < state.config.replicaCount; i++) {
    if (state.status[i] === 'excluded' && state.excludedTick[i] === tick) excluded.push(`replica ${i} ${state.exclusionReason[i]}`);
  }
  if (excluded.length > 0) return excluded.join(', ');
  if (state.mode === 'safe' && !state.quorumLost) return 'QUORUM_REGAINED';
  return 'REPLICA_COUNT';
}

/**
 * Whether this tick's command had a majority behind it that a returning replica may be judged
 * against or take its state from: a voted (or, by policy, simplex) command with every channel and
 * the digest voted. Never a held or safe command.
 */
export function commandingMajority(result: StepResult): boolean {
  if (!(result.commandSource === 'voted' || result.commandSource === 'simplex') || !result.digestOk) return false;
  for (let c = 0; c < result.votedOutputsOk.length; c++) if (result.votedOutputsOk[c] !== 1) return false;
  return true;
}

/**
 * Replicas the shell cold-restarted before this tick are in service from this tick, from the
 * law's initial state. A cold restart is a new start of the loop: the safe latch, the quorum loss
 * and a lost common-mode episode are cleared with it (the user's policy asked for exactly this).
 */
function startCold(state: CoreState, obs: Observations, tick: number): void {
  let started = 0;
  for (let i = 0; i < state.config.replicaCount; i++) {
    if (obs.coldStart[i] !== 1) continue;
    assert(state.status[i] === 'excluded', 'cold start asked for a replica that is not excluded');
    state.status[i] = 'inService';
    state.exclusionReason[i] = null;
    state.excludedTick[i] = -1;
    resetReplicaHealth(state.health[i] as ReplicaHealth);
    state.result.events.push({ kind: 'coldStarted', replicaIndex: i, tick });
    started++;
  }
  if (started === 0) return;
  assert(started * 2 > state.config.replicaCount, 'a cold start needs a majority of the set');
  state.safeLatched = false;
  state.quorumLost = false;
  state.quorumLossTicks = 0;
  state.safeReason = null;
  state.commonMode.lostLatched = false;
}

/** Replicas the shell re-synchronised before this tick go on probation from this tick. */
function startProbations(state: CoreState, obs: Observations, tick: number): void {
  for (let i = 0; i < state.config.replicaCount; i++) {
    if (obs.probationStart[i] !== 1) continue;
    assert(state.status[i] === 'excluded', 'probation asked for a replica that is not excluded');
    state.status[i] = 'probation';
    state.probationAgreedTicks[i] = 0;
    resetReplicaHealth(state.health[i] as ReplicaHealth);
    state.result.events.push({ kind: 'probationStarted', replicaIndex: i, tick });
  }
}

/** Whether a probation replica's reply equals the vote: exact channels bit for bit, analog ones within tolerance, and the digest. */
function agreesWithVote(state: CoreState, obs: Observations, replicaIndex: number): number {
  const { config, result } = state;
  let flags = 0;
  for (let c = 0; c < config.channels.length; c++) {
    const spec = config.channels[c] as ChannelSpec;
    const value = obs.outputs[replicaIndex * obs.channelCount + c] as number;
    const voted = result.votedOutputs[c] as number;
    if (spec.kind === 'exact' ? value !== voted : Math.abs(value - voted) > spec.toleranceCounts) flags |= TICK_FLAG.DISAGREE;
  }
  if ((obs.digests[replicaIndex] as number) !== result.votedDigest) flags |= TICK_FLAG.DIGEST;
  return flags;
}

/**
 * A half-open breaker for each replica on probation. Its reply is compared with what the
 * majority voted and is never counted. A wrong output, a wrong digest or an out-of-range command
 * sends it straight back out; corrupt frames reset the run of agreeing ticks. A missing or late
 * reply, like a tick without a commanding majority, proves nothing and leaves the count as it is:
 * the digest of its next reply still checks its whole state (a state evolves from the same inputs
 * whether or not its reply came in time), and timing has its own judge, the failure detector,
 * which excludes a replica on probation on the same limits as one in service. (Resetting the count
 * on every late reply, measured under fire at 200 Hz on a 2-core VM, pushed one re-admission in
 * four past 250 ms + probation for a reply the machine delayed.) After probationTicks agreeing
 * ticks with no disagreement between it is back in service from the next tick. Returns the
 * probation mask this tick was judged with.
 */
function judgeProbation(state: CoreState, obs: Observations, tick: number, excusedMask: number): number {
  const { config, result } = state;
  const majority = commandingMajority(result);
  let mask = 0;
  for (let i = 0; i < config.replicaCount; i++) {
    if (state.status[i] !== 'probation') continue;
    mask |= 1 << i;
    let flags = 0;
    if (obs.onTime[i] === 1) {
      if (!outputsInRange(config, obs, i)) flags |= TICK_FLAG.RANGE;
      else if (majority) flags |= agreesWithVote(state, obs, i);
    } else {
      flags |= TICK_FLAG.MISSED;
    }
    if ((obs.lateReplies[i] as number) > 0) flags |= TICK_FLAG.LATE;
    if ((obs.protocolErrors[i] as number) > 0) flags |= TICK_FLAG.PROTOCOL;
    result.flags[i] = flags;
    const health = state.health[i] as ReplicaHealth;
    const detected = detectorUpdate(health, config, tick, flags, (excusedMask >> i) & 1 ? TIMING_FLAGS : 0);
    if ((flags & (TICK_FLAG.DISAGREE | TICK_FLAG.DIGEST | TICK_FLAG.RANGE)) !== 0) excludeReplica(state, i, exclusionReasonFor(flags), tick);
    else if (detected !== null) excludeReplica(state, i, detected, tick);
    else if ((flags & TICK_FLAG.PROTOCOL) !== 0) state.probationAgreedTicks[i] = 0;
    else if (flags !== 0) continue;
    else if (majority && ++(state.probationAgreedTicks[i] as number) >= config.probationTicks) readmit(state, i, tick);
  }
  return mask;
}

function readmit(state: CoreState, replicaIndex: number, tick: number): void {
  state.status[replicaIndex] = 'inService';
  state.probationAgreedTicks[replicaIndex] = 0;
  state.exclusionReason[replicaIndex] = null;
  state.excludedTick[replicaIndex] = -1;
  resetReplicaHealth(state.health[replicaIndex] as ReplicaHealth);
  state.result.events.push({ kind: 'replicaReadmitted', replicaIndex, tick });
}

/**
 * Common-mode episodes: telling one replica's fault from a transient that hits a majority at once.
 *
 * A replica silent or late while a majority of those in service answers on time is at fault, and
 * the failure detector judges it. A majority silent or late in the same tick is not evidence
 * against any one of them (a machine-wide stall, a USB hub reset, the voter itself descheduled):
 * that tick starts or continues an episode, and nobody's timing flags count. The command is
 * decided as always (held, then safe while no majority agrees: never a minority's value). The
 * episode ends RIDDEN at the first tick a majority answers on time and agrees (a commanding
 * majority); for as many ticks again as it lasted, plus deadlineMissLimit + errorDensityLimit, the
 * replicas it silenced may still be catching up (their queued ticks are worked through and their
 * replies arrive late) and their timing is excused too. An
 * episode longer than commonModeTicksMax ends LOST: from then on the detector judges every tick as
 * usual (exclusions, the safe state, the kill switch), and no new episode starts until a majority
 * answers on time again, so a real multiple failure never hides behind one. A tick on which the
 * host says it was late (obs.hostLate) excuses everyone's timing, for up to commonModeTicksMax
 * such ticks in a row. Value flags (a wrong output or digest, a corrupt frame) are never excused.
 * Returns the replicas whose timing is excused this tick.
 */
function trackCommonMode(state: CoreState, obs: Observations, inServiceMask: number, inServiceCount: number, tick: number): number {
  const { config, result, commonMode: cm, counters } = state;
  result.commonMode = false;
  if (config.commonModeTicksMax === 0) return 0;
  const everyone = (1 << config.replicaCount) - 1;
  // Silent or late, and nothing else: a replica that sent garbage or an out-of-range reply was
  // talking, and its missing reply is its own fault, not a stall's.
  let silentMask = 0;
  for (let i = 0; i < config.replicaCount; i++) {
    const flags = result.flags[i] as number;
    if ((inServiceMask & (1 << i)) !== 0 && (flags & TIMING_FLAGS) !== 0 && (flags & (TICK_FLAG.PROTOCOL | TICK_FLAG.RANGE)) === 0) silentMask |= 1 << i;
  }
  const majoritySilent = inServiceCount > 0 && popcount(silentMask) * 2 > inServiceCount;
  const answeredOnTime = !majoritySilent && commandingMajority(result);
  if (answeredOnTime) cm.lostLatched = false;
  cm.hostLateRun = obs.hostLate ? cm.hostLateRun + 1 : 0;
  let excused = obs.hostLate && cm.hostLateRun <= config.commonModeTicksMax ? everyone : 0;

  if (cm.active && answeredOnTime) {
    // A replica stopped for the whole episode has as many queued ticks to work through.
    const lengthTicks = tick - cm.startTick;
    endCommonMode(state, tick, 'RIDDEN');
    cm.settleUntilTick = tick + Math.min(lengthTicks, config.commonModeTicksMax) + config.deadlineMissLimit + config.errorDensityLimit;
    cm.settleMask = cm.silentMask;
  } else if ((majoritySilent && !cm.lostLatched) || cm.active) {
    if (!cm.active) {
      cm.active = true;
      cm.startTick = tick;
      cm.silentMask = 0;
      cm.cause = obs.hostLate ? 'HOST_OVERRUN' : 'REPLICAS_SILENT';
      counters.commonModeEpisodes++;
      result.events.push({ kind: 'commonModeStarted', tick, cause: cm.cause, silentMask });
    }
    cm.silentMask |= silentMask;
    counters.commonModeTicks++;
    if (tick - cm.startTick + 1 > config.commonModeTicksMax) {
      endCommonMode(state, tick, 'LOST');
      cm.lostLatched = true;
      return 0;
    }
    result.commonMode = true;
    if (majoritySilent) excused = everyone;
    if (state.quorumLost) state.safeReason = 'COMMON_MODE_STALL';
  }
  if (!cm.active && tick <= cm.settleUntilTick) excused |= cm.settleMask;
  return excused;
}

function endCommonMode(state: CoreState, tick: number, outcome: CommonModeOutcome): void {
  const { commonMode: cm, counters } = state;
  const lengthTicks = tick - cm.startTick;
  cm.active = false;
  if (outcome === 'RIDDEN') counters.commonModeRidden++;
  else counters.commonModeLost++;
  if (lengthTicks > counters.commonModeLongestTicks) counters.commonModeLongestTicks = lengthTicks;
  state.result.events.push({ kind: 'commonModeEnded', tick, startTick: cm.startTick, lengthTicks, cause: cm.cause, outcome, silentMask: cm.silentMask });
}

export function step(state: CoreState, obs: Observations, tick: number): StepResult {
  const { config, result } = state;
  if (!(tick === state.tick + 1 || state.tick === -1)) fail(`tick ${tick} does not follow ${state.tick}`);
  assert(Number.isInteger(tick) && tick >= 0 && tick <= 0xffff_ffff, 'tick out of range');
  assert(obs.replicaCount === config.replicaCount && obs.channelCount === config.channels.length, 'observations shaped for another config');
  state.tick = tick;
  result.tick = tick;
  // Setting an array's length costs a call even when it is already empty (nearly every tick).
  if (result.events.length !== 0) result.events.length = 0;

  for (let i = 0; i < config.replicaCount; i++) {
    if (state.status[i] !== 'excluded' && obs.linkDown[i] === 1) excludeReplica(state, i, 'LINK_DOWN', tick);
  }
  startCold(state, obs, tick);
  startProbations(state, obs, tick);
  const inServiceMask = inServiceMaskOf(state);
  const inServiceCount = popcount(inServiceMask);
  const ladder = modeFor(inServiceCount, config.simplexPolicy, state.safeLatched);
  const participants = observe(state, obs, inServiceMask);
  const required = inServiceCount > 0 ? requiredAgreeingFor(inServiceCount) : 1;
  if (participants !== 0) voteAll(state, obs, participants, required);
  else {
    result.votedOutputsOk.fill(0);
    result.digestOk = false;
  }
  result.inServiceMask = inServiceMask;
  result.participantMask = participants;
  decideCommand(state, ladder, participants, inServiceMask, tick);
  const excusedMask = trackCommonMode(state, obs, inServiceMask, inServiceCount, tick);
  result.excusedMask = excusedMask;
  changeMode(state, effectiveMode(state), tick);
  result.mode = state.mode;
  result.probationMask = judgeProbation(state, obs, tick, excusedMask);

  // Health and exclusions take effect from the next tick; this tick was voted with them.
  for (let i = 0; i < config.replicaCount; i++) {
    if ((inServiceMask & (1 << i)) === 0) continue;
    const excused = (excusedMask >> i) & 1 ? TIMING_FLAGS : 0;
    const reason = detectorUpdate(state.health[i] as ReplicaHealth, config, tick, result.flags[i] as number, excused);
    if (reason !== null) excludeReplica(state, i, reason, tick);
  }
  changeMode(state, effectiveMode(state), tick);
  assert(result.commandSource !== 'voted' || popcount(participants) >= required, 'voted a command without a quorum of participants');
  return result;
}
