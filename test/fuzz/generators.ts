/**
 * Input generators for the protocol fuzzers, shared by the unit suite (test/protocol/codec.test.ts,
 * ~115k inputs per run) and the standalone run (test/fuzz/fuzz-decoder.ts, millions). Every random
 * choice is drawn from the Prng passed in, so an input is a pure function of its seed.
 */
import { Encoder } from 'cbor-x';
import fc from 'fast-check';
import type { Prng } from '../../src/core/prng.js';
import { encodeMessagePayload } from '../../src/protocol/codec.js';
import { LIMITS, MESSAGE_TYPE, type Message, type MessageKind } from '../../src/protocol/messages.js';

export const MESSAGE_KINDS = Object.keys(MESSAGE_TYPE) as MessageKind[];

// ---------------------------------------------------------------------------------------------
// fast-check arbitraries: every field over its whole legal range; keys in wire order.

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const i32 = fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff });
const replicaIndex = fc.integer({ min: 0, max: LIMITS.replicaIndexLimit - 1 });
const text = (bytesMax: number): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ unit: 'grapheme-ascii', maxLength: bytesMax }),
    fc.string({ unit: 'binary-ascii', maxLength: bytesMax / 2 }),
    fc.string({ unit: 'binary', maxLength: bytesMax / 4 }),
    fc.string({ unit: 'binary', maxLength: bytesMax }).filter((s) => Buffer.byteLength(s) <= bytesMax),
  );

export const ARBITRARY: { [K in MessageKind]: fc.Arbitrary<Extract<Message, { kind: K }>> } = {
  hello: fc.record({
    kind: fc.constant('hello'),
    protocolVersion: u16,
    replicaIndex,
    lawName: text(LIMITS.lawNameBytesMax),
    lawVersion: u16,
    inputCount: fc.integer({ min: 0, max: LIMITS.inputChannelsMax }),
    outputCount: fc.integer({ min: 0, max: LIMITS.outputChannelsMax }),
    lawHash: u32,
    lawParams: fc.array(i32, { maxLength: LIMITS.lawParamsMax }),
  }),
  helloAck: fc.record({
    kind: fc.constant('helloAck'),
    protocolVersion: u16,
    replicaIndex,
    implementation: text(LIMITS.implementationBytesMax),
    lawName: text(LIMITS.lawNameBytesMax),
    lawVersion: u16,
    lawHash: u32,
  }),
  refuse: fc.record({ kind: fc.constant('refuse'), reason: u16 }),
  tick: fc.record({ kind: fc.constant('tick'), tick: u32, inputs: fc.array(i32, { minLength: 1, maxLength: LIMITS.inputChannelsMax }) }),
  output: fc.record({
    kind: fc.constant('output'),
    tick: u32,
    outputs: fc.array(i32, { minLength: 1, maxLength: LIMITS.outputChannelsMax }),
    stateDigest: u32,
  }),
  heartbeat: fc.record({ kind: fc.constant('heartbeat'), lastTick: u32, stateDigest: u32 }),
  stateRequest: fc.record({ kind: fc.constant('stateRequest'), tick: u32 }),
  state: fc.record({
    kind: fc.constant('state'),
    tick: u32,
    stateBytes: fc.uint8Array({ maxLength: LIMITS.stateBytesMax }),
    stateDigest: u32,
  }),
  error: fc.record({ kind: fc.constant('error'), code: u16, detail: text(LIMITS.errorDetailBytesMax) }),
  inject: fc.record({ kind: fc.constant('inject'), fault: u16, durationTicks: u32, param: i32 }),
};
export const anyMessage: fc.Arbitrary<Message> = fc.oneof(...MESSAGE_KINDS.map((kind) => ARBITRARY[kind] as fc.Arbitrary<Message>));

/** cbor-x with defaults except plain byte strings: an independent encoder for cross-checks. */
export const standardEncoder = new Encoder({ useRecords: false, tagUint8Array: false });
/** The wire array of a message: the arbitraries (and randomMessage) list keys in wire order. */
export const wireOf = (m: Message): unknown[] => [MESSAGE_TYPE[m.kind], ...Object.values(m).slice(1)];

// ---------------------------------------------------------------------------------------------
// Prng-driven generators.

