/**
 * Standalone fuzz run of the receive path: FrameSplitter + decodeMessage, against millions of
 * generated inputs (the unit suite runs ~115k of the same kinds; this is the long run).
 *
 *   npm run fuzz -- [--seed N] [--count N] [--start I]
 *
 * Input i is generated from Prng(deriveSeed(seed, i)) alone, so any input replays by itself
 * (--start i --count 1). Without --seed a random seed is drawn and printed.
 *
 * Checked for every input:
 *   - nothing throws (splitter, decoder);
 *   - a refusal names a known error code and has a detail text;
 *   - anything accepted is byte for byte the encoding of what it decoded to (frame: COBS, CRC
 *     and CBOR), so no second encoding of any message is ever accepted;
 *   - a corrupted frame is refused or decodes to exactly the message it was made from;
 *   - through the splitter: no frame over its bound or holding a 0x00 is delivered, the buffer
 *     never exceeds its bound, and every intact frame that follows a 0x00 is recovered, in order,
 *     whatever noise precedes it and however the stream is chunked.
 * On the first violation: prints it, the seed and a one-line replay command, exit code 1.
 */
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { deriveSeed, Prng } from '../../src/core/prng.js';
import { FrameSplitter } from '../../src/protocol/bounded-delimiter-parser.js';
import { decodeMessage, encodeMessage, encodeMessagePayload, type DecodeError } from '../../src/protocol/codec.js';
import { encodeFrame, FRAME_ERRORS } from '../../src/protocol/frame.js';
import { LIMITS, type Message } from '../../src/protocol/messages.js';
import { grammarPayload, mutate, mutatedPayload, nearSchemaPayload, randomBytes, randomMessage } from './generators.js';

const COUNT_DEFAULT = 3_000_000;
const COUNT_MAX = 1_000_000_000;
const PROGRESS_EVERY = 1_000_000;
/** Below this many inputs a generator may miss a rare code it targets; from here on, it must not. */
const REACH_CHECK_COUNT_MIN = 1_000_000;

const DECODE_ERRORS: readonly DecodeError[] = [...FRAME_ERRORS, 'CBOR_INVALID', 'NOT_AN_ARRAY', 'UNKNOWN_TYPE', 'BAD_FIELD_COUNT', 'BAD_FIELD'];
type Outcome = DecodeError | 'ok';
const OUTCOMES: readonly Outcome[] = ['ok', ...DECODE_ERRORS];

/** A broken promise of the decoder or the splitter. */
class Violation extends Error {}

const toHex = (bytes: Uint8Array | readonly number[]): string => Buffer.from(bytes as Uint8Array).toString('hex');
const bodyOf = (frame: Uint8Array): Uint8Array => frame.subarray(0, frame.length - 1);

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Checking one frame body.

interface Tally {
  readonly counts: Map<Outcome, number>;
  decodes: number;
}

/**
 * Decodes one frame body (as the splitter delivers it) and checks the decoder's promises.
 * Returns the accepted message's payload, or null if refused.
 */
function checkBody(body: Uint8Array, tally: Tally): Uint8Array | null {
  let result;
  try {
    result = decodeMessage(body);
  } catch (error) {
    throw new Violation(`decodeMessage threw ${String(error)} on ${toHex(body)}`);
  }
  tally.decodes++;
  if (!result.ok) {
    if (!DECODE_ERRORS.includes(result.error) || typeof result.detail !== 'string' || result.detail.length === 0) {
      throw new Violation(`bad refusal ${JSON.stringify(result)} for ${toHex(body)}`);
    }
    tally.counts.set(result.error, (tally.counts.get(result.error) ?? 0) + 1);
    return null;
  }
  let reencoded: Uint8Array;
  try {
    reencoded = encodeMessage(result.message);
  } catch (error) {
    throw new Violation(`accepted ${toHex(body)} as ${describe(result.message)}, which the encoder refuses: ${String(error)}`);
  }
  if (!sameBytes(bodyOf(reencoded), body)) {
    throw new Violation(`accepted ${toHex(body)} as ${describe(result.message)}, whose encoding is ${toHex(bodyOf(reencoded))}`);
  }
  tally.counts.set('ok', (tally.counts.get('ok') ?? 0) + 1);
  return encodeMessagePayload(result.message);
}

function describe(message: Message): string {
  return JSON.stringify(message, (_key, value: unknown) => (value instanceof Uint8Array ? `h'${toHex(value)}'` : value));
}

