/**
 * Conformance checks for a board that implements PROTOCOL.md, run over any Transport: the C
 * board logic built for the host (a process on pipes) and the real Uno firmware in the AVR
 * emulator (a pseudo-terminal). Each check throws an Error naming what differed and where.
 *
 *   playExchange    the section 18.2 exchange, answer by answer
 *   refuseInvalid   every invalid example frame is refused silently
 *   checkVectors    the committed law vectors through tick and state messages, step by step
 *   faultBytes      the bytes a deterministic fault produces equal the Node replica's
 */
import { crc32, crc32Update } from '../../src/core/crc32.js';
import { createLawState, drawLawInputs, lawSelfTestHash, lawStateDigest, lawStep, type LawParams } from '../../src/core/control-law.js';
import { Prng } from '../../src/core/prng.js';
import { encodeMessage } from '../../src/protocol/codec.js';
import { FAULT_KIND, type FaultKind, type Message } from '../../src/protocol/messages.js';
import { ReplicaEndpoint } from '../../src/replica/replica-endpoint.js';
import type { VectorFile } from '../helpers/law-vectors.js';
import { BoardClient, helloFor } from './board-client.js';
import { decodedExample, docJson, EXAMPLES, exchangeExamples, parseHex, required } from '../helpers/protocol-examples.js';

/** A board's own texts (implementation, error detail) may differ from the Node replica's. */
function comparable(message: Message): string {
  if (message.kind === 'helloAck') return docJson({ ...message, implementation: '*' });
  if (message.kind === 'error') return docJson({ ...message, detail: '*' });
  return docJson(message);
}

export async function playExchange(client: BoardClient, timeoutMs = 2_000): Promise<number> {
  const exchange = exchangeExamples();
  let checked = 0;
  for (let i = 0; i < exchange.length; i++) {
    const example = exchange[i]!;
    if (required(example, 'to') !== 'board') continue;
    const expected: Message[] = [];
    for (let j = i + 1; j < exchange.length && required(exchange[j]!, 'to') === 'host'; j++) expected.push(decodedExample(exchange[j]!));
    client.send(parseHex(required(example, 'frame')));
    const keepHeartbeats = expected.some((m) => m.kind === 'heartbeat');
    const got = await client.take(expected.length, timeoutMs, `answers to ${example.name}`, keepHeartbeats);
    for (let k = 0; k < expected.length; k++) {
      const message = got[k]!.message;
      const want = comparable(expected[k]!);
      const have = message === null ? `undecodable ${Buffer.from(got[k]!.raw).toString('hex')}` : comparable(message);
      if (have !== want) throw new Error(`answer ${k + 1} to ${example.name}: got ${have}, PROTOCOL.md shows ${want}`);
    }
    checked++;
  }
  return checked;
}

/** Sends every invalid example, then a hello: the helloAck must be the only answer. */
export async function refuseInvalid(client: BoardClient, params: LawParams, timeoutMs = 2_000): Promise<number> {
  const invalid = EXAMPLES.filter((e) => e.fields.has('error'));
  for (const example of invalid) client.send(parseHex(required(example, 'frame')));
  client.send(new Uint8Array([0])); // ends any partial frame, as a host does after noise
  const hello = await client.request(helloFor(params), 'hello after the invalid frames', timeoutMs);
  if (hello.kind !== 'helloAck') throw new Error(`after ${invalid.length} invalid frames the board answered ${comparable(hello)} (expected only the helloAck)`);
  return invalid.length;
}


async function configure(client: BoardClient, params: LawParams, what: string): Promise<void> {
  const ack = await client.request(helloFor(params), `${what}: hello`);
  if (ack.kind !== 'helloAck') throw new Error(`${what}: hello answered with ${comparable(ack)}`);
  if (ack.lawHash !== lawSelfTestHash()) throw new Error(`${what}: law self-test hash ${ack.lawHash.toString(16)}, expected ${lawSelfTestHash().toString(16)}`);
}