export const pick = <T>(prng: Prng, items: readonly T[]): T => items[prng.nextBelow(items.length)] as T;
export const randomBytes = (prng: Prng, length: number): number[] => Array.from({ length }, () => prng.nextBelow(256));
/** CBOR initial bytes that start interesting trouble: floats, tags, simple values, long heads, breaks. */
export const CBOR_HEADS = [0x00, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1f, 0x20, 0x38, 0x3a, 0x3b, 0x40, 0x58, 0x5f, 0x60, 0x61, 0x78, 0x7f, 0x80, 0x81, 0x84, 0x98, 0x9f, 0xa0, 0xa1, 0xbf, 0xc0, 0xc1, 0xc2, 0xd8, 0xd9, 0xf4, 0xf5, 0xf6, 0xf7, 0xf9, 0xfa, 0xfb, 0xff];

/** One random edit of a byte sequence: bit flip, overwrite, insert, drop, truncate, duplicate a run, swap. */
export function mutate(prng: Prng, bytes: number[], interesting: readonly number[]): void {
  const at = prng.nextBelow(bytes.length + 1);
  switch (prng.nextBelow(7)) {
    case 0:
      if (at < bytes.length) bytes[at] = (bytes[at] as number) ^ (1 << prng.nextBelow(8));
      break;
    case 1:
      if (at < bytes.length) bytes[at] = prng.nextBelow(2) === 0 ? prng.nextBelow(256) : pick(prng, interesting);
      break;
    case 2:
      bytes.splice(at, 0, prng.nextBelow(2) === 0 ? prng.nextBelow(256) : pick(prng, interesting));
      break;
    case 3:
      bytes.splice(at, 1 + prng.nextBelow(3));
      break;
    case 4:
      bytes.length = Math.min(bytes.length, at);
      break;
    case 5: {
      const from = prng.nextBelow(bytes.length + 1);
      bytes.splice(at, 0, ...bytes.slice(from, from + 1 + prng.nextBelow(6)));
      break;
    }
    default: {
      const other = prng.nextBelow(bytes.length + 1);
      if (at < bytes.length && other < bytes.length) [bytes[at], bytes[other]] = [bytes[other] as number, bytes[at] as number];
    }
  }
}

/** A random JS value that a generic CBOR encoder can write, most of them wrong for any field. */
export function oddValue(prng: Prng): unknown {
  switch (prng.nextBelow(24)) {
    case 0: return 3.5;
    case 1: return -0.25;
    case 2: return 0x1_0000_0000 + prng.nextBelow(1000);
    case 3: return -0x8000_0001 - prng.nextBelow(1000);
    case 4: return BigInt(prng.nextU32()) * 0x1_0000_0000n;
    case 5: return 'x'.repeat(prng.nextBelow(70));
    case 6: return Uint8Array.from(randomBytes(prng, prng.nextBelow(70)));
    case 7: return Array.from({ length: prng.nextBelow(11) }, () => prng.nextU32() | 0);
    case 8: return [1, 'two', [3]];
    case 9: return null;
    case 10: return undefined;
    case 11: return prng.nextBelow(2) === 0;
    case 12: return new Map([[1, 2]]);
    case 13: return { tick: 1 };
    case 14: return new Date(prng.nextU32());
    case 15: return new Set([1, 2]);
    case 16: return Int32Array.of(1, -1);
    case 17: return Number.NaN;
    case 18: return Number.NEGATIVE_INFINITY;
    case 19: return -prng.nextU32();
    case 20: return prng.nextU32();
    case 21: return prng.nextU32() | 0;
    case 22: return prng.nextBelow(0x1_0000);
    default: return prng.nextBelow(24);
  }
}

/** Generic cbor-x encoders with extensions on: tags, records, packing, value sharing. */
export const looseEncoders = [
  standardEncoder,
  new Encoder({ useRecords: false }),
  new Encoder({ useRecords: true }),
  new Encoder({ useRecords: false, pack: true }),
  new Encoder({ useRecords: false, structuredClone: true }),
  new Encoder({ useRecords: false, useFloat32: 1 }),
];

/** Where a generator gets its valid messages from (a fixed pool, or randomMessage). */
export type MessageSource = (prng: Prng) => Message;

