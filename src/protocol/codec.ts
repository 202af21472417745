/**
 * Message codec: Message <-> CBOR array (messages.ts gives the layout) <-> frame (frame.ts).
 *
 * Wire subset. A payload is one definite-length CBOR array. Its elements are unsigned or negative
 * integers (major types 0 and 1, at most 32-bit arguments), definite-length byte strings (2),
 * definite-length valid-UTF-8 text strings (3) and definite-length arrays (4) whose items are such
 * integers. Every integer and length uses preferred serialisation (the shortest head, RFC 8949
 * §4.2.1), so one message has exactly one encoding. Floats, tags, simple values (false, true,
 * null, undefined), maps, indefinite lengths and 64-bit arguments are refused, even where a
 * generic decoder would turn them into an acceptable JS value (1.0 as float decodes to 1).
 *
 * Decoding runs in three steps, each refusing what the next would mishandle:
 *   1. scanPayload checks the bytes against the subset above without allocating. cbor-x never sees
 *      a tag, so none of its extensions (records, packed values, Date, BigInt, typed arrays) can run.
 *   2. cbor-x decodes the now well-formed, subset-only bytes into JS values.
 *   3. The schema (one table for both directions) checks type number, element count and each
 *      field's JS type and range.
 * -0: the encoder accepts -0 wherever an integer is allowed and sends it as 0 (CBOR has no
 * negative zero integer); the decoder never produces -0.
 */
import { isUtf8 } from 'node:buffer';
import { Encoder } from 'cbor-x';
import { fail, isInt32, isUint32 } from '../core/assert.js';
import { decodeFrameInto, encodeFrame, FRAME_BODY_BYTES_MAX, type FrameError } from './frame.js';
import { LIMITS, MESSAGE_TYPE, type Message, type MessageKind } from './messages.js';

export type DecodeError =
  | FrameError
  /** Not well-formed CBOR: truncated, reserved head, stray break, or bytes after the array. */
  | 'CBOR_INVALID'
  /** The top-level item is not a definite-length array. */
  | 'NOT_AN_ARRAY'
  /** Element 0 is not a known message type number. */
  | 'UNKNOWN_TYPE'
  /** The array length does not match the message type. */
  | 'BAD_FIELD_COUNT'
  /** A field has the wrong CBOR type, range, length or encoding. */
  | 'BAD_FIELD';

export type DecodeResult = { ok: true; message: Message } | { ok: false; error: DecodeError; detail: string };

/**
 * Standard CBOR only, spelled out rather than left to defaults: no record extension (objects
 * would be plain maps; we only encode arrays anyway), no value sharing, no packed CBOR, no string
 * bundles, no self-described header, Uint8Array as a plain byte string (major type 2; on Node the
 * default would add tag 64), integers as integers (no float forcing or float32 rounding), maps
 * without tag 259, byte strings decoded as views (step 3 copies the one we keep), 64-bit
 * integers as BigInt (which the schema refuses; the scanner refuses them before that).
 */
const cbor = new Encoder({
  useRecords: false,
  structuredClone: false,
  pack: false,
  bundleStrings: false,
  useSelfDescribedHeader: false,
  tagUint8Array: false,
  useTag259ForMaps: false,
  variableMapSize: true,
  mapsAsObjects: true,
  alwaysUseFloat: false,
  useFloat32: 0,
  largeBigIntToFloat: false,
  int64AsNumber: false,
  copyBuffers: false,
  sequential: false,
} as ConstructorParameters<typeof Encoder>[0]);
// cbor-x's decode(source, end) reads source[0..end); the typings omit `end`. Decoding from one
// scratch array lets cbor-x cache its DataView on it instead of building one per message.
const cborDecode = cbor.decode.bind(cbor) as unknown as (source: Uint8Array, end: number) => unknown;

// ---------------------------------------------------------------------------------------------
// Schema: one table, used to check outgoing messages (assertions) and incoming ones (errors).

type FieldSpec =
  | { readonly name: string; readonly kind: 'uint'; readonly max: number; readonly what: string }
  | { readonly name: string; readonly kind: 'int32' }
  | { readonly name: string; readonly kind: 'int32List'; readonly countMin: number; readonly countMax: number }
  | { readonly name: string; readonly kind: 'text'; readonly bytesMax: number }
  | { readonly name: string; readonly kind: 'bytes'; readonly bytesMax: number };

