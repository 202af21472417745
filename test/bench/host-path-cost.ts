/**
 * Where the TMR round trip spends time beyond the echo floor, measured in-process, per call:
 * what the host adds per tick (prepare, encode, three replies received, completeTick) and what
 * each replica process adds per tick (split, decode, control law, encode). The echo floor pays
 * for none of these; both pay for pipes, process wake-ups and the host's own frame splitting.
 * The law is pid-q16, as the bench has always measured.
 */
import { performance } from 'node:perf_hooks';
import { shippedLaw } from '../../src/law/law-loader.js';
import { FrameSplitter } from '../../src/protocol/bounded-delimiter-parser.js';
import { decodeMessage, encodeMessage } from '../../src/protocol/codec.js';
import { LIMITS } from '../../src/protocol/messages.js';
import { ReplicaLogic } from '../../src/replica/replica-logic.js';
import { helloFor } from '../../src/law/law-runtime.js';
import { LoopModel } from '../../src/loop/loop-model.js';
import { DEFAULT_LOOP_OPTIONS } from '../../src/sim/plants.js';
import { ReplicaLink } from '../../src/runtime/replica-link.js';
import { Actuator } from '../../src/sim/actuator.js';
import { Plant } from '../../src/sim/plant.js';
import { createTransportStats, type FrameHandler, type Transport } from '../../src/transport/transport.js';

export interface CostItem {
  /** Who pays: the host process, or each replica process. */
  readonly side: 'host' | 'replica';
  readonly name: string;
  readonly nsPerCall: number;
  readonly callsPerTick: number;
  /** Part of another item (shown for explanation, not added to the totals). */
  readonly partOf: string | null;
}

export interface HostPathCost {
  readonly items: readonly CostItem[];
  /** Sum over the host's items (not counting parts), ns per tick. */
  readonly hostNsPerTick: number;
  /** Sum over one replica's items, ns per tick. */
  readonly replicaNsPerTick: number;
}

const CALLS = 200_000;
const WARM_UP_CALLS = 20_000;
const REPEATS = 3;

/** Best-of-REPEATS ns per call of fn(i), after a warm-up. */
function nsPerCall(fn: (i: number) => void): number {
  let i = 0;
  for (; i < WARM_UP_CALLS; i++) fn(i);
  let bestNs = Number.POSITIVE_INFINITY;
  for (let r = 0; r < REPEATS; r++) {
    const startMs = performance.now();
    const end = i + CALLS;
    for (; i < end; i++) fn(i);
    bestNs = Math.min(bestNs, ((performance.now() - startMs) * 1e6) / CALLS);
  }
  return bestNs;
}