/** A corrupted frame must be refused or be the original message, never another one. */
function checkCorrupted(body: Uint8Array, original: Message, tally: Tally): void {
  const payload = checkBody(body, tally);
  if (payload !== null && !sameBytes(payload, encodeMessagePayload(original))) {
    throw new Violation(`corrupted frame ${toHex(body)} of ${describe(original)} accepted as another message: payload ${toHex(payload)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Generators: each makes and checks one input from its own Prng.

function mutatedBody(prng: Prng, frame: Uint8Array): Uint8Array {
  const bytes = [...bodyOf(frame)];
  for (let edits = 1 + prng.nextBelow(4); edits > 0; edits--) mutate(prng, bytes, [0x00, 0x01, 0xfe, 0xff]);
  return Uint8Array.from(bytes);
}

function framedBody(payload: Uint8Array): Uint8Array {
  return bodyOf(encodeFrame(payload));
}

/** One stream of valid, corrupted and noisy pieces through a FrameSplitter, in random chunks. */
function fuzzStream(prng: Prng, tally: Tally, stats: { frames: number; overlong: number }): void {
  const stream: number[] = [];
  const originals = new Set<string>();
  /** Payloads of intact frames that follow a 0x00 (or start the stream): must be recovered, in order. */
  const guaranteed: string[] = [];
  const pieces = 2 + prng.nextBelow(11);
  for (let p = 0; p < pieces; p++) {
    const choice = prng.nextBelow(12);
    if (choice < 4) {
      const message = randomMessage(prng);
      const payload = toHex(encodeMessagePayload(message));
      originals.add(payload);
      if (prng.nextBelow(3) === 0) stream.push(0x00);
      if (stream.length === 0 || stream[stream.length - 1] === 0) guaranteed.push(payload);
      stream.push(...encodeMessage(message));
    } else if (choice < 7) {
      const message = randomMessage(prng);
      originals.add(toHex(encodeMessagePayload(message)));
      stream.push(...mutatedBody(prng, encodeMessage(message)), 0x00);
    } else if (choice < 9) {
      // Noise: boot garbage, a babbling board, a line glitch; sometimes longer than any frame.
      const length = 1 + (prng.nextBelow(4) === 0 ? prng.nextBelow(700) : prng.nextBelow(40));
      const noise = randomBytes(prng, length);
      if (prng.nextBelow(2) === 0) for (let i = 0; i < noise.length; i++) if (noise[i] === 0) noise[i] = 1 + prng.nextBelow(255);
      stream.push(...noise);
    } else if (choice < 10) {
      stream.push(0x00);
    } else {
      // A frame cut short: its tail never arrives. (Noise that happens to supply the missing
      // bytes completes it: then it is accepted, as it should be.)
      const message = randomMessage(prng);
      originals.add(toHex(encodeMessagePayload(message)));
      const frame = encodeMessage(message);
      stream.push(...frame.subarray(0, prng.nextBelow(frame.length - 1)));
    }
  }

  const splitter = new FrameSplitter(LIMITS.frameBytesMax);
  const accepted: string[] = [];
  const onFrame = (frame: Uint8Array): void => {
    stats.frames++;
    if (frame.length === 0 || frame.length > splitter.bufferBytesMax || frame.includes(0)) {
      throw new Violation(`splitter delivered a frame of ${frame.length} bytes: ${toHex(frame)}`);
    }
    const payload = checkBody(frame, tally);
    if (payload !== null) {
      const hex = toHex(payload);
      if (!originals.has(hex)) {
        throw new Violation(`stream: accepted frame ${toHex(frame)}, payload ${hex}, none of the messages put into the stream ${toHex(stream)}`);
      }
      accepted.push(hex);
    }
  };
  const bytes = Uint8Array.from(stream);
  const chunking = prng.nextBelow(4);
  let at = 0;
  // Bounded: every chunk has at least one byte.
  while (at < bytes.length) {
    const size = chunking === 0 ? bytes.length : chunking === 1 ? 1 : 1 + prng.nextBelow(80);
    try {
      splitter.push(bytes.subarray(at, at + size), onFrame);
    } catch (error) {
      if (error instanceof Violation) throw error;
      throw new Violation(`FrameSplitter.push threw ${String(error)}`);
    }
    if (splitter.bufferedBytes > splitter.bufferBytesMax) throw new Violation(`splitter holds ${splitter.bufferedBytes} bytes`);
    at += size;
  }
  splitter.finish();
  stats.overlong += splitter.overlongFramesDropped;

  let next = 0;
  for (const hex of accepted) if (next < guaranteed.length && hex === guaranteed[next]) next++;
  if (next < guaranteed.length) {
    throw new Violation(`stream: intact frame ${guaranteed[next]} after a 0x00 was not recovered (chunking ${chunking}); stream ${toHex(bytes)}`);
  }
}

interface Generator {
  readonly name: string;
  readonly weight: number;
  /** Codes a long run must produce, or the generator does not reach the layer it targets. */
  readonly reaches: readonly Outcome[];
  readonly run: (prng: Prng, tally: Tally) => void;
}

const streamStats = { frames: 0, overlong: 0 };

const GENERATORS: readonly Generator[] = [
  {
    name: 'random bytes',
    weight: 8,
    reaches: ['COBS_INVALID', 'TOO_LONG', 'EMPTY'],
    run: (prng, tally) => void checkBody(Uint8Array.from(randomBytes(prng, prng.nextBelow(300))), tally),
  },
  {
    name: 'random non-zero bytes',
    weight: 4,
    reaches: ['COBS_INVALID', 'CRC_MISMATCH', 'TOO_SHORT', 'TOO_LONG'],
    run: (prng, tally) => {
      const bytes = randomBytes(prng, 1 + prng.nextBelow(prng.nextBelow(2) === 0 ? 12 : 260)).map((b) => b || 1);
      checkBody(Uint8Array.from(bytes), tally);
    },
  },
  {
    name: 'mutated valid frames',
    weight: 26,
    reaches: ['CRC_MISMATCH', 'COBS_INVALID', 'TOO_SHORT', 'ok'],
    run: (prng, tally) => {
      const original = randomMessage(prng);
      checkCorrupted(mutatedBody(prng, encodeMessage(original)), original, tally);
    },
  },
  {
    name: 'valid CRC around mutated CBOR',
    weight: 20,
    reaches: ['CBOR_INVALID', 'NOT_AN_ARRAY', 'UNKNOWN_TYPE', 'BAD_FIELD_COUNT', 'BAD_FIELD', 'ok'],
    run: (prng, tally) => void checkBody(framedBody(mutatedPayload(prng, randomMessage)), tally),
  },
  {
    name: 'valid CRC around grammar CBOR',
    weight: 20,
    reaches: ['CBOR_INVALID', 'NOT_AN_ARRAY', 'UNKNOWN_TYPE', 'BAD_FIELD_COUNT', 'BAD_FIELD', 'ok'],
    run: (prng, tally) => void checkBody(framedBody(grammarPayload(prng)), tally),
  },
  {
    name: 'valid CRC around near-schema CBOR',
    weight: 8,
    reaches: ['UNKNOWN_TYPE', 'BAD_FIELD_COUNT', 'BAD_FIELD', 'ok'],
    run: (prng, tally) => {
      const payload = nearSchemaPayload(prng, randomMessage);
      checkBody(payload === null ? Uint8Array.from(randomBytes(prng, 8)) : framedBody(payload), tally);
    },
  },
  {
    name: 'valid CRC around random bytes',
    weight: 2,
    reaches: ['CBOR_INVALID', 'NOT_AN_ARRAY', 'UNKNOWN_TYPE'],
    run: (prng, tally) => void checkBody(framedBody(Uint8Array.from(randomBytes(prng, 1 + prng.nextBelow(LIMITS.payloadBytesMax)))), tally),
  },
  {
    name: 'streams through FrameSplitter',
    weight: 12,
    reaches: ['ok', 'CRC_MISMATCH', 'COBS_INVALID'],
    run: (prng, tally) => fuzzStream(prng, tally, streamStats),
  },
];

const WEIGHT_TOTAL = GENERATORS.reduce((sum, g) => sum + g.weight, 0);
/** Generator index by weight slot, so picking one is a single draw. */
const GENERATOR_BY_SLOT: readonly number[] = GENERATORS.flatMap((g, i) => new Array<number>(g.weight).fill(i));

// ---------------------------------------------------------------------------------------------
// The run.

interface Options {
  seed: number;
  count: number;
  start: number;
  seedGiven: boolean;
}

function usage(problem: string): never {
  process.stderr.write(`fuzz: ${problem}\nusage: npm run fuzz -- [--seed N] [--count N] [--start I]\n`);
  process.exit(2);
}

function integerOption(text: string | undefined, name: string, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text.replace(/_/g, ''))) usage(`--${name} must be a non-negative integer, got "${text}"`);
  const value = Number(text.replace(/_/g, ''));
  if (!(value <= max)) usage(`--${name} must be at most ${max}`);
  return value;
}

function parseOptions(): Options {
  let values;
  try {
    ({ values } = parseArgs({ options: { seed: { type: 'string' }, count: { type: 'string' }, start: { type: 'string' } }, strict: true }));
  } catch (error) {
    usage(error instanceof Error ? error.message : String(error));
  }
  const seedGiven = values.seed !== undefined;
  return {
    seed: integerOption(values.seed, 'seed', randomInt(0, 0x1_0000_0000), 0xffff_ffff),
    count: integerOption(values.count, 'count', COUNT_DEFAULT, COUNT_MAX),
    start: integerOption(values.start, 'start', 0, 0xffff_ffff),
    seedGiven,
  };
}

const replayCommand = (seed: number, start: number, count: number): string =>
  `npm run fuzz -- --seed ${seed} --start ${start} --count ${count}`;

function main(): void {
  const options = parseOptions();
  const { seed, count, start } = options;
  process.stdout.write(`fuzz: seed ${seed}${options.seedGiven ? '' : ' (random)'}, inputs ${start}..${start + count - 1}\n`);
  const tallies = GENERATORS.map((): Tally => ({ counts: new Map(), decodes: 0 }));
  const inputs = GENERATORS.map(() => 0);
  const startedMs = performance.now();
  const end = start + count;
  // Bounded by --count.
  for (let i = start; i < end; i++) {
    const prng = new Prng(deriveSeed(seed, i >>> 0));
    const g = GENERATOR_BY_SLOT[prng.nextBelow(WEIGHT_TOTAL)] as number;
    const generator = GENERATORS[g] as Generator;
    try {
      generator.run(prng, tallies[g] as Tally);
    } catch (error) {
      const what = error instanceof Violation ? error.message : `generator threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
      process.stdout.write(
        `\nFAIL at input ${i} (${generator.name}), seed ${seed}\n  ${what}\n  replay: ${replayCommand(seed, i, 1)}\n`,
      );
      process.exit(1);
    }
    inputs[g] = (inputs[g] as number) + 1;
    const done = i - start + 1;
    if (done % PROGRESS_EVERY === 0) {
      const seconds = (performance.now() - startedMs) / 1000;
      process.stdout.write(`  ${done.toLocaleString('en-US')} inputs  ${seconds.toFixed(1)} s  ${Math.round(done / seconds).toLocaleString('en-US')} inputs/s\n`);
    }
  }
  const seconds = (performance.now() - startedMs) / 1000;
  report(tallies, inputs, count, seconds);

  if (count >= REACH_CHECK_COUNT_MIN) {
    for (let g = 0; g < GENERATORS.length; g++) {
      const generator = GENERATORS[g] as Generator;
      const missing = generator.reaches.filter((code) => ((tallies[g] as Tally).counts.get(code) ?? 0) === 0);
      if (missing.length > 0) {
        process.stdout.write(`\nFAIL: "${generator.name}" never produced ${missing.join(', ')}; seed ${seed}\n  replay: ${replayCommand(seed, start, count)}\n`);
        process.exit(1);
      }
    }
  }
  process.stdout.write(`ok: ${count.toLocaleString('en-US')} inputs, no violation (seed ${seed})\n`);
}

