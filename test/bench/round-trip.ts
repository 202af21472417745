/**
 * Tick round trips over child-process pipes, two rigs measured the same way:
 *  - startEchoFloorRig (an EchoRig): three echo children; one iteration sends a pre-encoded tick frame to all three
 *    and ends when all three frames are back. Transport and scheduling only: the floor.
 *  - TmrRig: three real Node replicas behind ReplicaLinks; one iteration is the full host path
 *    (prepareTick, encode, beginTick ×3, wait until settled, endTick ×3, completeTick).
 * runBlocks alternates the rigs in blocks (A B A B …) so machine-load drift hits both alike.
 */
import { performance } from 'node:perf_hooks';
import { shippedLaw } from '../../src/law/law-loader.js';
import { encodeMessage } from '../../src/protocol/codec.js';
import { LoopModel } from '../../src/loop/loop-model.js';
import { DEFAULT_LOOP_OPTIONS } from '../../src/sim/plants.js';
import { nodeReplicaCommand, prepareReplicas } from '../../src/runtime/realtime-runner.js';
import { ReplicaLink } from '../../src/runtime/replica-link.js';
import { ChildProcessTransport } from '../../src/transport/child-process-transport.js';
import type { Transport } from '../../src/transport/transport.js';
import { addSchedDelta, createSchedStat, readSchedStat, readSchedStatSum, type SchedStat } from './sched-stat.js';
import { sleepUntil } from '../../src/runtime/pacing.js';

export const RIG_REPLICA_COUNT = 3;
/** The law the TMR rigs run, on the host and in every replica: pid-q16, as the bench has always measured. */
export const RIG_LAW = shippedLaw('pid-q16');
const HANDSHAKE_TIMEOUT_MS = 5_000;
/** An iteration that has not finished after this long means a child is stuck: fail the run. */
const STALL_LIMIT_MS = 5_000;
const STALL_CHECK_MS = 500;

/** One outstanding wait for replies, resolved by frame handlers, failed by a dead child or the stall check. */
export class ReplyWait {
  private resolveWait: (() => void) | null = null;
  private rejectWait: ((error: Error) => void) | null = null;
  brokenBy: Error | null = null;

  get pending(): boolean {
    return this.resolveWait !== null;
  }

  start(): Promise<void> {
    if (this.brokenBy !== null) return Promise.reject(this.brokenBy);
    return new Promise((resolve, reject) => {
      this.resolveWait = resolve;
      this.rejectWait = reject;
    });
  }

  settle(): void {
    const resolve = this.resolveWait;
    this.resolveWait = null;
    this.rejectWait = null;
    resolve?.();
  }

  fail(error: Error): void {
    this.brokenBy ??= error;
    const reject = this.rejectWait;
    this.resolveWait = null;
    this.rejectWait = null;
    reject?.(error);
  }
}

export interface Rig {
  readonly name: string;
  /** One iteration; resolves with its duration, µs. */
  iterate(): Promise<number>;
  /** Send → all replies in, µs, of the last iteration (for the floor: the whole iteration). */
  readonly lastRoundTripUs: number;
  /** Ends the current and every later iteration with this error. */
  fail(error: Error): void;
  /** The rig's child processes. */
  readonly childPids: readonly number[];
}

function pidsOf(transports: readonly ChildProcessTransport[]): number[] {
  return transports.flatMap((t) => (t.pid === undefined ? [] : [t.pid]));
}

/** Starts `count` processes, each added to `owned` as soon as it runs (the caller closes them). */
async function startChildren(
  count: number,
  command: string,
  args: readonly string[],
  name: string,
  owned: ChildProcessTransport[],
): Promise<ChildProcessTransport[]> {
  const started: ChildProcessTransport[] = [];
  for (let i = 0; i < count; i++) {
    const transport = await ChildProcessTransport.start({ command, args, name: `${name} ${i}` });
    owned.push(transport);
    started.push(transport);
  }
  return started;
}

