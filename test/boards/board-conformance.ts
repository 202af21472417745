/**
 * Conformance checks for a board that implements PROTOCOL.md (v2) for a law, run over any
 * Transport: the C board logic built for the host (a process on pipes) and the real Uno firmware
 * in the AVR emulator (a pseudo-terminal). Each check throws an Error naming what differed and where.
 *
 *   playExchange    the PROTOCOL.md example exchange for the law, answer by answer
 *   refuseInvalid   every invalid example frame is refused silently
 *   checkHello      the hello rules: version, law identity, parameters (refusals and errors)
 *   checkVectors    the law's vectors (`tmr law vectors`, from its TypeScript twin) through tick,
 *                   state request and state messages, step by step
 *   faultBytes      the bytes a deterministic fault produces equal the Node replica's
 */
import { crc32 } from '../../src/core/crc32.js';
import { Prng } from '../../src/core/prng.js';
import { drawInputs, resetWalk, type LoadedLaw } from '../../src/law/law-runtime.js';
import { encodeMessage } from '../../src/protocol/codec.js';
import { ERROR_CODE, FAULT_KIND, PROTOCOL_VERSION, type FaultKind, type Message } from '../../src/protocol/messages.js';
import { ReplicaEndpoint } from '../../src/replica/replica-endpoint.js';
import { BoardClient, helloFor } from './board-client.js';
import { decodedExample, docJson, EXAMPLES, exchangeExamples, parseHex, required } from '../helpers/protocol-examples.js';

/** A board's own texts (implementation, error detail) may differ from the Node replica's. */
function comparable(message: Message): string {
  if (message.kind === 'helloAck') return docJson({ ...message, implementation: '*' });
  if (message.kind === 'error') return docJson({ ...message, detail: '*' });
  return docJson(message);
}

function describeMessage(message: Message | null, raw?: Uint8Array): string {
  if (message === null) return `an undecodable frame ${raw === undefined ? '' : Buffer.from(raw).toString('hex')}`;
  return comparable(message);
}

/** The example exchange of PROTOCOL.md for a board running `law`: section 18.2's for pid-q16, the one marked `exchange NAME` for another. */
export function exchangeMarker(law: LoadedLaw): string {
  return law.name === 'pid-q16' ? 'exchange' : `exchange ${law.name}`;
}

export async function playExchange(client: BoardClient, law: LoadedLaw, timeoutMs = 2_000): Promise<number> {
  const exchange = exchangeExamples(exchangeMarker(law));
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
      const want = comparable(expected[k]!);
      const have = describeMessage(got[k]!.message, got[k]!.raw);
      if (have !== want) throw new Error(`answer ${k + 1} to ${example.name}: got ${have}, PROTOCOL.md shows ${want}`);
    }
    checked++;
  }
  return checked;
}

