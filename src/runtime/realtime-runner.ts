/**
 * `tmr run`: the TMR loop in real time against real replica processes. The host is the time
 * master: each tick it sends every replica in service the same tick frame, waits until all have
 * answered or the tick's deadline passes, votes, commands the actuator and steps the plant once.
 * Wall time enters here and only here; the core sees integer ticks.
 */
import { raisePriority } from './priority.js';
import { excludeReplica, type StepResult } from '../core/tmr-core.js';
import { encodeMessage } from '../protocol/codec.js';
import { FAULT_KIND, type HelloMessage } from '../protocol/messages.js';
import { helloFor as lawHello } from '../law/law-runtime.js';
import { safeCommands } from '../core/tmr-core.js';
import { faultParam, LoopModel, type FaultRecord, type LoopBench, type LoopOptions, type RunSummary } from '../loop/loop-model.js';
import { ReplicaLink, type HandshakeOutcome, type LinkCounters } from './replica-link.js';
import { modeFor, type SimplexPolicy } from '../core/degradation.js';
import type { TransportStats } from '../transport/transport.js';
import { BUILT_IN_PROVIDERS, type ReplicaProvider, type ReplicaSpec, type SerialReplicaSpec, type StartedReplica, type TcpReplicaSpec } from './replica-kinds.js';
import { endpointText } from '../transport/tcp-transport.js';
import { notStartedReplica, ReplicaSlot } from './replica-slot.js';
import { assert } from '../core/assert.js';
import type { KillSwitch } from '../loop/kill-switch.js';
import { RealtimeRecovery } from './realtime-recovery.js';
import { REAL_CLOCK } from './clock.js';
import type { Clock, Timer } from '../core/clock.js';

export interface RealtimeOptions extends LoopOptions {
  /** Time after the tick is sent by which replies must be in, µs. Below the tick period. */
  readonly deadlineUs: number;
  /**
   * Quorum grace, µs after the deadline (default: two tick periods; 0: none). When the deadline
   * passes without enough replies for a vote (LoopModel.quorumAnswered), the host
   * waits up to this much longer for them instead of holding the last command. Replies taken in
   * the grace are voted and still count as late for their replicas.
   */
  readonly quorumGraceUs?: number;
  readonly handshakeTimeoutMs: number;
  /** What each replica is; all Node processes when absent. */
  readonly replicas?: readonly ReplicaSpec[];
  /** Providers for kinds beyond the built-in node and serial (firmware-sim adds sim-board). */
  readonly providers?: readonly ReplicaProvider[];
  /** What to do when not every replica starts (see StartPolicy); 'full' when absent. */
  readonly startPolicy?: StartPolicy;
}

/**
 * Whether a run starts without its full set of replicas. 'full': every replica must start and
 * answer its handshake, else the run does not start (StartRefusedError, naming each one that
 * failed and why). 'degraded': the run starts with those that answered, the others out from tick
 * 0, if they are enough for the degradation ladder to command anything but the safe state (two,
 * or one under the simplex policy 'simplex'); with fewer it does not start either.
 */
export type StartPolicy = 'full' | 'degraded';
export const START_POLICIES: readonly StartPolicy[] = ['full', 'degraded'];
export const START_POLICY_DEFAULT: StartPolicy = 'full';

/** A replica that did not start, and why: it could not be started at all, or its handshake failed. */
export interface ReplicaStartFailure {
  readonly replicaIndex: number;
  /** What the replica is (its port, its process, its kind). */
  readonly name: string;
  readonly reason: 'START_FAILED' | Extract<HandshakeOutcome, { ok: false }>['reason'];
  readonly detail: string;
}

/** The run did not start: its start policy was not met. Nothing was commanded but the safe state. */
export class StartRefusedError extends Error {
  override readonly name = 'StartRefusedError';
  constructor(
    readonly policy: StartPolicy,
    readonly replicaCount: number,
    readonly inService: number,
    readonly failures: readonly ReplicaStartFailure[],
    simplexPolicy: SimplexPolicy,
  ) {
    super(startRefusedMessage(policy, replicaCount, inService, failures, simplexPolicy));
  }
}