const UINT16_MAX = 0xffff;
const UINT32_MAX = 0xffff_ffff;
const uint32 = (name: string): FieldSpec => ({ name, kind: 'uint', max: UINT32_MAX, what: 'uint32' });
/** Protocol version, law id and reason/error/fault codes: uint16; their meaning is checked by the user. */
const uint16 = (name: string): FieldSpec => ({ name, kind: 'uint', max: UINT16_MAX, what: 'uint16' });
const int32 = (name: string): FieldSpec => ({ name, kind: 'int32' });
const replicaIndex: FieldSpec = {
  name: 'replicaIndex',
  kind: 'uint',
  max: LIMITS.replicaIndexLimit - 1,
  what: `uint < ${LIMITS.replicaIndexLimit}`,
};

/** Fields after the type number, in wire order; names are the Message property names. */
const SCHEMA: { readonly [K in MessageKind]: readonly FieldSpec[] } = {
  hello: [
    uint16('protocolVersion'),
    replicaIndex,
    { name: 'lawName', kind: 'text', bytesMax: LIMITS.lawNameBytesMax },
    uint16('lawVersion'),
    { name: 'inputCount', kind: 'uint', max: LIMITS.inputChannelsMax, what: `uint <= ${LIMITS.inputChannelsMax}` },
    { name: 'outputCount', kind: 'uint', max: LIMITS.outputChannelsMax, what: `uint <= ${LIMITS.outputChannelsMax}` },
    uint32('lawHash'),
    { name: 'lawParams', kind: 'int32List', countMin: 0, countMax: LIMITS.lawParamsMax },
  ],
  helloAck: [
    uint16('protocolVersion'),
    replicaIndex,
    { name: 'implementation', kind: 'text', bytesMax: LIMITS.implementationBytesMax },
    { name: 'lawName', kind: 'text', bytesMax: LIMITS.lawNameBytesMax },
    uint16('lawVersion'),
    uint32('lawHash'),
  ],
  refuse: [uint16('reason')],
  tick: [uint32('tick'), { name: 'inputs', kind: 'int32List', countMin: 1, countMax: LIMITS.inputChannelsMax }],
  output: [
    uint32('tick'),
    { name: 'outputs', kind: 'int32List', countMin: 1, countMax: LIMITS.outputChannelsMax },
    uint32('stateDigest'),
  ],
  heartbeat: [uint32('lastTick'), uint32('stateDigest')],
  stateRequest: [uint32('tick')],
  state: [uint32('tick'), { name: 'stateBytes', kind: 'bytes', bytesMax: LIMITS.stateBytesMax }, uint32('stateDigest')],
  error: [uint16('code'), { name: 'detail', kind: 'text', bytesMax: LIMITS.errorDetailBytesMax }],
  inject: [uint16('fault'), uint32('durationTicks'), int32('param')],
};

const MESSAGE_KINDS = Object.keys(MESSAGE_TYPE) as MessageKind[];
/** Message kind by type number; undefined for unknown numbers. */
const KIND_BY_TYPE: readonly (MessageKind | undefined)[] = (() => {
  const kinds: (MessageKind | undefined)[] = [];
  for (const kind of MESSAGE_KINDS) kinds[MESSAGE_TYPE[kind]] = kind;
  return kinds;
})();

/** A string with an unpaired surrogate has no UTF-8 encoding (cbor-x would write WTF-8). */
const LONE_SURROGATE = /\p{Cs}/u;

function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** Why `value` does not fit `spec`, or null if it does. */
function checkField(spec: FieldSpec, value: unknown): string | null {
  switch (spec.kind) {
    case 'uint':
      return typeof value === 'number' && isUint32(value) && value <= spec.max ? null : `expected ${spec.what}`;
    case 'int32':
      return typeof value === 'number' && isInt32(value) ? null : 'expected int32';
    case 'int32List': {
      const expected = `expected an array of ${spec.countMin}..${spec.countMax} int32`;
      if (!(Array.isArray(value) || value instanceof Int32Array) || value.length < spec.countMin || value.length > spec.countMax) return expected;
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        if (typeof item !== 'number' || !isInt32(item)) return `${expected} (item ${i})`;
      }
      return null;
    }
    case 'text':
      if (typeof value !== 'string' || LONE_SURROGATE.test(value)) return 'expected a UTF-8 text string';
      return utf8ByteLength(value) <= spec.bytesMax ? null : `longer than ${spec.bytesMax} UTF-8 bytes`;
    case 'bytes':
      if (!(value instanceof Uint8Array)) return 'expected a byte string';
      return value.length <= spec.bytesMax ? null : `longer than ${spec.bytesMax} bytes`;
  }
}