/** A payload near the schema: a valid wire array with a field replaced, added or dropped. */
export function nearSchemaPayload(prng: Prng, source: MessageSource): Uint8Array | null {
  const wire = wireOf(source(prng));
  for (let edits = 1 + prng.nextBelow(2); edits > 0; edits--) {
    const choice = prng.nextBelow(10);
    if (choice < 6) wire[prng.nextBelow(wire.length)] = oddValue(prng);
    else if (choice < 7) wire.push(oddValue(prng));
    else if (choice < 8) wire.pop();
    else wire[0] = prng.nextBelow(14);
  }
  let encoded: Uint8Array;
  try {
    encoded = pick(prng, looseEncoders).encode(wire);
  } catch {
    return null; // some odd values cannot be encoded at all
  }
  return encoded.length >= 1 && encoded.length <= LIMITS.payloadBytesMax ? Uint8Array.from(encoded) : null;
}

/** A valid payload with byte-level edits. */
export function mutatedPayload(prng: Prng, source: MessageSource): Uint8Array {
  const bytes = [...encodeMessagePayload(source(prng))];
  for (let edits = 1 + prng.nextBelow(3); edits > 0; edits--) mutate(prng, bytes, CBOR_HEADS);
  if (bytes.length === 0) bytes.push(pick(prng, CBOR_HEADS));
  return Uint8Array.from(bytes.slice(0, LIMITS.payloadBytesMax));
}

// ---------------------------------------------------------------------------------------------
// Random valid messages straight from a Prng (no fast-check): millions of distinct messages, with
// the values where CBOR heads change width drawn often.

/** Unsigned values at the edges of CBOR head widths and of the field ranges. */
const UINT_EDGES = [0, 1, 23, 24, 255, 256, 65_535, 65_536, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff];
/** Signed values at the edges of CBOR head widths and of int32. */
const INT_EDGES = [0, 1, -1, 23, 24, -24, -25, 255, 256, -256, -257, 65_535, 65_536, -65_536, -65_537, 0x7fff_ffff, -0x8000_0000];
/** Text pieces of 1, 2, 3 and 4 UTF-8 bytes. */
const TEXT_PIECES = ['a', 'Z', '/', '0', ' ', 'é', 'ß', '€', '中', '😀'];

function randomUint(prng: Prng, max: number): number {
  switch (prng.nextBelow(4)) {
    case 0: {
      const edge = pick(prng, UINT_EDGES);
      return edge <= max ? edge : max;
    }
    case 1:
      return prng.nextBelow(Math.min(max, 255) + 1);
    case 2:
      return prng.nextBelow(Math.min(max, 65_535) + 1);
    default:
      return max === 0xffff_ffff ? prng.nextU32() : prng.nextBelow(max + 1);
  }
}

function randomInt32(prng: Prng): number {
  switch (prng.nextBelow(4)) {
    case 0:
      return pick(prng, INT_EDGES);
    case 1:
      return prng.nextBelow(512) - 256;
    case 2:
      return prng.nextBelow(1 << 21) - (1 << 20);
    default:
      return prng.nextU32() | 0;
  }
}

function randomText(prng: Prng, bytesMax: number): string {
  const budget = prng.nextBelow(2) === 0 ? bytesMax : prng.nextBelow(bytesMax + 1);
  let out = '';
  let bytes = 0;
  // Bounded: at most `budget` pieces of at least one byte each.
  for (let i = 0; i < budget; i++) {
    const piece = pick(prng, TEXT_PIECES);
    const pieceBytes = Buffer.byteLength(piece);
    if (bytes + pieceBytes > budget) break;
    out += piece;
    bytes += pieceBytes;
  }
  return out;
}

const int32List = (prng: Prng, countMin: number, countMax: number): number[] =>
  Array.from({ length: countMin + prng.nextBelow(countMax - countMin + 1) }, () => randomInt32(prng));