function startRefusedMessage(policy: StartPolicy, replicaCount: number, inService: number, failures: readonly ReplicaStartFailure[], simplexPolicy: SimplexPolicy): string {
  const head =
    policy === 'full'
      ? `cannot start: ${replicaCount - inService} of ${replicaCount} replicas did not start; the start policy is 'full' (every replica must; the 'degraded' policy starts with fewer):`
      : `cannot start: ${inService} of ${replicaCount} replicas answered, too few for the loop to command anything but the safe state (the start policy 'degraded' needs at least ${startMinimum(simplexPolicy)} with the simplex policy '${simplexPolicy}'):`;
  return [head, ...failures.map((f) => `  replica ${f.replicaIndex} (${f.name}): ${f.reason}: ${f.detail}`)].join('\n');
}

/** The fewest replicas in service with which the ladder commands anything but safe. */
function startMinimum(simplexPolicy: SimplexPolicy): number {
  let count = 1;
  // Bounded: two in service are duplex whatever the policy (asserted).
  while (modeFor(count, simplexPolicy, false) === 'safe') {
    count++;
    assert(count <= 2, 'two replicas in service command in duplex');
  }
  return count;
}

/** Whether `inService` replicas of `replicaCount` meet the start policy. */
export function startPolicyMet(policy: StartPolicy, replicaCount: number, inService: number, simplexPolicy: SimplexPolicy): boolean {
  if (policy === 'full') return inService === replicaCount;
  return modeFor(inService, simplexPolicy, false) !== 'safe';
}

export interface RealtimeHooks {
  readonly onTick?: (model: LoopModel, result: StepResult) => void;
  /** Called once replicas are up, with their PIDs (tests use it to signal them from outside). */
  readonly onStarted?: (pids: readonly (number | undefined)[]) => void;
  /**
   * Called after handshakes and warm-up, just before tick 0, with the replicas in service. Restarts
   * replace processes: pidOf and nameOf say who replica i is at the time they are called (its
   * process; what it is, as replicaName says).
   */
  readonly onReady?: (
    inService: number,
    pids: readonly (number | undefined)[],
    model: LoopModel,
    pidOf: (replicaIndex: number) => number | undefined,
    nameOf: (replicaIndex: number) => string,
  ) => void;
  readonly signal?: AbortSignal;
  /** Stops the run when a trigger trips (the actuator is sent to its safe state). */
  readonly killSwitch?: KillSwitch;
  /**
   * The clock the run reads and waits on (the machine's by default). With a simulated clock the
   * same runner runs in simulated time (src/sim/full-stack.ts), and asks for no OS priority.
   */
  readonly clock?: Clock;
  /**
   * TEST HOOK ONLY (the full-stack campaign's broken deadline rule): the host waits for replies as
   * if every deadline were a thousand times later. Never set outside tests.
   */
  readonly testHookBrokenDeadline?: boolean;
  /**
   * A real actuator path the commands also go to (a drive board through johnny-five): called
   * with every tick's commands (every output channel), and with the safe values once when the
   * run ends for any reason.
   */
  readonly actuatorOut?: (commands: Int32Array) => void;
  /** A replica refused an injected fault (a build without test hooks): the fault's record, now 'refused'. */
  readonly onInjectionRefused?: (fault: FaultRecord) => void;
}