/** Sends every invalid example, then a hello: the helloAck must be the only answer. */
export async function refuseInvalid(client: BoardClient, law: LoadedLaw, params: ArrayLike<number>, timeoutMs = 2_000): Promise<number> {
  const invalid = EXAMPLES.filter((e) => e.fields.has('error'));
  // A pause after each: an ATmega328P at 1,000,000 baud spends about as many cycles on a byte of
  // small frames as the wire gives it (160), so 500 bytes back to back can overrun its 256-byte
  // ring, and a frame merged with a lost delimiter could swallow the hello. Real hosts never burst.
  for (const example of invalid) {
    client.send(parseHex(required(example, 'frame')));
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  client.send(new Uint8Array([0])); // ends any partial frame, as a host does after noise
  await client.drain(100).then((early) => {
    if (early.length > 0) throw new Error(`the board answered an invalid frame: ${early.map((e) => describeMessage(e.message, e.raw)).join(', ')}`);
  });
  const hello = await client.request(helloFor(law, params), 'hello after the invalid frames', timeoutMs);
  if (hello.kind !== 'helloAck') throw new Error(`after ${invalid.length} invalid frames the board answered ${comparable(hello)} (expected only the helloAck)`);
  return invalid.length;
}

/**
 * Sends a state and returns the answer: an error, or the heartbeat with the state's tick. An idle
 * heartbeat (the board heard nothing for 100 ms: a paused machine) carries the board's previous
 * tick and is skipped.
 */
async function sendState(client: BoardClient, message: Extract<Message, { kind: 'state' }>, what: string): Promise<Message> {
  client.send(message);
  for (;;) {
    const [answer] = await client.take(1, 2_000, what, true);
    const m = answer!.message;
    if (m === null) throw new Error(`${what}: the answer does not decode: ${Buffer.from(answer!.raw).toString('hex')}`);
    if (m.kind !== 'heartbeat' || m.lastTick === message.tick) return m;
  }
}

/** The helloAck a board running `law` sends: its own identity and self-test hash. */
function checkAck(ack: Message, law: LoadedLaw, what: string, replicaIndex = 0): void {
  if (ack.kind !== 'helloAck') throw new Error(`${what}: hello answered with ${comparable(ack)}`);
  const want = { protocolVersion: PROTOCOL_VERSION, replicaIndex, lawName: law.name, lawVersion: law.version, lawHash: law.selfTestHash };
  const have = { protocolVersion: ack.protocolVersion, replicaIndex: ack.replicaIndex, lawName: ack.lawName, lawVersion: ack.lawVersion, lawHash: ack.lawHash >>> 0 };
  if (JSON.stringify(have) !== JSON.stringify(want)) throw new Error(`${what}: helloAck ${JSON.stringify(have)}, expected ${JSON.stringify(want)}`);
}

async function configure(client: BoardClient, law: LoadedLaw, params: ArrayLike<number>, what: string): Promise<void> {
  checkAck(await client.request(helloFor(law, params), `${what}: hello`), law, what);
}

/** The hello rules of PROTOCOL.md v2, each followed by a tick that shows whether it configured. */
export async function checkHello(client: BoardClient, law: LoadedLaw, params: ArrayLike<number>): Promise<number> {
  const good = helloFor(law, params) as Extract<Message, { kind: 'hello' }>;
  const inputs = law.definition.inputs.map((c) => c.min);
  let tickNumber = 1;
  const tickAnswer = async (what: string): Promise<Message> => client.request({ kind: 'tick', tick: tickNumber++, inputs }, `${what}: tick`);
  const expectUnconfigured = async (what: string): Promise<void> => {
    const answer = await tickAnswer(what);
    if (answer.kind !== 'error' || answer.code !== ERROR_CODE.NOT_CONFIGURED) throw new Error(`${what}: a tick was answered with ${comparable(answer)}, expected NOT_CONFIGURED`);
  };
  const cases: [string, Partial<typeof good>][] = [
    ['another protocol version', { protocolVersion: PROTOCOL_VERSION + 1 }],
    ['another law name', { lawName: law.name === 'other-law' ? 'another-law' : 'other-law' }],
    ['another law version', { lawVersion: (law.version + 1) & 0xffff }],
    ['another input count', { inputCount: law.inputCount === 8 ? 7 : law.inputCount + 1 }],
    ['another output count', { outputCount: law.outputCount === 1 ? 2 : law.outputCount - 1 }],
  ];
  let checked = 0;
  for (const [what, change] of cases) {
    // Configured first: a refused hello must leave the board unconfigured, not as it was.
    await configure(client, law, params, what);
    checkAck(await client.request({ ...good, ...change }, `${what}: hello`), law, `${what} (the board answers with its own identity)`);
    await expectUnconfigured(what);
    checked++;
  }
  const badParams: [string, number[]][] = [];
  if (law.definition.params.length < 8) badParams.push(['one parameter too many', [...Array.from(params), 0]]);
  const first = law.definition.params[0];
  if (first !== undefined && first.max < 0x7fff_ffff) badParams.push(['a parameter above its range', [first.max + 1, ...Array.from(params).slice(1)]]);
  for (const [what, list] of badParams) {
    await configure(client, law, params, what);
    const answer = await client.request({ ...good, lawParams: list }, `${what}: hello`);
    if (answer.kind !== 'error' || answer.code !== ERROR_CODE.BAD_LAW_PARAMS) throw new Error(`${what}: hello answered with ${comparable(answer)}, expected BAD_LAW_PARAMS`);
    await expectUnconfigured(what);
    checked++;
  }
  await configure(client, law, params, 'a good hello');
  const badTicks: [string, number[]][] = [];
  const last = law.definition.inputs[law.inputCount - 1]!;
  if (last.max < 0x7fff_ffff) badTicks.push(['an input above its range', [...inputs.slice(0, -1), last.max + 1]]);
  if (law.inputCount < 8) badTicks.push(['one input too many', [...inputs, 0]]);
  if (law.inputCount > 1) badTicks.push(['one input too few', inputs.slice(1)]);
  for (const [what, values] of badTicks) {
    const answer = await client.request({ kind: 'tick', tick: tickNumber++, inputs: values }, `${what}: tick`);
    if (answer.kind !== 'error' || answer.code !== ERROR_CODE.INPUT_OUT_OF_RANGE) throw new Error(`${what}: tick answered with ${comparable(answer)}, expected INPUT_OUT_OF_RANGE`);
    checked++;
  }
  return checked;
}

/** One record of `tmr law vectors` (src/cli/law-cli.ts writeVectors). */
export interface VectorStep {
  readonly lineNumber: number;
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  readonly state: Uint8Array;
}
export interface VectorEpisode {
  readonly lineNumber: number;
  readonly params: readonly number[];
  readonly steps: VectorStep[];
}
export interface LawVectors {
  readonly name: string;
  readonly version: number;
  readonly selfTestHash: number;
  readonly episodes: VectorEpisode[];
}

/** Parses the vector format; throws naming the line on anything else. */
export function parseLawVectors(text: string): LawVectors {
  let head: { name: string; version: number; selfTestHash: number } | null = null;
  const episodes: VectorEpisode[] = [];
  const ints = (words: string[], lineNumber: number): number[] =>
    words.map((w) => {
      const n = Number(w);
      if (!Number.isInteger(n) || n < -0x8000_0000 || n > 0x7fff_ffff) throw new Error(`vectors line ${lineNumber}: '${w}' is not an int32`);
      return n;
    });
  text.split('\n').forEach((line, index) => {
    const lineNumber = index + 1;
    if (line === '' || line.startsWith('#')) return;
    const words = line.split(' ');
    if (words[0] === 'law' && words.length === 4 && head === null) head = { name: words[1]!, version: Number(words[2]), selfTestHash: parseInt(words[3]!, 16) };
    else if (words[0] === 'params' && head !== null) episodes.push({ lineNumber, params: ints(words.slice(1), lineNumber), steps: [] });
    else if (words[0] === 'step' && episodes.length > 0) {
      const arrow = words.indexOf('->');
      const state = words.indexOf('state');
      if (arrow < 1 || state < arrow || state !== words.length - 2) throw new Error(`vectors line ${lineNumber}: malformed step`);
      episodes[episodes.length - 1]!.steps.push({
        lineNumber,
        inputs: ints(words.slice(1, arrow), lineNumber),
        outputs: ints(words.slice(arrow + 1, state), lineNumber),
        state: Uint8Array.from(Buffer.from(words[state + 1]!, 'hex')),
      });
    } else throw new Error(`vectors line ${lineNumber}: unexpected '${line.slice(0, 40)}'`);
  });
  if (head === null) throw new Error('vectors: no law record');
  return { ...(head as { name: string; version: number; selfTestHash: number }), episodes };
}

interface Expected {
  tick: number;
  step: VectorStep;
}

/** Sends the steps in windows of `window` ticks; the first difference throws, naming the line. */
async function runSteps(client: BoardClient, steps: readonly Expected[], what: string, window: number): Promise<void> {
  for (let start = 0; start < steps.length; start += window) {
    const batch = steps.slice(start, start + window);
    for (const s of batch) client.send({ kind: 'tick', tick: s.tick, inputs: s.step.inputs });
    const answers = await client.take(batch.length, 5_000, `${what}: outputs for vector lines ${batch[0]!.step.lineNumber}..${batch[batch.length - 1]!.step.lineNumber}`);
    for (let k = 0; k < batch.length; k++) {
      const { tick, step } = batch[k]!;
      const m = answers[k]!.message;
      const where = `${what}, line ${step.lineNumber} (tick ${tick}, inputs ${step.inputs.join(' ')})`;
      if (m === null || m.kind !== 'output') throw new Error(`${where}: answered ${describeMessage(m, answers[k]!.raw)}`);
      const digest = crc32(step.state);
      if (m.tick !== tick || m.outputs.join(' ') !== step.outputs.join(' ') || m.stateDigest !== digest) {
        throw new Error(`${where}: board gave tick ${m.tick} outputs ${m.outputs.join(' ')} digest ${m.stateDigest.toString(16)}, ` +
          `expected tick ${tick} outputs ${step.outputs.join(' ')} digest ${digest.toString(16)}`);
      }
    }
  }
}

export interface VectorCounts {
  episodes: number;
  steps: number;
  transfers: number;
}

/**
 * The vectors through the protocol, episode by episode (a hello with its parameters): the first
 * half of its steps as ticks, then the board's state (stateRequest: tick and bytes equal the
 * vectors'), then a fresh hello and that state transferred back in (heartbeat with its digest),
 * then the second half, which shows the transfer restored everything a step depends on.
 * `stepsPerEpisode` caps the steps sent per episode.
 */
export async function checkVectors(client: BoardClient, law: LoadedLaw, vectors: LawVectors, stepsPerEpisode = Infinity, window = 8): Promise<VectorCounts> {
  if (vectors.name !== law.name || vectors.version !== law.version || vectors.selfTestHash !== law.selfTestHash) {
    throw new Error(`the vectors are for law ${vectors.name} v${vectors.version} (${vectors.selfTestHash.toString(16)}), not ${law.name} v${law.version}`);
  }
  const counts: VectorCounts = { episodes: 0, steps: 0, transfers: 0 };
  let tick = 1;
  for (const episode of vectors.episodes) {
    const what = `vectors line ${episode.lineNumber} (params ${episode.params.join(' ')})`;
    const steps = episode.steps.slice(0, Math.min(episode.steps.length, stepsPerEpisode)).map((step) => ({ tick: tick++, step }));
    const half = Math.floor(steps.length / 2);
    await configure(client, law, episode.params, what);
    await runSteps(client, steps.slice(0, half), what, window);
    if (half > 0) {
      const at = steps[half - 1]!;
      const snapshot = await client.request({ kind: 'stateRequest', tick: at.tick }, `${what}: state request`);
      const bytes = Buffer.from(at.step.state).toString('hex');
      if (snapshot.kind !== 'state' || snapshot.tick !== at.tick || Buffer.from(snapshot.stateBytes).toString('hex') !== bytes || snapshot.stateDigest !== crc32(at.step.state)) {
        throw new Error(`${what}: after line ${at.step.lineNumber} the state request was answered with ${comparable(snapshot)}, expected tick ${at.tick} and state ${bytes}`);
      }
      await configure(client, law, episode.params, `${what}, before the transfer`);
      const ack = await sendState(client, { kind: 'state', tick: at.tick, stateBytes: at.step.state, stateDigest: crc32(at.step.state) }, `${what}: state transfer`);
      if (ack.kind !== 'heartbeat' || ack.lastTick !== at.tick || ack.stateDigest !== crc32(at.step.state)) {
        throw new Error(`${what}: the state of line ${at.step.lineNumber} was answered with ${comparable(ack)}`);
      }
      counts.transfers++;
    }
    await runSteps(client, steps.slice(half), what, window);
    counts.episodes++;
    counts.steps += steps.length;
  }
  return counts;
}

/** A state the board must refuse with BAD_STATE, leaving its own state as it was. */
export async function checkBadStates(client: BoardClient, law: LoadedLaw, params: ArrayLike<number>): Promise<number> {
  await configure(client, law, params, 'bad states');
  const before = await client.request({ kind: 'stateRequest', tick: 0 }, 'state before');
  if (before.kind !== 'state') throw new Error(`state request answered with ${comparable(before)}`);
  const size = law.definition.stateSizeBytes;
  const good = before.stateBytes;
  const longer = Uint8Array.from([...good, 0]);
  const cases: [string, Uint8Array, number][] = [
    ['one byte too many', longer, crc32(longer)],
    ['a digest that is not the CRC', good, (crc32(good) ^ 1) >>> 0],
  ];
  if (size > 1) {
    const shorter = good.slice(0, size - 1);
    cases.push(['one byte too few', shorter, crc32(shorter)]);
  }
  // A state the law's deserialize() refuses: flip bits until it does (every shipped law checks its format byte).
  for (let i = 0; i < size * 8; i++) {
    const flipped = good.slice();
    flipped[i >> 3] = flipped[i >> 3]! ^ (1 << (i & 7));
    const state = law.definition.init(Int32Array.from(params));
    if (law.definition.deserialize(state, flipped) !== null) {
      cases.push([`a state the law refuses (bit ${i} flipped)`, flipped, crc32(flipped)]);
      break;
    }
  }
  for (const [what, bytes, digest] of cases) {
    const answer = await sendState(client, { kind: 'state', tick: 77, stateBytes: bytes, stateDigest: digest }, what);
    if (answer.kind !== 'error' || answer.code !== ERROR_CODE.BAD_STATE) throw new Error(`${what}: answered ${comparable(answer)}, expected BAD_STATE`);
  }
  const after = await client.request({ kind: 'stateRequest', tick: 0 }, 'state after');
  if (after.kind !== 'state' || Buffer.from(after.stateBytes).toString('hex') !== Buffer.from(good).toString('hex') || after.tick !== before.tick) {
    throw new Error(`the refused states changed the board's: ${comparable(after)}, before ${comparable(before)}`);
  }
  return cases.length;
}

/**
 * The frames a deterministic fault makes the board send equal, byte for byte, those of the Node
 * replica's implementation of the same fault (src/replica/replica-faults.ts) for the same script:
 * a hello, `before` ticks, an inject, `after` ticks.
 */
export async function faultBytes(
  client: BoardClient,
  law: LoadedLaw,
  kind: FaultKind,
  param: number,
  params: ArrayLike<number>,
  before = 20,
  after = 30,
  durationTicks = 10,
): Promise<number> {
  const what = `fault ${kind} (param ${param}, law ${law.name})`;
  const frames: Uint8Array[] = [];
  const endpoint = new ReplicaEndpoint({ write: (bytes) => frames.push(bytes.slice()), crash: () => {} }, { law, implementation: 'reference' });
  const feed = (message: Message): Uint8Array[] => {
    frames.length = 0;
    endpoint.push(encodeMessage(message));
    return splitFrames(frames);
  };
  feed(helloFor(law, params));
  await configure(client, law, params, what);
  const prng = new Prng(0xfa017 + FAULT_KIND[kind]);
  const previous = new Float64Array(law.inputCount);
  const inputs = new Int32Array(law.inputCount);
  resetWalk(law.definition, previous);
  let compared = 0;
  // Consecutive tick numbers (the inject between them is not a tick): a v3 board refuses a gap.
  let tickNumber = 1000;
  for (let i = 0; i < before + 1 + after; i++) {
    if (i === before) {
      const inject: Message = { kind: 'inject', fault: FAULT_KIND[kind], durationTicks, param };
      feed(inject);
      client.send(inject);
      continue;
    }
    drawInputs(prng, law.definition, previous, inputs);
    const tick: Message = { kind: 'tick', tick: tickNumber++, inputs: Array.from(inputs) };
    const want = feed(tick);
    client.send(tick);
    // An idle heartbeat (the machine paused over 100 ms) is no answer to the tick: skipped.
    const got = want.length === 0 ? await client.drain(30) : await client.take(want.length, 2_000, `${what}: tick ${tick.tick}`);
    const have = got.filter((g) => g.message?.kind !== 'heartbeat').map((g) => Buffer.from(g.raw).toString('hex'));
    const expected = want.map((w) => Buffer.from(w).toString('hex'));
    if (have.join(' | ') !== expected.join(' | ')) {
      throw new Error(`${what}, tick ${tick.tick}: board sent [${have.join(' | ')}], the Node replica sends [${expected.join(' | ')}]`);
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