interface Step {
  tick: number;
  setpoint: number;
  position: number;
  command: number;
  rate: number;
  digest: number;
}

/** Sends the steps in windows of `window` ticks; the first difference throws, naming the step. */
async function runSteps(client: BoardClient, steps: readonly Step[], what: string, window: number, describeStep: (i: number) => string): Promise<void> {
  for (let start = 0; start < steps.length; start += window) {
    const batch = steps.slice(start, start + window);
    for (const s of batch) client.send({ kind: 'tick', tick: s.tick, setpointMilliDeg: s.setpoint, positionMilliDeg: s.position });
    const answers = await client.take(batch.length, 5_000, `${what}: outputs for steps ${start}..${start + batch.length - 1}`);
    for (let k = 0; k < batch.length; k++) {
      const s = batch[k]!;
      const m = answers[k]!.message;
      const where = `${what}, ${describeStep(start + k)} (tick ${s.tick}, setpoint ${s.setpoint}, position ${s.position})`;
      if (m === null || m.kind !== 'output') throw new Error(`${where}: answered ${m === null ? 'an undecodable frame' : comparable(m)}`);
      const [command, rate] = m.outputs;
      if (m.tick !== s.tick || command !== s.command || rate !== s.rate || m.stateDigest !== s.digest) {
        throw new Error(
          `${where}: board gave tick ${m.tick} command ${command} rate ${rate} digest ${m.stateDigest.toString(16)}, ` +
            `expected tick ${s.tick} command ${s.command} rate ${s.rate} digest ${s.digest.toString(16)}`,
        );
      }
    }
  }
}

export interface VectorCounts {
  fullSteps: number;
  edgeSteps: number;
  longSteps: number;
  checkpoints: number;
}

/**
 * The committed vectors through the protocol: every full and edge run step by step, and each set's
 * long run for its first `longStepsPerSet` steps (inputs from the generator, checked step by step
 * against the TypeScript law and at every checkpoint against the file's CRC chain).
 */
export async function checkVectors(client: BoardClient, file: VectorFile, longStepsPerSet: number, window = 8): Promise<VectorCounts> {
  const counts: VectorCounts = { fullSteps: 0, edgeSteps: 0, longSteps: 0, checkpoints: 0 };
  for (const run of file.runs) {
    const set = file.sets[run.setIndex]!;
    const what = `vectors line ${run.lineNumber} (${run.kind} ${run.label}, set ${set.name})`;
    await configure(client, set.params, what);
    if (run.kind === 'edge') {
      const bytes = Uint8Array.from(Buffer.from(run.initialStateHex, 'hex'));
      const lastTick = Buffer.from(bytes).readUInt32LE(9);
      const ack = await client.request({ kind: 'state', tick: lastTick, stateBytes: bytes, stateDigest: crc32(bytes) }, `${what}: initial state`);
      if (ack.kind !== 'heartbeat' || ack.stateDigest !== crc32(bytes)) throw new Error(`${what}: the initial state was answered with ${comparable(ack)}`);
    }
    await runSteps(client, run.records, what, window, (i) => `step ${run.records[i]!.step} at line ${run.records[i]!.lineNumber}`);
    if (run.kind === 'full') counts.fullSteps += run.records.length;
    else counts.edgeSteps += run.records.length;
  }
  for (const long of file.longRuns) {
    const set = file.sets[long.setIndex]!;
    const what = `vectors line ${long.lineNumber} (long run, set ${set.name})`;
    await configure(client, set.params, what);
    const steps = Math.min(longStepsPerSet, long.stepCount);
    const prng = new Prng(long.seed);
    const state = createLawState();
    const outputs = new Int32Array(2);
    const drawn = { setpointMilliDeg: 0, positionMilliDeg: 0 };
    let previous = 0;
    let chain = 0;
    const word = Buffer.alloc(12);
    const expected: Step[] = [];
    for (let step = 0; step < steps; step++) {
      drawLawInputs(prng, previous, drawn);
      const { setpointMilliDeg: setpoint, positionMilliDeg: position } = drawn;
      previous = position;
      const tick = (long.tickStart + step) >>> 0;
      lawStep(set.params, state, tick, setpoint, position, outputs);
      const digest = lawStateDigest(state);
      expected.push({ tick, setpoint, position, command: outputs[0]!, rate: outputs[1]!, digest });
      word.writeInt32LE(outputs[0]!, 0);
      word.writeInt32LE(outputs[1]!, 4);
      word.writeUInt32LE(digest, 8);
      chain = crc32Update(chain, word);
      const checkpoint = long.checkpoints.find((c) => c.step === step);
      if (checkpoint !== undefined) {
        // The TypeScript law is checked against the file elsewhere; this guards the expectations.
        if (checkpoint.crc !== chain || checkpoint.digest !== digest) throw new Error(`${what}: the TypeScript law misses the checkpoint at line ${checkpoint.lineNumber}`);
        counts.checkpoints++;
      }
    }
    await runSteps(client, expected, what, window, (i) => `long-run step ${i}`);
    counts.longSteps += steps;
  }
  return counts;
}