export interface RealtimeSummary extends RunSummary {
  timing: {
    /** Time from sending a tick to the last on-time reply, µs. */
    replyP50Us: number;
    replyP99Us: number;
    replyMaxUs: number;
    /**
     * A tick's whole round trip on the host: from reading the world's inputs to the voted command
     * handed to the world (sensing, the replicas' round trip, the vote, actuating), µs. With real
     * I/O (`--io`) this is where the board's cost shows beside the in-process plant's.
     */
    tickRoundTripP50Us: number;
    tickRoundTripP99Us: number;
    tickOverruns: number;
    /**
     * Ticks on which the host was late itself: it handled the tick's deadline (or the quorum
     * grace's) more than hostLateMarginMs after its time, descheduled or its event loop blocked.
     * Replicas' timing on those ticks is not held against them (the core's obs.hostLate).
     */
    hostLateTicks: number;
    hostLateMarginMs: number;
    /** Latest a deadline was handled after its time, ms. */
    deadlineLateMaxMs: number;
    /**
     * How late the host sent ticks after their start time (its own lag: the event loop busy or the
     * process descheduled when the tick was due), ms. A tick sent late does not shorten any
     * replica's time to answer (the deadline runs from the send).
     */
    tickSendLateP99Ms: number;
    tickSendLateMaxMs: number;
    /** Ticks whose deadline passed without a quorum, so the host waited on (the quorum grace). */
    quorumGraceTicks: number;
    /** Of those, ticks a quorum answered within the grace (voted, not held). */
    quorumGraceVoted: number;
    wallMs: number;
    /** Whether the host and replicas run at CONTROL_NICE (needs privilege). */
    priorityRaised: boolean;
  };
  interrupted: boolean;
  /** Process id of each replica, by index (null if it never started). */
  replicaPids: (number | null)[];
  /** What each replica is at the end, by index: its port, `pid N`, a simulated board or emulator. */
  replicaNames: string[];
  /** Per replica: what its link carried and refused (bytes and frames both ways, drops). */
  links: (TransportStats & LinkCounters & { description: string })[];
}

export { nodeReplicaCommand } from './replica-command.js';

const REPLY_SAMPLES_MAX = 100_000;

/**
 * Default quorum grace, in tick periods. Measured on a 2-core VM at 200 Hz with a replica killed
 * every 2 s: one period (5 ms) still held a command in about one 60 s run in two; two held none.
 */
const QUORUM_GRACE_PERIODS_DEFAULT = 2;

/** The default quorum grace at a tick rate, µs (the CLI's default too). */
export function defaultQuorumGraceUs(rateHz: number): number {
  return QUORUM_GRACE_PERIODS_DEFAULT * Math.floor(1e6 / rateHz);
}

/**
 * How late the host may handle a deadline before the tick counts as the host's own lateness, ms,
 * at a tick period. On time, a deadline is handled within DEADLINE_DRAIN_TURNS event-loop turns
 * plus a timer slice of it (tens to a few hundred µs); 2 ms, or a quarter period at slow rates, is
 * a host that was descheduled or blocked, not jitter.
 */
export function hostLateMarginMs(periodMs: number): number {
  return Math.max(2, periodMs / 4);
}

/** Ticks per replica before tick 0 (see ReplicaLink.warmUp). */
const WARM_UP_TICKS = 10_000;

