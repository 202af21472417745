/**
 * The pure core alone (createCoreState + createObservations + step), no runtime, no plant:
 *  - heap growth over a million ticks with realistic observations, measured after forced GCs
 *    (needs `node --expose-gc`; bench.ts starts this in a child process for that reason);
 *  - the voter step's cost in ns/tick for N replicas;
 *  - the law call: a replica's step of pid-q16 through the generic law interface against the same
 *    pid-q16 functions called directly.
 */
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { crc32 } from '../../src/core/crc32.js';
import { Prng } from '../../src/core/prng.js';
import { createCoreState, createObservations, resetObservations, step, type CoreConfig, type CoreState, type Observations } from '../../src/core/tmr-core.js';
import { shippedLaw } from '../../src/law/law-loader.js';
import { drawInputs, helloFor, resetWalk, type LoadedLaw } from '../../src/law/law-runtime.js';
import pidQ16 from '../../src/laws/pid-q16/law.js';
import { ReplicaLogic } from '../../src/replica/replica-logic.js';
import { coreConfigFor } from '../../src/loop/loop-model.js';
import { DEFAULT_LOOP_OPTIONS } from '../../src/sim/plants.js';
import { runSimulation } from '../../src/sim/simulator.js';

/** The law every probe here runs: pid-q16, as the bench has always measured. */
const PID = shippedLaw('pid-q16');

/** Ticks before the "before" heap reading, so JIT compilation and inline caches are done. */
const WARM_UP_TICKS = 200_000;
export const PROBE_TICKS = 1_000_000;
/** One replica disagrees on the command once every this many ticks (a transient, never an exclusion). */
const DISAGREE_EVERY_TICKS = 997;
/** One replica misses its deadline once every this many ticks. */
const MISS_EVERY_TICKS = 1_499;

export interface HeapProbeResult {
  readonly ticks: number;
  readonly heapUsedBeforeBytes: number;
  readonly heapUsedAfterBytes: number;
  readonly growthBytes: number;
  readonly growthBytesPerTick: number;
  /**
   * Steady state: growth after GC over a second million ticks, per tick. The first million can
   * keep one-off data (optimised code, inline caches, feedback vectors) that never grows again.
   */
  readonly steadyGrowthBytesPerTick: number;
  /** Scavenges (minor GCs) while the million ticks ran: > 0 means short-lived per-tick garbage. */
  readonly minorGcs: number;
  readonly majorGcs: number;
  /**
   * Short-lived bytes allocated per tick (garbage that dies young: no growth, but scavenges).
   * Median heapUsed increase over chunks of ticks that saw no GC.
   */
  readonly transientBytesPerTick: number;
  /** Realistic loop (observation fill + step), ns/tick. */
  readonly loopNsPerTick: number;
  readonly votedTicks: number;
  readonly excludedReplicas: number;
}

export interface VoterCost {
  readonly replicaCount: number;
  readonly nsPerTick: number;
}

/** The whole simulated loop (LoopModel, three replicas, actuator, plant) over a long run. */
export interface LoopProbeResult {
  readonly ticks: number;
  readonly rateHz: number;
  /** Heap after GC at the end of the warm-up, half-way and at the last tick (the model still alive). */
  readonly heapUsedBeforeBytes: number;
  readonly heapUsedMidBytes: number;
  readonly heapUsedAfterBytes: number;
  readonly growthBytesPerTick: number;
  /** Over the second half only: the steady state. */
  readonly steadyGrowthBytesPerTick: number;
  /** GCs (all kinds) between those two points, and their pauses. */
  readonly gcs: number;
  readonly gcPauseTotalMs: number;
  readonly gcPauseMaxMs: number;
  readonly wallMs: number;
}