/**
 * Three echoes over any transport (child-process pipes, serial ports on ptys): one iteration sends
 * one pre-encoded frame to all and waits for every echo. The floor a TMR tick is measured against.
 */
export class EchoRig implements Rig {
  lastRoundTripUs = 0;
  private readonly wait = new ReplyWait();
  private readonly arrived: Uint8Array;
  private arrivedCount = 0;

  constructor(
    readonly name: string,
    private readonly transports: readonly Transport[],
    private readonly frame: Uint8Array,
    /** Every process the bytes pass through. */
    readonly childPids: readonly number[],
    /** The error for an echo whose link went down. */
    downMessage: (index: number, reason: string) => string,
  ) {
    this.arrived = new Uint8Array(transports.length);
    transports.forEach((transport, i) => {
      transport.onFrame(() => this.onEcho(i));
      transport.onDown((reason) => this.fail(new Error(downMessage(i, reason))));
    });
  }

  /** One round trip proves the echoes answer before anything is timed. */
  async proven(): Promise<this> {
    await withStallLimit(this, this.iterate());
    return this;
  }

  private onEcho(i: number): void {
    if (!this.wait.pending || this.arrived[i] === 1) return;
    this.arrived[i] = 1;
    if (++this.arrivedCount === this.transports.length) this.wait.settle();
  }

  async iterate(): Promise<number> {
    const startMs = performance.now();
    this.arrived.fill(0);
    this.arrivedCount = 0;
    const replies = this.wait.start();
    for (const transport of this.transports) transport.send(this.frame);
    await replies;
    this.lastRoundTripUs = (performance.now() - startMs) * 1000;
    return this.lastRoundTripUs;
  }

  fail(error: Error): void {
    this.wait.fail(error);
  }
}

/** Three echo children on pipes. */
export async function startEchoFloorRig(command: string, args: readonly string[], frame: Uint8Array, owned: ChildProcessTransport[]): Promise<EchoRig> {
  const transports = await startChildren(RIG_REPLICA_COUNT, command, args, 'echo child', owned);
  const down = (i: number, reason: string): string => `echo child ${i}: ${reason}; stderr: ${transports[i]!.stderr.trim() || '(empty)'}`;
  return new EchoRig('echo floor', transports, frame, pidsOf(transports), down).proven();
}

export interface TmrRigTally {
  ticks: number;
  votedTicks: number;
  /** Core events seen (quorum changes, mode changes, exclusions): any means the run was not clean. */
  events: number;
  heartbeats: number;
  lateReplies: number;
  protocolErrors: number;
}

/**
 * The full TMR host path over any transports (pipes to Node replicas here, serial ports to
 * simulated boards in board-round-trip.ts): one rig, so both benches time the same code.
 */
export class TmrRig implements Rig {
  lastRoundTripUs = 0;
  readonly model: LoopModel;
  private readonly links: readonly ReplicaLink[];
  private readonly wait = new ReplyWait();
  private tick = 0;
  private votedTicks = 0;
  private events = 0;

  /**
   * @param childPids every process on the replicas' data path (for scheduler statistics)
   * @param rateHz the rate the law's gains are derived for; totalTicks sizes the setpoint profile
   * @param replicaWord how the replicas are named in failures ("replica", "board")
   */
  protected constructor(
    readonly name: string,
    transports: readonly Transport[],
    readonly childPids: readonly number[],
    rateHz: number,
    totalTicks: number,
    private readonly replicaWord: string,
  ) {
    this.model = new LoopModel({ ...DEFAULT_LOOP_OPTIONS, law: RIG_LAW, rateHz, ticks: totalTicks });
    this.links = transports.map((t, i) => new ReplicaLink(i, t, this.model.obs, this.model.law));
  }

  static async start(totalTicks: number, owned: ChildProcessTransport[]): Promise<TmrRig> {
    const replica = nodeReplicaCommand();
    // As tmr run starts them (nodeProvider): the law is named on the command line.
    const transports = await startChildren(RIG_REPLICA_COUNT, replica.command, [...replica.args, `--law=${RIG_LAW.source}`], 'replica', owned);
    const rig = new TmrRig('TMR', transports, pidsOf(transports), 1000, totalTicks, 'replica');
    await rig.handshake();
    return rig;
  }