function report(tallies: readonly Tally[], inputs: readonly number[], count: number, seconds: number): void {
  const decodes = tallies.reduce((sum, t) => sum + t.decodes, 0);
  const total = new Map<Outcome, number>();
  for (const tally of tallies) for (const [code, n] of tally.counts) total.set(code, (total.get(code) ?? 0) + n);
  const columns = OUTCOMES.filter((code) => (total.get(code) ?? 0) > 0);
  const nameWidth = Math.max(...GENERATORS.map((g) => g.name.length), 'all'.length);
  const cell = (n: number, code: string): string => String(n).padStart(Math.max(code.length, 7));
  const lines = [
    '',
    `${'generator'.padEnd(nameWidth)}  ${'inputs'.padStart(8)}  ${columns.map((c) => c.padStart(7)).join('  ')}`,
    ...GENERATORS.map((g, i) => {
      const counts = (tallies[i] as Tally).counts;
      return `${g.name.padEnd(nameWidth)}  ${String(inputs[i]).padStart(8)}  ${columns.map((c) => cell(counts.get(c) ?? 0, c)).join('  ')}`;
    }),
    `${'all'.padEnd(nameWidth)}  ${String(count).padStart(8)}  ${columns.map((c) => cell(total.get(c) ?? 0, c)).join('  ')}`,
    '',
    `frames decoded ${decodes.toLocaleString('en-US')} (stream frames ${streamStats.frames.toLocaleString('en-US')}, over-long runs dropped by the splitter ${streamStats.overlong.toLocaleString('en-US')})`,
    `time ${seconds.toFixed(1)} s: ${Math.round(count / seconds).toLocaleString('en-US')} inputs/s, ${Math.round(decodes / seconds).toLocaleString('en-US')} decodes/s`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main();