/** Check elements 1.. of a wire array of the right length; returns the first problem or null. */
function checkFields(kind: MessageKind, wire: readonly unknown[]): string | null {
  const specs = SCHEMA[kind];
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i] as FieldSpec;
    const problem = checkField(spec, wire[i + 1]);
    if (problem !== null) return `${kind}.${spec.name}: ${problem}`;
  }
  return null;
}

function headBytes(argument: number): number {
  return argument < 24 ? 1 : argument <= 0xff ? 2 : argument <= 0xffff ? 3 : 5;
}

function fieldBytesMax(spec: FieldSpec): number {
  switch (spec.kind) {
    case 'uint':
      return headBytes(spec.max);
    case 'int32':
      return 5;
    case 'int32List':
      return headBytes(spec.countMax) + 5 * spec.countMax;
    case 'text':
    case 'bytes':
      return headBytes(spec.bytesMax) + spec.bytesMax;
  }
}

// Checked once at load: type numbers are one-byte integers, and the largest message of every
// kind fits in a payload, so encodeMessage's size assertions can only fire on a bug here.
for (const kind of MESSAGE_KINDS) {
  const type = MESSAGE_TYPE[kind];
  if (!(Number.isInteger(type) && type >= 0 && type < 24)) fail(`MESSAGE_TYPE.${kind} must be 0..23`);
  const specs = SCHEMA[kind];
  let bytesMax = headBytes(specs.length + 1) + 1;
  for (const spec of specs) bytesMax += fieldBytesMax(spec);
  if (!(bytesMax <= LIMITS.payloadBytesMax)) fail(`largest ${kind} message (${bytesMax} bytes) exceeds payloadBytesMax`);
}

// ---------------------------------------------------------------------------------------------
// Wire-subset scanner (step 1). Allocation-free; results in module variables.

const SCAN_OK = 0;
/** Not well-formed CBOR. */
const SCAN_MALFORMED = 1;
/** Well-formed CBOR outside the subset. */
const SCAN_UNSUPPORTED = 2;

let headMajor = 0;
let headArgument = 0;
let headNext = 0;
let scanProblem = '';
/** Element of the top-level array where the scan stopped (-1: the array head itself). */
let scanElementIndex = -1;
/** Top-level array length, and element 0 if it is an unsigned integer (else -1). */
let scanCount = 0;
let scanTypeNumber = -1;

function scanFailed(verdict: number, problem: string): number {
  scanProblem = problem;
  return verdict;
}