export async function runRealtime(options: RealtimeOptions, hooks: RealtimeHooks = {}, bench: LoopBench = {}): Promise<RealtimeSummary> {
  const clock = hooks.clock ?? REAL_CLOCK;
  const onMachineClock = clock === REAL_CLOCK;
  const periodMs = 1000 / options.rateHz;
  const deadlineMs = (options.deadlineUs / 1000) * (hooks.testHookBrokenDeadline === true ? 1000 : 1);
  const quorumGraceMs = (options.quorumGraceUs ?? defaultQuorumGraceUs(options.rateHz)) / 1000;
  assert(quorumGraceMs >= 0 && Number.isFinite(quorumGraceMs), 'quorum grace must be a non-negative time');
  const model = new LoopModel(options, bench);
  const slots: ReplicaSlot[] = [];
  let recovery: RealtimeRecovery | null = null;
  const wallStartMs = clock.nowMs();
  const replySamplesUs = new Float64Array(Math.min(options.ticks, REPLY_SAMPLES_MAX));
  let replySampleCount = 0;
  let tickOverruns = 0;
  let quorumGraceTicks = 0;
  let quorumGraceVoted = 0;
  let hostLateTicks = 0;
  let deadlineLateMaxMs = 0;
  const hostLateMs = hostLateMarginMs(periodMs);
  const sendLateUs = new Float64Array(Math.min(options.ticks, REPLY_SAMPLES_MAX));
  const roundTripUs = new Float64Array(Math.min(options.ticks, REPLY_SAMPLES_MAX));
  let roundTripCount = 0;
  let sendLateCount = 0;
  let interrupted = false;
  let priorityRaised = false;
  const specs = options.replicas ?? Array.from({ length: options.replicaCount }, (): ReplicaSpec => ({ kind: 'node' }));
  assert(specs.length === options.replicaCount, 'one replica spec per replica');
  try {
    const notStarted = await startReplicas(model, specs, [...BUILT_IN_PROVIDERS, ...(options.providers ?? [])], slots, clock, hooks.signal);
    // An interrupt during start-up leaves refusals null: the tick loop's first check ends the run.
    let refusals: HandshakeRefusals | null = null;
    if (!hooks.signal?.aborted) {
      if (onMachineClock) {
        priorityRaised = raisePriority(0);
        for (const pid of slots.flatMap((s) => s.replica.dataPathPids)) priorityRaised = raisePriority(pid) && priorityRaised;
      }
      hooks.onStarted?.(slots.map((s) => s.replica.pid));
      for (const slot of slots) {
        slot.replica.onLinkUp(() => {
          model.replicaDetail[slot.index] = `${model.replicaDetail[slot.index] ?? 'link down'}; link back up before tick ${model.ticksDone}`;
        });
      }
      refusals = await untilAborted(
        prepareReplicas(model, slots.map((s) => s.link), options.handshakeTimeoutMs, slots.map((s) => s.replica.warmUpTicks ?? WARM_UP_TICKS), hooks.signal),
        hooks.signal,
      );
    }
    if (refusals !== null) {
      enforceStartPolicy(options, model, slots, notStarted, refusals);
      hooks.onReady?.(
        model.core.status.filter((status) => status === 'inService').length,
        slots.map((s) => s.replica.pid),
        model,
        (i) => slots[i]?.replica.pid,
        (i) => slots[i]?.name ?? specName(specs[i]!),
      );
      if (model.recovery !== null) {
        recovery = new RealtimeRecovery(model, model.recovery, slots, {
          handshakeTimeoutMs: options.handshakeTimeoutMs,
          hello: (i) => helloFor(model, i),
          raisePriority: (pid) => priorityRaised && raisePriority(pid),
          clock,
        });
        await recovery.prepareSpares();
      }
    }
    let tickStartMs = clock.nowMs();
    const linkDown = (i: number): boolean => slots[i]!.link.isDown;
    const quorum = (): boolean => model.quorumAnswered(linkDown);
    // The tick loop: bounded by options.ticks.
    for (let tick = 0; tick < options.ticks; tick++) {
      if (hooks.signal?.aborted) {
        interrupted = true;
        break;
      }
      const senseAtMs = clock.nowMs();
      model.prepareTick(tick);
      if (model.inputTrip !== null) {
        // A sensor's fault outlasted its hold: nothing more is commanded from it (the finally below makes the actuator safe).
        model.halt(model.inputTrip);
        break;
      }
      recovery?.beforeTick(tick);
      applyFaults(model, options, tick, slots, hooks.onInjectionRefused);
      const frame = encodeMessage({ kind: 'tick', tick, inputs: model.inputs });
      const sentAtMs = clock.nowMs();
      if (sendLateCount < sendLateUs.length) sendLateUs[sendLateCount++] = Math.max(0, sentAtMs - tickStartMs) * 1000;
      // In service, and on probation (compared, not counted): both get every tick.
      const active: ReplicaLink[] = [];
      for (const { index: i, link } of slots) if (model.core.status[i] !== 'excluded' || model.obs.probationStart[i] === 1 || model.obs.coldStart[i] === 1) active.push(link);
      for (const link of active) link.beginTick(tick, frame);
      // The deadline runs from when the replicas were sent the tick, not from when the tick was
      // due: a host that woke late must not shrink every replica's time to answer at once.
      const wait = await waitForLinks(clock, active, () => active.every((l) => l.settled), sentAtMs + deadlineMs);
      const lastReplyMs = wait.allInMs;
      let lateMs = wait.deadlineLateMs;
      // Not while a common-mode episode goes on: the majority is stalled, and waiting for it would
      // only stretch every tick of the stall (the loop keeps its rhythm, holding or safe).
      if (lastReplyMs === null && quorumGraceMs > 0 && !quorum() && !model.core.commonMode.active) {
        // Too few replies for a vote at the deadline: a stalled machine (every replica late at
        // once), or one late survivor in duplex. Waiting a little for them keeps the voted
        // command; holding the last one would not. Their lateness still counts against them,
        // unless a majority was late together (the core's common-mode episodes).
        quorumGraceTicks++;
        for (const link of active) link.pastDeadline();
        lateMs = Math.max(lateMs, (await waitForLinks(clock, active, quorum, sentAtMs + deadlineMs + quorumGraceMs)).deadlineLateMs);
        if (quorum()) quorumGraceVoted++;
      }
      if (lateMs > deadlineLateMaxMs) deadlineLateMaxMs = lateMs;
      if (lateMs > hostLateMs) {
        // The host handled the deadline late: it was descheduled or blocked itself, so what it
        // saw missing then says nothing about any one replica.
        model.obs.hostLate = true;
        hostLateTicks++;
      }
      for (const link of active) link.endTick();
      if (lastReplyMs !== null && replySampleCount < replySamplesUs.length) replySamplesUs[replySampleCount++] = (lastReplyMs - sentAtMs) * 1000;

      const result = model.completeTick(tick);
      if (roundTripCount < roundTripUs.length) roundTripUs[roundTripCount++] = (clock.nowMs() - senseAtMs) * 1000;
      for (const event of result.events) {
        if (event.kind === 'replicaExcluded') {
          // Isolation: an excluded replica gets no more ticks; a replica process is stopped.
          const slot = slots[event.replicaIndex]!;
          slot.replica.isolate();
          model.replicaDetail[event.replicaIndex] = slot.link.linkDownReason ?? slot.link.lastReplicaError;
        }
      }
      hooks.actuatorOut?.(result.commands);
      recovery?.afterTick(result);
      hooks.onTick?.(model, result);
      const trip = hooks.killSwitch?.afterTick(result, clock.nowMs()) ?? null;
      if (trip !== null) {
        model.halt(trip);
        break;
      }

      const nextStartMs = tickStartMs + periodMs;
      const nowMs = clock.nowMs();
      if (nowMs > nextStartMs) {
        tickOverruns++;
        tickStartMs = nowMs;
      } else {
        tickStartMs = nextStartMs;
        await clock.sleepUntil(nextStartMs);
      }
    }
  } finally {
    model.world.enterSafeState();
    hooks.actuatorOut?.(safeCommands(model.coreConfig));
    await recovery?.stop();
    await Promise.all(slots.map((s) => s.replica.stop()));
  }
  const sorted = replySamplesUs.subarray(0, replySampleCount).sort();
  const sendLate = sendLateUs.subarray(0, sendLateCount).sort();
  const roundTrips = roundTripUs.subarray(0, roundTripCount).sort();
  return {
    ...model.summary('run'),
    timing: {
      replyP50Us: percentile(sorted, 0.5),
      replyP99Us: percentile(sorted, 0.99),
      replyMaxUs: sorted.length > 0 ? Math.round(sorted[sorted.length - 1] as number) : 0,
      tickRoundTripP50Us: percentile(roundTrips, 0.5),
      tickRoundTripP99Us: percentile(roundTrips, 0.99),
      tickOverruns,
      hostLateTicks,
      hostLateMarginMs: hostLateMs,
      deadlineLateMaxMs: round3(deadlineLateMaxMs),
      tickSendLateP99Ms: round3(percentile(sendLate, 0.99) / 1000),
      tickSendLateMaxMs: round3(sendLate.length > 0 ? (sendLate[sendLate.length - 1] as number) / 1000 : 0),
      quorumGraceTicks,
      quorumGraceVoted,
      wallMs: Math.round(clock.nowMs() - wallStartMs),
      priorityRaised,
    },
    interrupted,
    replicaPids: Array.from({ length: options.replicaCount }, (_, i) => slots[i]?.replica.pid ?? null),
    replicaNames: Array.from({ length: options.replicaCount }, (_, i) => slots[i]?.name ?? specName(specs[i]!)),
    links: slots.map(({ link }) => ({ description: link.transport.description, ...link.transport.stats, ...link.counters })),
  };
}