  /** Exactly what runRealtime does before tick 0 (prepareReplicas); any refusal voids the bench. */
  protected async handshake(): Promise<void> {
    await prepareReplicas(this.model, this.links, HANDSHAKE_TIMEOUT_MS);
    this.model.core.status.forEach((status, i) => {
      if (status !== 'inService') throw new Error(`${this.replicaWord} ${i} was refused before the bench: ${this.model.replicaDetail[i] ?? 'no reason'}`);
    });
  }


  /** Bound once; installed on every link before each tick (the link's warm-up replaces it). */
  private readonly onLinkSettled = (): void => this.checkSettled();

  private checkSettled(): void {
    if (!this.wait.pending) return;
    for (const link of this.links) if (!link.settled) return;
    this.wait.settle();
  }

  async iterate(): Promise<number> {
    const startMs = performance.now();
    const model = this.model;
    const tick = this.tick;
    model.prepareTick(tick);
    const frame = encodeMessage({ kind: 'tick', tick, inputs: model.inputs });
    const replies = this.wait.start();
    const sentAtMs = performance.now();
    for (const link of this.links) {
      link.onSettled = this.onLinkSettled;
      link.beginTick(tick, frame);
    }
    this.checkSettled();
    await replies;
    const settledAtMs = performance.now();
    for (const link of this.links) link.endTick();
    const result = model.completeTick(tick);
    this.tick++;
    if (result.commandSource === 'voted') this.votedTicks++;
    if (result.events.length > 0) {
      this.events += result.events.length;
      for (const event of result.events) {
        if (event.kind !== 'replicaExcluded') continue;
        const link = this.links[event.replicaIndex]!;
        const detail = link.linkDownReason ?? link.lastReplicaError ?? 'no detail';
        this.fail(new Error(`${this.replicaWord} ${event.replicaIndex} excluded at tick ${tick} (${event.reason}: ${detail}): the measurement is void`));
      }
    }
    const endMs = performance.now();
    this.lastRoundTripUs = (settledAtMs - sentAtMs) * 1000;
    return (endMs - startMs) * 1000;
  }

  fail(error: Error): void {
    this.wait.fail(error);
  }

  /** Throws if any iteration failed since the last check (an exclusion is noticed after its tick). */
  assertHealthy(): void {
    if (this.wait.brokenBy !== null) throw this.wait.brokenBy;
  }

  tally(): TmrRigTally {
    let heartbeats = 0;
    for (const link of this.links) heartbeats += link.counters.heartbeats;
    return {
      ticks: this.tick,
      votedTicks: this.votedTicks,
      events: this.events,
      heartbeats,
      lateReplies: this.model.lateReplies,
      protocolErrors: this.model.protocolErrors,
    };
  }
}

/** Fails the rig's wait if `work` has not finished within STALL_LIMIT_MS. */
export async function withStallLimit<T>(rig: Rig, work: Promise<T>): Promise<T> {
  const timer = setTimeout(() => rig.fail(new Error(`${rig.name}: no reply within ${STALL_LIMIT_MS} ms`)), STALL_LIMIT_MS);
  try {
    return await work;
  } finally {
    clearTimeout(timer);
  }
}

export interface BlockPlan {
  readonly blocks: number;
  readonly iterationsPerBlock: number;
  /**
   * null: back to back. Else iterations start on a grid of this period (sleepUntil, as tmr run paces); an
   * iteration that ends past its slot skips the slots it missed rather than starting the next
   * one at once, so every paced iteration follows an idle gap, as in a real 1 kHz loop.
   */
  readonly periodMs: number | null;
}