function readHead(bytes: Uint8Array, position: number, end: number): number {
  if (position >= end) return scanFailed(SCAN_MALFORMED, 'truncated');
  const initial = bytes[position] as number;
  const major = initial >>> 5;
  const info = initial & 0x1f;
  headMajor = major;
  if (major === 6) return scanFailed(SCAN_UNSUPPORTED, 'tag');
  if (major === 7) {
    if (info === 31) return scanFailed(SCAN_MALFORMED, 'unexpected break');
    return scanFailed(SCAN_UNSUPPORTED, info >= 25 && info <= 27 ? 'float' : 'simple value');
  }
  if (info < 24) {
    headArgument = info;
    headNext = position + 1;
  } else if (info === 24) {
    if (position + 2 > end) return scanFailed(SCAN_MALFORMED, 'truncated');
    headArgument = bytes[position + 1] as number;
    headNext = position + 2;
    if (headArgument < 24) return scanFailed(SCAN_UNSUPPORTED, 'non-preferred encoding');
  } else if (info === 25) {
    if (position + 3 > end) return scanFailed(SCAN_MALFORMED, 'truncated');
    headArgument = ((bytes[position + 1] as number) << 8) | (bytes[position + 2] as number);
    headNext = position + 3;
    if (headArgument <= 0xff) return scanFailed(SCAN_UNSUPPORTED, 'non-preferred encoding');
  } else if (info === 26) {
    if (position + 5 > end) return scanFailed(SCAN_MALFORMED, 'truncated');
    headArgument =
      ((bytes[position + 1] as number) * 0x100_0000 +
        (((bytes[position + 2] as number) << 16) | ((bytes[position + 3] as number) << 8) | (bytes[position + 4] as number)));
    headNext = position + 5;
    if (headArgument <= 0xffff) return scanFailed(SCAN_UNSUPPORTED, 'non-preferred encoding');
  } else if (info === 27) {
    if (position + 9 > end) return scanFailed(SCAN_MALFORMED, 'truncated');
    return scanFailed(SCAN_UNSUPPORTED, '64-bit argument');
  } else if (info < 31) {
    return scanFailed(SCAN_MALFORMED, 'reserved additional information');
  } else {
    if (major <= 1) return scanFailed(SCAN_MALFORMED, 'indefinite integer');
    return scanFailed(SCAN_UNSUPPORTED, 'indefinite length');
  }
  if (major === 5) return scanFailed(SCAN_UNSUPPORTED, 'map');
  return SCAN_OK;
}

/** Scan one element of the top-level array starting at `position`; on success headNext is past it. */
function scanElement(bytes: Uint8Array, position: number, end: number): number {
  const verdict = readHead(bytes, position, end);
  if (verdict !== SCAN_OK) return verdict;
  if (headMajor <= 1) return SCAN_OK;
  if (headMajor === 2 || headMajor === 3) {
    const start = headNext;
    if (headArgument > end - start) return scanFailed(SCAN_MALFORMED, 'truncated');
    headNext = start + headArgument;
    if (headMajor === 3 && !isUtf8(bytes.subarray(start, headNext))) return scanFailed(SCAN_UNSUPPORTED, 'invalid UTF-8');
    return SCAN_OK;
  }
  // headMajor === 4: an inner array of integers. Bounded: each item consumes at least one byte.
  const count = headArgument;
  let next = headNext;
  for (let i = 0; i < count; i++) {
    const itemVerdict = readHead(bytes, next, end);
    if (itemVerdict !== SCAN_OK) return itemVerdict;
    if (headMajor > 1) return scanFailed(SCAN_UNSUPPORTED, 'nested arrays hold integers only');
    next = headNext;
  }
  headNext = next;
  return SCAN_OK;
}

/** Check bytes[0..end) against the wire subset. Returns a SCAN_* verdict. */
function scanPayload(bytes: Uint8Array, end: number): number {
  scanElementIndex = -1;
  scanCount = 0;
  scanTypeNumber = -1;
  const verdict = readHead(bytes, 0, end);
  if (verdict !== SCAN_OK) return verdict;
  const topMajor = headMajor;
  if (topMajor !== 4) return scanFailed(SCAN_UNSUPPORTED, 'top-level item is not an array');
  scanCount = headArgument;
  let position = headNext;
  // Bounded: each element consumes at least one byte, and readHead stops at `end`.
  for (let i = 0; i < scanCount; i++) {
    scanElementIndex = i;
    const elementVerdict = scanElement(bytes, position, end);
    if (elementVerdict !== SCAN_OK) return elementVerdict;
    if (i === 0 && headMajor === 0) scanTypeNumber = headArgument;
    position = headNext;
  }
  scanElementIndex = -1;
  if (position !== end) return scanFailed(SCAN_MALFORMED, `${end - position} bytes after the array`);
  return SCAN_OK;
}

// ---------------------------------------------------------------------------------------------
// Encoding.