/** Per replica, how its handshake before tick 0 failed; null for one that answered (or was out already). */
export type HandshakeRefusals = (Extract<HandshakeOutcome, { ok: false }> | null)[];

/**
 * Handshake, warm-up and a final handshake that resets the controllers: what every replica goes
 * through before tick 0. Replicas that fail are excluded with HANDSHAKE_REFUSED and the reason,
 * which is also returned, by replica. Once `signal` aborts (the run was interrupted, its links are
 * being closed), what fails is no longer held against a replica.
 */
export async function prepareReplicas(
  model: LoopModel,
  links: readonly ReplicaLink[],
  timeoutMs: number,
  warmUpTicks: readonly number[] = links.map(() => WARM_UP_TICKS),
  signal?: AbortSignal,
): Promise<HandshakeRefusals> {
  const refusals: HandshakeRefusals = links.map(() => null);
  await handshakeAll(model, links, timeoutMs, refusals, signal);
  if (signal?.aborted) return refusals;
  await Promise.all(links.map((link, i) => (model.core.status[i] === 'inService' ? link.warmUp(helloFor(model, i), warmUpTicks[i] ?? WARM_UP_TICKS, timeoutMs) : true)));
  // The warm-up moved the replicas' controller state: a last handshake resets it to zero.
  await handshakeAll(model, links, timeoutMs, refusals, signal);
  for (const link of links) link.discardPending();
  return refusals;
}