/** One law step: through the generic law interface, and the same law's functions called directly. */
export interface LawCallCost {
  readonly law: string;
  /** The law's step and the derived state digest through its LoadedLaw (definition.step, digest). */
  readonly genericNsPerStep: number;
  /** The same law's step, serialize and CRC-32 of the bytes, called directly: no indirection. */
  readonly directNsPerStep: number;
  /** generic / direct. */
  readonly ratio: number;
  /** What a replica runs per tick (ReplicaLogic.onTick): the generic step plus the tick and input checks. */
  readonly replicaNsPerStep: number;
  readonly steps: number;
}

export interface CoreProbeResult {
  readonly heap: HeapProbeResult;
  readonly voter: readonly VoterCost[];
  readonly lawCall: LawCallCost;
  readonly loop: LoopProbeResult;
}

/** The core configuration the runtime uses (LoopModel's) for pid-q16, for N replicas. */
export function benchCoreConfig(replicaCount: number): CoreConfig {
  return coreConfigFor({ ...DEFAULT_LOOP_OPTIONS, law: PID, replicaCount });
}

/**
 * What N healthy replicas would report at `tick`: a slowly moving command, a rate that differs by
 * at most one count between replicas (within the mid-value tolerance), one shared state digest;
 * now and then one replica disagrees or misses the deadline.
 */
function fillObservations(obs: Observations, tick: number): void {
  resetObservations(obs);
  const n = obs.replicaCount;
  const channels = obs.channelCount;
  const commandMv = ((tick * 7) % 8_001) - 4_000;
  const rate = (tick % 9) - 4;
  const digest = Math.imul(tick, 0x9e37_79b1) >>> 0;
  for (let i = 0; i < n; i++) {
    obs.onTime[i] = 1;
    obs.outputs[i * channels] = commandMv;
    obs.outputs[i * channels + 1] = rate + (i & 1);
    obs.digests[i] = digest;
  }
  if (tick % DISAGREE_EVERY_TICKS === 0) {
    const i = (tick / DISAGREE_EVERY_TICKS) % n;
    obs.outputs[i * channels] = commandMv + 1;
  } else if (tick % MISS_EVERY_TICKS === 0) {
    obs.onTime[(tick / MISS_EVERY_TICKS) % n] = 0;
  }
}

/** Runs ticks [from, to) of the realistic loop; returns the number of voted ticks. */
function runTicks(state: CoreState, obs: Observations, from: number, to: number): number {
  let voted = 0;
  for (let tick = from; tick < to; tick++) {
    fillObservations(obs, tick);
    const result = step(state, obs, tick);
    if (result.commandSource === 'voted') voted++;
  }
  return voted;
}

const ALLOCATION_CHUNK_TICKS = 1_000;
const ALLOCATION_CHUNKS = 300;

/** Median heapUsed growth per tick over chunks without a GC in them (a GC makes the delta negative). */
function transientBytesPerTick(state: CoreState, obs: Observations, from: number): { bytesPerTick: number; nextTick: number } {
  const deltas: number[] = [];
  let tick = from;
  for (let c = 0; c < ALLOCATION_CHUNKS; c++) {
    const before = process.memoryUsage().heapUsed;
    runTicks(state, obs, tick, tick + ALLOCATION_CHUNK_TICKS);
    tick += ALLOCATION_CHUNK_TICKS;
    const after = process.memoryUsage().heapUsed;
    if (after >= before) deltas.push(after - before);
  }
  deltas.sort((a, b) => a - b);
  const median = deltas.length > 0 ? (deltas[deltas.length >> 1] as number) : 0;
  return { bytesPerTick: median / ALLOCATION_CHUNK_TICKS, nextTick: tick };
}