export interface RigSamples {
  /** Whole iteration, µs. */
  readonly iterationUs: Float64Array;
  /** Send → all replies in, µs. */
  readonly roundTripUs: Float64Array;
  /** Paced only: grid slots skipped because an iteration (or a late timer) ran past them. */
  slotsSkipped: number;
  elapsedMs: number;
  /** Main threads' scheduler accounting over the recorded blocks; null where /proc is missing. */
  hostSched: SchedStat | null;
  childSched: SchedStat | null;
}


/** Iterations finished, across all blocks; the stall check watches it. */
interface Progress {
  iterations: number;
}

async function runBlock(rig: Rig, plan: BlockPlan, samples: RigSamples | null, offset: number, progress: Progress, signal: AbortSignal): Promise<void> {
  const hostBefore = readSchedStat(process.pid);
  const childBefore = readSchedStatSum(rig.childPids);
  const blockStartMs = performance.now();
  const periodMs = plan.periodMs;
  let slotMs = blockStartMs + (periodMs ?? 0);
  // Bounded: iterationsPerBlock.
  for (let k = 0; k < plan.iterationsPerBlock; k++) {
    if (signal.aborted) throw new Error('interrupted');
    if (periodMs !== null) await sleepUntil(slotMs);
    const iterationUs = await rig.iterate();
    progress.iterations++;
    if (samples !== null) {
      samples.iterationUs[offset + k] = iterationUs;
      samples.roundTripUs[offset + k] = rig.lastRoundTripUs;
    }
    if (periodMs !== null) {
      slotMs += periodMs;
      const lateMs = performance.now() - slotMs;
      if (lateMs > 0) {
        const skipped = Math.ceil(lateMs / periodMs);
        slotMs += skipped * periodMs;
        if (samples !== null) samples.slotsSkipped += skipped;
      }
    }
  }
  if (samples === null) return;
  samples.elapsedMs += performance.now() - blockStartMs;
  const hostAfter = readSchedStat(process.pid);
  const childAfter = readSchedStatSum(rig.childPids);
  if (samples.hostSched !== null && hostBefore !== null && hostAfter !== null) addSchedDelta(samples.hostSched, hostBefore, hostAfter);
  else samples.hostSched = null;
  if (samples.childSched !== null && childBefore !== null && childAfter !== null) addSchedDelta(samples.childSched, childBefore, childAfter);
  else samples.childSched = null;
}

/**
 * Runs `plan.blocks` blocks of each rig, alternating A B A B …; with `record` false the
 * iterations are warm-up only. A stall check fails the current rig if no iteration finishes
 * within STALL_LIMIT_MS.
 */
export async function runBlocks(rigs: readonly Rig[], plan: BlockPlan, record: boolean, signal: AbortSignal): Promise<RigSamples[]> {
  const total = plan.blocks * plan.iterationsPerBlock;
  const all: RigSamples[] = rigs.map(() => ({
    iterationUs: new Float64Array(total),
    roundTripUs: new Float64Array(total),
    slotsSkipped: 0,
    elapsedMs: 0,
    hostSched: createSchedStat(),
    childSched: createSchedStat(),
  }));
  let current: Rig | null = null;
  const progress: Progress = { iterations: 0 };
  let seenIterations = -1;
  let seenAtMs = performance.now();
  const stallCheck = setInterval(() => {
    const nowMs = performance.now();
    if (progress.iterations !== seenIterations) {
      seenIterations = progress.iterations;
      seenAtMs = nowMs;
    } else if (current !== null && nowMs - seenAtMs > STALL_LIMIT_MS) {
      current.fail(new Error(`${current.name}: no reply within ${STALL_LIMIT_MS} ms`));
    }
    if (current !== null && signal.aborted) current.fail(new Error('interrupted'));
  }, STALL_CHECK_MS);
  try {
    for (let b = 0; b < plan.blocks; b++) {
      for (let r = 0; r < rigs.length; r++) {
        current = rigs[r] as Rig;
        await runBlock(current, plan, record ? (all[r] as RigSamples) : null, b * plan.iterationsPerBlock, progress, signal);
      }
    }
  } finally {
    clearInterval(stallCheck);
  }
  return all;
}