function helloFor(model: LoopModel, replicaIndex: number): HelloMessage {
  return lawHello(model.law, replicaIndex, model.lawParams);
}

async function handshakeAll(model: LoopModel, links: readonly ReplicaLink[], timeoutMs: number, refusals: HandshakeRefusals, signal: AbortSignal | undefined): Promise<void> {
  const outcomes = await Promise.all(links.map((link, i) => (model.core.status[i] === 'inService' ? link.handshake(helloFor(model, i), timeoutMs) : null)));
  if (signal?.aborted) return;
  outcomes.forEach((outcome, i) => {
    if (outcome === null || outcome.ok) return;
    excludeReplica(model.core, i, 'HANDSHAKE_REFUSED', 0);
    model.replicaDetail[i] = `${outcome.reason}: ${links[i]!.transport.description}: ${outcome.detail}`;
    refusals[i] = outcome;
    links[i]!.transport.close().catch(() => {});
  });
}

/**
 * Starts every replica in order, each in its slot. One that cannot be started (its port is not
 * there, its program would not run) gets a slot that is down from the outset and is out from
 * tick 0: it is returned, by replica, for the start policy to judge. Stops early when `signal`
 * aborts (the slots then end before the last replica).
 */
async function startReplicas(
  model: LoopModel,
  specs: readonly ReplicaSpec[],
  providers: readonly ReplicaProvider[],
  slots: ReplicaSlot[],
  clock: Clock,
  signal: AbortSignal | undefined,
): Promise<(ReplicaStartFailure | null)[]> {
  const notStarted: (ReplicaStartFailure | null)[] = specs.map(() => null);
  for (let i = 0; i < specs.length && signal?.aborted !== true; i++) {
    const spec = specs[i]!;
    const provider = providers.find((p) => p.kind === spec.kind);
    if (provider === undefined) throw new Error(`replica ${i}: no provider for replica kind '${spec.kind}'`);
    let replica: StartedReplica;
    try {
      replica = await provider.start(spec, i, model.law);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      notStarted[i] = { replicaIndex: i, name: specName(spec), reason: 'START_FAILED', detail };
      replica = notStartedReplica(specName(spec), detail);
      excludeReplica(model.core, i, 'HANDSHAKE_REFUSED', 0);
      model.replicaDetail[i] = `START_FAILED: ${detail}`;
    }
    slots.push(new ReplicaSlot(i, replica, new ReplicaLink(i, replica.transport, model.obs, model.law, clock)));
  }
  return notStarted;
}