function forceGc(gc: () => void): number {
  // Twice: the first full GC can leave objects that finalisation frees for the second.
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function waitMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function probeHeap(gc: () => void): Promise<HeapProbeResult> {
  const state = createCoreState(benchCoreConfig(3));
  const obs = createObservations(3, PID.outputCount);
  runTicks(state, obs, 0, WARM_UP_TICKS);

  let minorGcs = 0;
  let majorGcs = 0;
  let counting = false;
  const observer = new PerformanceObserver((list) => {
    if (!counting) return;
    for (const entry of list.getEntries()) {
      const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
      // perf_hooks.constants: NODE_PERFORMANCE_GC_MINOR = 1, NODE_PERFORMANCE_GC_MAJOR = 4.
      if (kind === 1) minorGcs++;
      else majorGcs++;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const before = forceGc(gc);
  await waitMs(20); // let the forced GCs' entries drain before counting
  counting = true;
  const startMs = performance.now();
  const voted = runTicks(state, obs, WARM_UP_TICKS, WARM_UP_TICKS + PROBE_TICKS);
  const loopMs = performance.now() - startMs;
  await waitMs(20); // GC entries are delivered asynchronously
  counting = false;
  observer.disconnect();
  const after = forceGc(gc);
  runTicks(state, obs, WARM_UP_TICKS + PROBE_TICKS, WARM_UP_TICKS + 2 * PROBE_TICKS);
  const afterSecond = forceGc(gc);
  const transient = transientBytesPerTick(state, obs, WARM_UP_TICKS + 2 * PROBE_TICKS);
  const excluded = state.status.filter((s) => s === 'excluded').length;
  return {
    ticks: PROBE_TICKS,
    heapUsedBeforeBytes: before,
    heapUsedAfterBytes: after,
    growthBytes: after - before,
    growthBytesPerTick: (after - before) / PROBE_TICKS,
    steadyGrowthBytesPerTick: (afterSecond - after) / PROBE_TICKS,
    minorGcs,
    majorGcs,
    transientBytesPerTick: transient.bytesPerTick,
    loopNsPerTick: (loopMs * 1e6) / PROBE_TICKS,
    votedTicks: voted,
    excludedReplicas: excluded,
  };
}

const VOTER_TICKS = 1_000_000;
const VOTER_WARM_UP_TICKS = 100_000;
const VOTER_REPEATS = 3;

/**
 * step() alone, all N replicas in service and agreeing (the common case). The observations are
 * filled once: step never writes them, so the loop times the voter, detector and ladder only.
 * Best of a few repeats, to keep other processes' bursts out.
 */
export function voterCost(replicaCount: number): VoterCost {
  const state = createCoreState(benchCoreConfig(replicaCount));
  const obs = createObservations(replicaCount, PID.outputCount);
  fillObservations(obs, 1);
  let tick = 0;
  for (; tick < VOTER_WARM_UP_TICKS; tick++) step(state, obs, tick);
  let bestNs = Number.POSITIVE_INFINITY;
  for (let r = 0; r < VOTER_REPEATS; r++) {
    const startMs = performance.now();
    const end = tick + VOTER_TICKS;
    for (; tick < end; tick++) step(state, obs, tick);
    bestNs = Math.min(bestNs, ((performance.now() - startMs) * 1e6) / VOTER_TICKS);
  }
  if (state.counters.votedCommands !== tick) throw new Error(`voter cost: ${tick - state.counters.votedCommands} ticks not voted with ${replicaCount} replicas`);
  return { replicaCount, nsPerTick: bestNs };
}

const LAW_CALL_STEPS = 500_000;
const LAW_CALL_WARM_UP_STEPS = 200_000;
/** Rounds of one block per path, in rotating order; the best block of each path counts (other processes' bursts left out). */
const LAW_CALL_ROUNDS = 9;
const LAW_CALL_INPUT_RING = 4096;

/** The generic call: any law, its state opaque, through the LoadedLaw (as src/replica calls it). */
function genericStep(law: LoadedLaw, state: unknown, inputs: Int32Array, outputs: Int32Array): number {
  law.definition.step(state, inputs, outputs);
  return law.digest(state);
}

/** pid-q16's own functions, taken once: the direct call knows its law and its state type. */
const pidStep = pidQ16.step;
const pidSerialize = pidQ16.serialize;
type PidState = ReturnType<typeof pidQ16.init>;

/** The same step and digest, called directly (the digest by hand: serialize, then CRC-32). */
function directStep(state: PidState, inputs: Int32Array, outputs: Int32Array, bytes: Uint8Array): number {
  pidStep(state, inputs, outputs);
  pidSerialize(state, bytes);
  return crc32(bytes);
}

/**
 * The law call, generic against direct: pid-q16's step and state digest through the generic law
 * interface (its LoadedLaw) against the same pid-q16 functions called directly (step, serialize
 * into a buffer, CRC-32: the digest done by hand), and the whole per-tick path of a replica
 * (ReplicaLogic.onTick: the generic call plus the tick and input checks). All three walk the same
 * inputs (the self-test's generator) from equal states in blocks of rotating order; after every
 * round their state bytes and digest sums must be equal, so no path can skip work.
 */
export function lawCallCost(): LawCallCost {
  const params = PID.paramsForRate(1000);
  const logic = new ReplicaLogic(PID);
  const ack = logic.onHello(helloFor(PID, 0, params));
  if (ack.kind !== 'helloAck') throw new Error(`law call probe: pid-q16 refused its own parameters: ${ack.detail}`);
  const genericState = PID.definition.init(params);
  const genericOutputs = new Int32Array(PID.outputCount);
  const direct = pidQ16.init(params);
  const directOutputs = new Int32Array(pidQ16.outputs.length);
  const directBytes = new Uint8Array(pidQ16.stateSizeBytes);
  const prng = new Prng(0x1a3c_a11);
  const previous = new Float64Array(PID.inputCount);
  resetWalk(PID.definition, previous);
  const ring = Array.from({ length: LAW_CALL_INPUT_RING }, () => {
    const inputs = new Int32Array(PID.inputCount);
    drawInputs(prng, PID.definition, previous, inputs);
    return inputs;
  });
  const digestSums = [0, 0, 0];
  const paths: ((from: number, to: number) => void)[] = [
    (from, to) => {
      let sum = digestSums[0] as number;
      for (let i = from; i < to; i++) sum = (sum + genericStep(PID, genericState, ring[i % LAW_CALL_INPUT_RING] as Int32Array, genericOutputs)) >>> 0;
      digestSums[0] = sum;
    },
    (from, to) => {
      let sum = digestSums[1] as number;
      for (let i = from; i < to; i++) sum = (sum + directStep(direct, ring[i % LAW_CALL_INPUT_RING] as Int32Array, directOutputs, directBytes)) >>> 0;
      digestSums[1] = sum;
    },
    (from, to) => {
      let sum = digestSums[2] as number;
      for (let i = from; i < to; i++) {
        const outcome = logic.onTick(i, ring[i % LAW_CALL_INPUT_RING] as Int32Array);
        if (!outcome.ok) throw new Error(`law call probe: step ${i} refused: ${outcome.error.detail}`);
        sum = (sum + outcome.stateDigest) >>> 0;
      }
      digestSums[2] = sum;
    },
  ];
  const sameWork = (at: number): void => {
    const states = [PID.stateBytes(genericState), directBytes, PID.stateBytes(logic.state)].map((b) => Buffer.from(b).toString('hex'));
    if (new Set(states).size !== 1 || new Set(digestSums).size !== 1) throw new Error(`law call probe: the paths diverged by step ${at}`);
  };
  for (const path of paths) path(0, LAW_CALL_WARM_UP_STEPS);
  sameWork(LAW_CALL_WARM_UP_STEPS);
  const bestNs = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
  let at = LAW_CALL_WARM_UP_STEPS;
  for (let r = 0; r < LAW_CALL_ROUNDS; r++) {
    const end = at + LAW_CALL_STEPS;
    for (let k = 0; k < paths.length; k++) {
      const p = (r + k) % paths.length;
      const startMs = performance.now();
      (paths[p] as (from: number, to: number) => void)(at, end);
      bestNs[p] = Math.min(bestNs[p] as number, ((performance.now() - startMs) * 1e6) / LAW_CALL_STEPS);
    }
    at = end;
    sameWork(at);
  }
  const [generic, directNs, replica] = bestNs as [number, number, number];
  return { law: PID.name, genericNsPerStep: generic, directNsPerStep: directNs, ratio: generic / directNs, replicaNsPerStep: replica, steps: LAW_CALL_STEPS };
}

export const LOOP_PROBE_TICKS = 2_000_000;
// Long enough that one-off growth (optimised code, inline caches) is over before the first reading (measured: it settles by about 3,000,000 ticks).
const LOOP_PROBE_WARM_UP_TICKS = 2_000_000;
const LOOP_PROBE_RATE_HZ = 1000;

/**
 * The simulated loop for LOOP_PROBE_TICKS ticks at 1 kHz after a 2,000,000-tick warm-up (67 minutes of plant time in all): heap after GC
 * once warmed up and at the end, and every GC pause in between (the forced ones excluded).
 */
export async function probeLoop(gc: () => void): Promise<LoopProbeResult> {
  // The run is synchronous, so GC entries arrive after it: they are picked by their start time.
  const entries: { startTime: number; duration: number }[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) entries.push({ startTime: entry.startTime, duration: entry.duration });
  });
  observer.observe({ entryTypes: ['gc'] });
  let before = 0;
  let mid = 0;
  let after = 0;
  let startMs = 0;
  let endMs = 0;
  let midPauseStartMs = 0;
  let midPauseEndMs = 0;
  const lastTick = LOOP_PROBE_WARM_UP_TICKS + LOOP_PROBE_TICKS - 1;
  const midTick = LOOP_PROBE_WARM_UP_TICKS + LOOP_PROBE_TICKS / 2 - 1;
  runSimulation({ ...DEFAULT_LOOP_OPTIONS, law: PID, rateHz: LOOP_PROBE_RATE_HZ, ticks: lastTick + 1, seed: 1 }, {
    onTick: (_, result) => {
      if (result.tick === LOOP_PROBE_WARM_UP_TICKS - 1) {
        before = forceGc(gc);
        startMs = performance.now();
      } else if (result.tick === midTick) {
        midPauseStartMs = performance.now();
        mid = forceGc(gc);
        midPauseEndMs = performance.now();
      } else if (result.tick === lastTick) {
        endMs = performance.now();
        after = forceGc(gc);
      }
    },
  });
  await waitMs(50);
  observer.disconnect();
  // The forced GCs half-way are ours, not the loop's: left out.
  const inRun = (t: number): boolean => t >= startMs && t < endMs && !(t >= midPauseStartMs && t < midPauseEndMs);
  const pausesMs = entries.filter((e) => inRun(e.startTime)).map((e) => e.duration);
  return {
    ticks: LOOP_PROBE_TICKS,
    rateHz: LOOP_PROBE_RATE_HZ,
    heapUsedBeforeBytes: before,
    heapUsedMidBytes: mid,
    heapUsedAfterBytes: after,
    growthBytesPerTick: (after - before) / LOOP_PROBE_TICKS,
    steadyGrowthBytesPerTick: (after - mid) / (LOOP_PROBE_TICKS / 2),
    gcs: pausesMs.length,
    gcPauseTotalMs: pausesMs.reduce((a, b) => a + b, 0),
    gcPauseMaxMs: pausesMs.length > 0 ? Math.max(...pausesMs) : 0,
    wallMs: endMs - startMs - (midPauseEndMs - midPauseStartMs),
  };
}

export async function runCoreProbe(): Promise<CoreProbeResult> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('the core probe needs node --expose-gc');
  const heap = await probeHeap(gc);
  const voter = [3, 5, 7, 9].map(voterCost);
  const lawCall = lawCallCost();
  const loop = await probeLoop(gc);
  return { heap, voter, lawCall, loop };
}