/** A random valid message of any kind, keys in wire order. */
export function randomMessage(prng: Prng): Message {
  const kind = pick(prng, MESSAGE_KINDS);
  switch (kind) {
    case 'hello':
      return {
        kind,
        protocolVersion: randomUint(prng, 0xffff),
        replicaIndex: prng.nextBelow(LIMITS.replicaIndexLimit),
        lawName: randomText(prng, LIMITS.lawNameBytesMax),
        lawVersion: randomUint(prng, 0xffff),
        inputCount: prng.nextBelow(LIMITS.inputChannelsMax + 1),
        outputCount: prng.nextBelow(LIMITS.outputChannelsMax + 1),
        lawHash: randomUint(prng, 0xffff_ffff),
        lawParams: int32List(prng, 0, LIMITS.lawParamsMax),
      };
    case 'helloAck':
      return {
        kind,
        protocolVersion: randomUint(prng, 0xffff),
        replicaIndex: prng.nextBelow(LIMITS.replicaIndexLimit),
        implementation: randomText(prng, LIMITS.implementationBytesMax),
        lawName: randomText(prng, LIMITS.lawNameBytesMax),
        lawVersion: randomUint(prng, 0xffff),
        lawHash: randomUint(prng, 0xffff_ffff),
      };
    case 'refuse':
      return { kind, reason: randomUint(prng, 0xffff) };
    case 'tick':
      return { kind, tick: randomUint(prng, 0xffff_ffff), inputs: int32List(prng, 1, LIMITS.inputChannelsMax) };
    case 'output':
      return { kind, tick: randomUint(prng, 0xffff_ffff), outputs: int32List(prng, 1, LIMITS.outputChannelsMax), stateDigest: randomUint(prng, 0xffff_ffff) };
    case 'heartbeat':
      return { kind, lastTick: randomUint(prng, 0xffff_ffff), stateDigest: randomUint(prng, 0xffff_ffff) };
    case 'stateRequest':
      return { kind, tick: randomUint(prng, 0xffff_ffff) };
    case 'state':
      return {
        kind,
        tick: randomUint(prng, 0xffff_ffff),
        stateBytes: Uint8Array.from(randomBytes(prng, prng.nextBelow(LIMITS.stateBytesMax + 1))),
        stateDigest: randomUint(prng, 0xffff_ffff),
      };
    case 'error':
      return { kind, code: randomUint(prng, 0xffff), detail: randomText(prng, LIMITS.errorDetailBytesMax) };
    case 'inject':
      return { kind, fault: randomUint(prng, 0xffff), durationTicks: randomUint(prng, 0xffff_ffff), param: randomInt32(prng) };
  }
}

// ---------------------------------------------------------------------------------------------
// Grammar-based CBOR: well-formed and nearly well-formed payloads built head by head, so every
// field of every message type meets every kind of wrong item, including the ones generic
// encoders never write (non-shortest heads, 64-bit arguments, invalid UTF-8, reserved values).

/** Writes a head with `argument`, in its shortest form or (sometimes) a longer one. */
function pushHead(prng: Prng, out: number[], major: number, argument: number, shortestOnly: boolean): void {
  const shortest = argument < 24 ? 0 : argument <= 0xff ? 1 : argument <= 0xffff ? 2 : 4;
  let width = shortest;
  if (!shortestOnly && prng.nextBelow(6) === 0) width = pick(prng, [0, 1, 2, 4, 8].filter((w) => w >= shortest));
  if (width === 0 && argument < 24) {
    out.push((major << 5) | argument);
    return;
  }
  const info = width === 1 ? 24 : width === 2 ? 25 : width === 4 ? 26 : 27;
  out.push((major << 5) | info);
  for (let i = width - 1; i >= 0; i--) out.push(i >= 4 ? 0 : Math.floor(argument / 2 ** (8 * i)) & 0xff);
}

function pushInteger(prng: Prng, out: number[], value: number, shortestOnly: boolean): void {
  if (value >= 0) pushHead(prng, out, 0, value, shortestOnly);
  else pushHead(prng, out, 1, -1 - value, shortestOnly);
}

/** Some integer: mostly in a field's range, sometimes just outside. */
function someInteger(prng: Prng): number {
  switch (prng.nextBelow(5)) {
    case 0:
      return pick(prng, UINT_EDGES);
    case 1:
      return pick(prng, INT_EDGES);
    case 2:
      return prng.nextBelow(40) - 8;
    case 3:
      return pick(prng, [-0x8000_0001, -0xffff_ffff - 1, 0x1_0000, 16, 15]);
    default:
      return prng.nextU32() | 0;
  }
}

function pushText(prng: Prng, out: number[]): void {
  const valid = prng.nextBelow(4) !== 0;
  const bytes = valid ? [...Buffer.from(randomText(prng, 70))] : randomBytes(prng, prng.nextBelow(8));
  if (!valid && bytes.length > 0) bytes[prng.nextBelow(bytes.length)] = pick(prng, [0xc0, 0xc3, 0xed, 0xf4, 0xf8, 0xff, 0x80]);
  pushHead(prng, out, 3, bytes.length, false);
  out.push(...bytes);
}