/** The wire array of a message: [type number, fields in SCHEMA order]. */
function toWire(msg: Message): unknown[] {
  switch (msg.kind) {
    case 'hello':
      return [MESSAGE_TYPE.hello, msg.protocolVersion, msg.replicaIndex, msg.lawName, msg.lawVersion, msg.inputCount, msg.outputCount, msg.lawHash, msg.lawParams];
    case 'helloAck':
      return [MESSAGE_TYPE.helloAck, msg.protocolVersion, msg.replicaIndex, msg.implementation, msg.lawName, msg.lawVersion, msg.lawHash];
    case 'refuse':
      return [MESSAGE_TYPE.refuse, msg.reason];
    case 'tick':
      // A plain array: cbor-x would tag a typed array.
      return [MESSAGE_TYPE.tick, msg.tick, msg.inputs instanceof Int32Array ? Array.from(msg.inputs) : msg.inputs];
    case 'output':
      return [MESSAGE_TYPE.output, msg.tick, msg.outputs, msg.stateDigest];
    case 'heartbeat':
      return [MESSAGE_TYPE.heartbeat, msg.lastTick, msg.stateDigest];
    case 'stateRequest':
      return [MESSAGE_TYPE.stateRequest, msg.tick];
    case 'state':
      return [MESSAGE_TYPE.state, msg.tick, msg.stateBytes, msg.stateDigest];
    case 'error':
      return [MESSAGE_TYPE.error, msg.code, msg.detail];
    case 'inject':
      return [MESSAGE_TYPE.inject, msg.fault, msg.durationTicks, msg.param];
  }
}

/** CBOR bytes of a message; a view into cbor-x's output buffer, which it never rewrites. */
function encodePayloadView(msg: Message): Uint8Array {
  const kind = msg.kind as unknown;
  if (!(typeof kind === 'string' && kind in SCHEMA)) fail(`encodeMessage: unknown kind ${String(kind)}`);
  const wire = toWire(msg);
  const problem = checkFields(msg.kind, wire);
  if (!(problem === null)) fail(`encodeMessage: ${problem}`);
  const bytes: Uint8Array = cbor.encode(wire);
  if (!(bytes.length <= LIMITS.payloadBytesMax)) fail(`encodeMessage: ${msg.kind} payload of ${bytes.length} bytes`);
  // Pair check across the boundary: what we send must pass our own receiver's subset check.
  const verdict = scanPayload(bytes, bytes.length);
  if (!(verdict === SCAN_OK)) fail(`encodeMessage: ${msg.kind} encoded outside the wire subset (${scanProblem})`);
  return bytes;
}

/** CBOR payload only (no CRC, no COBS), as a fresh array. For tests and documentation. */
export function encodeMessagePayload(msg: Message): Uint8Array {
  return new Uint8Array(encodePayloadView(msg));
}

/**
 * The complete frame for a message, including the 0x00 delimiter. A field out of range is our
 * bug and fails an assertion.
 */
export function encodeMessage(msg: Message): Uint8Array {
  return encodeFrame(encodePayloadView(msg));
}

// ---------------------------------------------------------------------------------------------
// Decoding.

/** Holds one decoded payload at a time; decoding is synchronous and copies what it keeps. */
const payloadScratch = new Uint8Array(FRAME_BODY_BYTES_MAX);

const FRAME_ERROR_DETAIL: { readonly [E in FrameError]: string } = {
  EMPTY: 'frame: empty',
  TOO_LONG: 'frame: too long',
  COBS_INVALID: 'frame: invalid COBS',
  TOO_SHORT: 'frame: too short',
  CRC_MISMATCH: 'frame: CRC-32 mismatch',
};

function refused(error: DecodeError, detail: string): DecodeResult {
  return { ok: false, error, detail };
}

function elementName(kind: MessageKind, elementIndex: number): string {
  return elementIndex === 0 ? `${kind}.type` : `${kind}.${SCHEMA[kind][elementIndex - 1]?.name ?? elementIndex}`;
}

/** Map a failed scan to a decode error: type first, then count, then the field. */
function scanRefusal(verdict: number): DecodeResult {
  if (verdict === SCAN_MALFORMED) return refused('CBOR_INVALID', `cbor: ${scanProblem}`);
  if (scanElementIndex < 0) return refused('NOT_AN_ARRAY', `cbor: ${scanProblem}`);
  if (scanElementIndex === 0) return refused('UNKNOWN_TYPE', `type: ${scanProblem}`);
  const kind = KIND_BY_TYPE[scanTypeNumber];
  if (kind === undefined) return refused('UNKNOWN_TYPE', `type: ${scanTypeNumber} is not a message type`);
  if (scanCount !== SCHEMA[kind].length + 1) return badCount(kind, scanCount);
  return refused('BAD_FIELD', `${elementName(kind, scanElementIndex)}: ${scanProblem}`);
}