/** What a replica that never started is, from its spec: a port's path, else its kind. */
function specName(spec: ReplicaSpec): string {
  if (spec.kind === 'serial') return (spec as SerialReplicaSpec).path;
  if (spec.kind === 'tcp') return `tcp:${endpointText((spec as TcpReplicaSpec).host, (spec as TcpReplicaSpec).port)}`;
  return spec.kind;
}

/** Throws StartRefusedError unless the replicas in service meet the run's start policy. */
function enforceStartPolicy(options: RealtimeOptions, model: LoopModel, slots: readonly ReplicaSlot[], notStarted: readonly (ReplicaStartFailure | null)[], refusals: HandshakeRefusals): void {
  const policy = options.startPolicy ?? START_POLICY_DEFAULT;
  const inService = model.core.status.filter((status) => status === 'inService').length;
  if (startPolicyMet(policy, options.replicaCount, inService, options.simplexPolicy)) return;
  const failures = slots.flatMap((slot, i): ReplicaStartFailure[] => {
    const failure = notStarted[i] ?? null;
    const refusal = refusals[i] ?? null;
    if (failure !== null) return [failure];
    return refusal === null ? [] : [{ replicaIndex: i, name: slot.name, reason: refusal.reason, detail: refusal.detail }];
  });
  throw new StartRefusedError(policy, options.replicaCount, inService, failures, options.simplexPolicy);
}

/** The promise's value, or null as soon as `signal` aborts (the promise is then left to settle on its own). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T | null> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => resolve(null);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function applyFaults(model: LoopModel, options: RealtimeOptions, tick: number, slots: readonly ReplicaSlot[], onRefused?: (fault: FaultRecord) => void): void {
  for (const slot of slots) slot.resumeIfDue(tick);
  const stall = model.stallStartingAt(tick);
  if (stall !== null) {
    // Every replica at once, as a machine stall does: a process is stopped (it keeps its link and
    // its queued ticks); a board with no process to stop is asked to hang.
    for (const slot of slots) {
      if (!slot.stopUntil(tick + stall.durationTicks) && !slot.link.isDown) {
        // A board without test hooks refuses it and runs on; its refusal is not held against it.
        slot.link.sendInject({ kind: 'inject', fault: FAULT_KIND.hang, durationTicks: stall.durationTicks, param: 0 }, () => {});
      }
    }
  }
  for (const fault of model.faultsStartingAt(tick)) {
    const slot = slots[fault.replicaIndex]!;
    // A hang is a stopped process: it keeps its link and says nothing. (A replica with no
    // process to stop, a real board, is asked to hang through an inject message instead.)
    if (fault.kind === 'hang' && slot.stopUntil(fault.durationTicks > 0 ? tick + fault.durationTicks : null)) continue;
    slot.link.sendInject({ kind: 'inject', fault: FAULT_KIND[fault.kind], durationTicks: fault.durationTicks, param: faultParam(fault, options) }, (refusal) => {
      const record = model.injectionRefused(fault, refusal);
      onRefused?.(record);
    });
  }
}

/**
 * Resolves when `ready()` holds (checked whenever a link settles), or at the deadline (see
 * armDeadline: checked against clock.nowMs(), then a few event-loop turns for replies that
 * reached the host in time). Says the time every link had settled by (null if some had not) and,
 * if the deadline ended the wait, how long after it the host got to it (0 otherwise).
 */
function waitForLinks(clock: Clock, links: readonly ReplicaLink[], ready: () => boolean, deadlineAtMs: number): Promise<{ allInMs: number | null; deadlineLateMs: number }> {
  return new Promise((resolve) => {
    let finished = false;
    let deadline: Timer | null = null;
    const finish = (expired: boolean): void => {
      if (finished) return;
      finished = true;
      deadline?.cancel();
      for (const link of links) link.onSettled = () => {};
      const nowMs = clock.nowMs();
      const allIn = links.every((l) => l.settled);
      resolve({ allInMs: allIn ? nowMs : null, deadlineLateMs: expired ? Math.max(0, nowMs - deadlineAtMs) : 0 });
    };
    const check = (): void => {
      if (ready()) finish(false);
    };
    for (const link of links) link.onSettled = check;
    check();
    if (!finished) deadline = clock.armDeadline(deadlineAtMs, () => finish(true));
  });
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number);
}