/** A Transport that sends nowhere; the test drives its frame handler directly. */
class LoopbackTransport implements Transport {
  readonly description = 'bench loopback';
  readonly stats = createTransportStats();
  readonly isUp = true;
  handler: FrameHandler = () => {};
  onFrame(handler: FrameHandler): void {
    this.handler = handler;
  }
  onDown(): void {}
  send(): boolean {
    return true;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const PID = shippedLaw('pid-q16');

function benchModel(): LoopModel {
  return new LoopModel({ ...DEFAULT_LOOP_OPTIONS, law: PID, rateHz: 1000, ticks: 10_000_000 });
}

/** Frames without their 0x00 delimiter, as the splitter hands them on. */
function body(frame: Uint8Array): Uint8Array {
  return frame.subarray(0, frame.length - 1);
}

const FRAME_RING = 1024;
/** The host encodes a tick from the loop model's preallocated inputs, as the runner does. */
const encodeInputs = new Int32Array(2);

function hostItems(): CostItem[] {
  const items: CostItem[] = [];
  const prepareModel = benchModel();
  items.push({ side: 'host', name: 'prepareTick (profile, sensor, reset)', nsPerCall: nsPerCall((i) => prepareModel.prepareTick(i)), callsPerTick: 1, partOf: null });

  items.push({
    side: 'host',
    name: 'encode tick frame',
    nsPerCall: nsPerCall((i) => {
      encodeInputs[0] = 90_000 + (i & 1023);
      encodeInputs[1] = 45_000 - (i & 511);
      encodeMessage({ kind: 'tick', tick: i, inputs: encodeInputs });
    }),
    callsPerTick: 1,
    partOf: null,
  });

  // Receiving one reply: the link's frame handler (decode + checks + store into observations).
  const linkModel = benchModel();
  const transport = new LoopbackTransport();
  const link = new ReplicaLink(0, transport, linkModel.obs, linkModel.law);
  const tickFrame = encodeMessage({ kind: 'tick', tick: 1, inputs: [0, 0] });
  const outputFrames = Array.from({ length: FRAME_RING }, (_, t) =>
    body(encodeMessage({ kind: 'output', tick: t, outputs: [1_200 + t, (t % 9) - 4], stateDigest: Math.imul(t, 0x9e37_79b1) >>> 0 })),
  );
  const receive = (i: number): void => {
    const t = i % FRAME_RING;
    linkModel.obs.onTime[0] = 0;
    link.beginTick(t, tickFrame);
    transport.handler(outputFrames[t] as Uint8Array);
    link.endTick();
  };
  items.push({ side: 'host', name: 'receive one reply (ReplicaLink: decode, check, store)', nsPerCall: nsPerCall(receive), callsPerTick: 3, partOf: null });
  const decodeOnly = (i: number): void => {
    const decoded = decodeMessage(outputFrames[i % FRAME_RING] as Uint8Array);
    if (!decoded.ok) throw new Error(`bench output frame refused: ${decoded.detail}`);
  };
  items.push({ side: 'host', name: 'decodeMessage(output)', nsPerCall: nsPerCall(decodeOnly), callsPerTick: 3, partOf: 'receive one reply' });

  items.push(...completeTickItems());
  return items;
}

/** completeTick with three agreeing replies held in the observations (step never writes them). */
function completeTickItems(): CostItem[] {
  const model = benchModel();
  const obs = model.obs;
  const setReplies = (commandMv: number): void => {
    for (let r = 0; r < obs.replicaCount; r++) {
      obs.onTime[r] = 1;
      obs.outputs[r * obs.channelCount] = commandMv;
      obs.outputs[r * obs.channelCount + 1] = 3;
      obs.digests[r] = 0xabcd;
    }
  };
  // The command flips sign every 1,000 ticks so the plant stays in a sensible range.
  const complete = (i: number): void => {
    if (i % 1000 === 0) setReplies((i / 1000) % 2 === 0 ? 600 : -600);
    model.completeTick(i);
  };
  const completeNs = nsPerCall(complete);
  if (model.core.counters.votedCommands !== model.ticksDone) throw new Error('completeTick bench: a tick was not voted');

  const actuator = new Actuator();
  const plant = new Plant(1000);
  const drive = (i: number): void => {
    actuator.tick((i & 1024) === 0 ? 600 : -600);
    plant.step(actuator.appliedMv, actuator.brakeEngaged, 0);
  };
  return [
    { side: 'host', name: 'completeTick (vote, detector, audit, actuator, plant, trace hash)', nsPerCall: completeNs, callsPerTick: 1, partOf: null },
    { side: 'host', name: 'actuator.tick + plant.step', nsPerCall: nsPerCall(drive), callsPerTick: 1, partOf: 'completeTick' },
  ];
}

function replicaItem(): CostItem {
  const logic = new ReplicaLogic(PID);
  const model = benchModel();
  const hello = logic.onHello(helloFor(PID, 0, model.lawParams));
  if (hello.kind !== 'helloAck') throw new Error(`replica logic refused the bench parameters: ${hello.detail}`);
  const tickFrames = Array.from({ length: FRAME_RING }, (_, t) => body(encodeMessage({ kind: 'tick', tick: t, inputs: [90_000 + t, 45_000 - (t % 50)] })));
  // What replica-main does per tick frame once it is split out of the stream.
  const onTick = (i: number): void => {
    const decoded = decodeMessage(tickFrames[i % FRAME_RING] as Uint8Array);
    if (!decoded.ok || decoded.message.kind !== 'tick') throw new Error('bench tick frame refused');
    const outcome = logic.onTick(i, decoded.message.inputs);
    if (!outcome.ok) throw new Error(`replica logic refused tick: ${outcome.error.detail}`);
    encodeMessage({ kind: 'output', tick: i, outputs: Array.from(logic.outputs), stateDigest: outcome.stateDigest });
  };
  return { side: 'replica', name: 'decode tick, control law, encode output', nsPerCall: nsPerCall(onTick), callsPerTick: 1, partOf: null };
}

/**
 * The replica's stream splitter (a Transform stream: one chunk in, one frame pushed out). The
 * host runs the same one on every reply, as it does on the floor's echoes, so only the replica's
 * copy is extra.
 */
async function splitterItem(): Promise<CostItem> {
  const frame = encodeMessage({ kind: 'tick', tick: 1000, inputs: [90_000, 45_000] });
  const chunk = Buffer.from(frame);
  // The pipes' path: the FrameSplitter fed each chunk as it arrives (no Transform stream).
  const run = async (count: number): Promise<number> => {
    const splitter = new FrameSplitter(LIMITS.frameBytesMax);
    let frames = 0;
    const onFrame = (): void => {
      frames++;
    };
    const startMs = performance.now();
    for (let i = 0; i < count; i += 100) {
      for (let k = 0; k < 100; k++) splitter.push(chunk, onFrame);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const elapsedMs = performance.now() - startMs;
    if (frames !== count) throw new Error(`splitter bench: ${frames} of ${count} frames came out`);
    return (elapsedMs * 1e6) / count;
  };
  await run(WARM_UP_CALLS);
  let bestNs = Number.POSITIVE_INFINITY;
  for (let r = 0; r < REPEATS; r++) bestNs = Math.min(bestNs, await run(CALLS / 2));
  return { side: 'replica', name: 'split frame from stdin (FrameSplitter)', nsPerCall: bestNs, callsPerTick: 1, partOf: null };
}

export async function measureHostPathCost(): Promise<HostPathCost> {
  const items = [...hostItems(), replicaItem(), await splitterItem()];
  const total = (side: CostItem['side']): number =>
    items.filter((item) => item.side === side && item.partOf === null).reduce((sum, item) => sum + item.nsPerCall * item.callsPerTick, 0);
  return { items, hostNsPerTick: total('host'), replicaNsPerTick: total('replica') };
}