function badCount(kind: MessageKind, count: number): DecodeResult {
  return refused('BAD_FIELD_COUNT', `${kind}: ${count} elements, expected ${SCHEMA[kind].length + 1}`);
}

/** Build the message from a wire array that passed checkFields. */
function fromWire(kind: MessageKind, w: readonly unknown[]): Message {
  switch (kind) {
    case 'hello':
      return {
        kind,
        protocolVersion: w[1] as number,
        replicaIndex: w[2] as number,
        lawName: w[3] as string,
        lawVersion: w[4] as number,
        inputCount: w[5] as number,
        outputCount: w[6] as number,
        lawHash: w[7] as number,
        lawParams: w[8] as number[],
      };
    case 'helloAck':
      return {
        kind,
        protocolVersion: w[1] as number,
        replicaIndex: w[2] as number,
        implementation: w[3] as string,
        lawName: w[4] as string,
        lawVersion: w[5] as number,
        lawHash: w[6] as number,
      };
    case 'refuse':
      return { kind, reason: w[1] as number };
    case 'tick':
      return { kind, tick: w[1] as number, inputs: w[2] as number[] };
    case 'output':
      return { kind, tick: w[1] as number, outputs: w[2] as number[], stateDigest: w[3] as number };
    case 'heartbeat':
      return { kind, lastTick: w[1] as number, stateDigest: w[2] as number };
    case 'stateRequest':
      return { kind, tick: w[1] as number };
    case 'state':
      // Copy: the decoded byte string is a view into payloadScratch, which the next decode rewrites.
      return { kind, tick: w[1] as number, stateBytes: new Uint8Array(w[2] as Uint8Array), stateDigest: w[3] as number };
    case 'error':
      return { kind, code: w[1] as number, detail: w[2] as string };
    case 'inject':
      return { kind, fault: w[1] as number, durationTicks: w[2] as number, param: w[3] as number };
  }
}

/** Steps 1-3 on payloadScratch[0..payloadBytes). */
function decodeScratchPayload(payloadBytes: number): DecodeResult {
  const verdict = scanPayload(payloadScratch, payloadBytes);
  if (verdict !== SCAN_OK) return scanRefusal(verdict);
  let wire: unknown;
  try {
    wire = cborDecode(payloadScratch, payloadBytes);
  } catch (error) {
    // Unreachable if the scanner is right; kept so no input can make decodeMessage throw.
    return refused('CBOR_INVALID', `cbor-x: ${error instanceof Error ? error.message : 'decode failed'}`);
  }
  if (!Array.isArray(wire)) return refused('NOT_AN_ARRAY', 'cbor: top-level item is not an array');
  if (wire.length === 0) return refused('UNKNOWN_TYPE', 'type: empty array');
  const type: unknown = wire[0];
  const kind = typeof type === 'number' ? KIND_BY_TYPE[type] : undefined;
  if (kind === undefined) return refused('UNKNOWN_TYPE', `type: ${typeof type === 'number' ? type : typeof type} is not a message type`);
  if (wire.length !== SCHEMA[kind].length + 1) return badCount(kind, wire.length);
  const problem = checkFields(kind, wire);
  if (problem !== null) return refused('BAD_FIELD', problem);
  return { ok: true, message: fromWire(kind, wire) };
}

/**
 * Decode one frame as the splitter emits it (without the 0x00 delimiter). Never throws: every
 * refusal is a named error with a short detail naming the field.
 */
export function decodeMessage(frameWithoutDelimiter: Uint8Array): DecodeResult {
  const result = decodeFrameInto(frameWithoutDelimiter, payloadScratch);
  if (typeof result !== 'number') return refused(result, FRAME_ERROR_DETAIL[result]);
  return decodeScratchPayload(result);
}

/** Decode a bare CBOR payload (no CRC, no COBS): the inverse of encodeMessagePayload. Never throws. */
export function decodeMessagePayload(payload: Uint8Array): DecodeResult {
  if (payload.length === 0) return refused('EMPTY', 'payload: empty');
  if (payload.length > LIMITS.payloadBytesMax) return refused('TOO_LONG', 'payload: too long');
  payloadScratch.set(payload, 0);
  return decodeScratchPayload(payload.length);
}