/**
 * The frames a deterministic fault makes the board send equal, byte for byte, those of the Node
 * replica's implementation of the same fault (src/replica/replica-faults.ts) for the same script:
 * a hello, `before` ticks, an inject, `after` ticks.
 */
export async function faultBytes(client: BoardClient, kind: FaultKind, param: number, params: LawParams, before = 20, after = 30, durationTicks = 10): Promise<number> {
  const what = `fault ${kind} (param ${param})`;
  const frames: Uint8Array[] = [];
  const endpoint = new ReplicaEndpoint({ write: (bytes) => frames.push(bytes.slice()), crash: () => {} }, { implementation: 'reference' });
  const feed = (message: Message): Uint8Array[] => {
    frames.length = 0;
    endpoint.push(encodeMessage(message));
    return splitFrames(frames);
  };
  feed(helloFor(params));
  await configure(client, params, what);
  const prng = new Prng(0xfa017 + FAULT_KIND[kind]);
  const drawn = { setpointMilliDeg: 0, positionMilliDeg: 0 };
  let previous = 0;
  let compared = 0;
  for (let i = 0; i < before + 1 + after; i++) {
    if (i === before) {
      const inject: Message = { kind: 'inject', fault: FAULT_KIND[kind], durationTicks, param };
      feed(inject);
      client.send(inject);
      continue;
    }
    drawLawInputs(prng, previous, drawn);
    previous = drawn.positionMilliDeg;
    const tick: Message = { kind: 'tick', tick: 1000 + i, setpointMilliDeg: drawn.setpointMilliDeg, positionMilliDeg: drawn.positionMilliDeg };
    const want = feed(tick);
    client.send(tick);
    const got = want.length === 0 ? await client.drain(30) : await client.take(want.length, 2_000, `${what}: tick ${1000 + i}`, true);
    const have = got.filter((g) => g.message?.kind !== 'heartbeat').map((g) => Buffer.from(g.raw).toString('hex'));
    const expected = want.map((w) => Buffer.from(w).toString('hex'));
    if (have.join(' | ') !== expected.join(' | ')) {
      throw new Error(`${what}, tick ${1000 + i}: board sent [${have.join(' | ')}], the Node replica sends [${expected.join(' | ')}]`);
    }
    compared += want.length;
  }
  return compared;
}

/** Splits written bytes into frames as a transport does (at 0x00, empty runs dropped). */
function splitFrames(chunks: readonly Uint8Array[]): Uint8Array[] {
  const all = Buffer.concat(chunks.map((c) => Buffer.from(c)));
  const out: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < all.length; i++) {
    if (all[i] !== 0) continue;
    if (i > start) out.push(Uint8Array.from(all.subarray(start, i)));
    start = i + 1;
  }
  return out;
}