/** One array element: any item the subset allows, and many it does not. */
function pushItem(prng: Prng, out: number[], depth: number): void {
  switch (prng.nextBelow(16)) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
      pushInteger(prng, out, someInteger(prng), prng.nextBelow(3) !== 0);
      return;
    case 5: {
      const length = prng.nextBelow(2) === 0 ? prng.nextBelow(20) : LIMITS.stateBytesMax - 2 + prng.nextBelow(5);
      pushHead(prng, out, 2, length, prng.nextBelow(3) !== 0);
      out.push(...randomBytes(prng, length));
      return;
    }
    case 6:
      pushText(prng, out);
      return;
    case 7:
    case 8: {
      const count = prng.nextBelow(11);
      pushHead(prng, out, 4, count, prng.nextBelow(3) !== 0);
      for (let i = 0; i < count; i++) {
        if (depth < 2 && prng.nextBelow(8) === 0) pushItem(prng, out, depth + 1);
        else pushInteger(prng, out, someInteger(prng), prng.nextBelow(4) !== 0);
      }
      return;
    }
    case 9: // floats: half, single, double
      out.push(...pick(prng, [[0xf9, 0x47, 0x00], [0xf9, 0x3c, 0x00], [0xfa, 0x40, 0xe0, 0x00, 0x00], [0xfb, 0x40, 0x0c, 0, 0, 0, 0, 0, 0]]));
      return;
    case 10: // simple values, including the two-byte form
      out.push(...pick(prng, [[0xf4], [0xf5], [0xf6], [0xf7], [0xf8, 0x20], [0xe0]]));
      return;
    case 11: // a tag around an integer or a byte string
      out.push(...pick(prng, [[0xc0], [0xc1], [0xc2], [0xd8, 0x40], [0xd9, 0xd9, 0xf7]]));
      if (depth < 2) pushItem(prng, out, depth + 1);
      return;
    case 12: // maps
      out.push(...pick(prng, [[0xa0], [0xa1, 0x01, 0x02], [0xbf, 0x01, 0x02, 0xff]]));
      return;
    case 13: // indefinite strings and arrays
      out.push(...pick(prng, [[0x5f, 0x41, 0x01, 0xff], [0x7f, 0x61, 0x61, 0xff], [0x9f, 0x01, 0xff], [0x9f, 0xff]]));
      return;
    case 14: // reserved additional information, stray break, indefinite integer
      out.push(pick(prng, [0x1c, 0x1d, 0x1e, 0x3c, 0xff, 0x1f, 0x3f]));
      return;
    default: // a 64-bit argument, even for a small value
      out.push(pick(prng, [0x1b, 0x3b]), 0, 0, 0, 0, 0, 0, 0, prng.nextBelow(256));
  }
}

/**
 * A payload built head by head: a top-level array (usually definite, usually of a plausible
 * length for its type number) of random items; sometimes with one byte too few or too many.
 */
export function grammarPayload(prng: Prng): Uint8Array {
  const out: number[] = [];
  const type = prng.nextBelow(8) === 0 ? prng.nextBelow(30) : prng.nextBelow(MESSAGE_KINDS.length);
  const plausible = [9, 7, 2, 3, 4, 3, 2, 4, 3, 4][type] ?? 1 + prng.nextBelow(6);
  const count = prng.nextBelow(4) === 0 ? prng.nextBelow(8) : plausible;
  switch (prng.nextBelow(20)) {
    case 0:
      out.push(0x9f); // indefinite array
      break;
    case 1:
      out.push(pick(prng, [0xa0 | count, 0x40 | count, 0x60 | count, 0xc0, 0x00, 0xf6])); // not an array
      break;
    default:
      pushHead(prng, out, 4, count, prng.nextBelow(8) !== 0);
  }
  for (let i = 0; i < count; i++) {
    if (i === 0 && prng.nextBelow(6) !== 0) pushInteger(prng, out, type, prng.nextBelow(8) !== 0);
    else pushItem(prng, out, 0);
  }
  switch (prng.nextBelow(12)) {
    case 0:
      out.pop();
      break;
    case 1:
      out.push(pick(prng, [0x00, 0xff, 0x01]));
      break;
    default:
  }
  if (out.length === 0) out.push(0x80);
  return Uint8Array.from(out.slice(0, LIMITS.payloadBytesMax));
}
