/**
 * Keeps PROTOCOL.md honest. Reads the document and checks, against the code:
 *   - every example frame (```frame blocks): valid ones decode to exactly the JSON shown and
 *     re-encode to the same bytes, payload and CRC; invalid ones are refused with the code and
 *     detail shown;
 *   - the exchanges of section 18.2 (pid-q16) and 18.3 (tank): the Node replica's endpoint answers
 *     every frame sent to the board with exactly the frames shown, byte for byte;
 *   - every constant table (<!-- table: NAME --> before a markdown table) equals the code's values,
 *     including the host's timing constants, read from their source lines;
 *   - the law tables: each shipped law's identity, self-test hash, channels, parameters and state
 *     layout, and a trace of the self-test re-run from the document's algorithm;
 *   - every message table (<!-- message: kind -->) and the CDDL block: type numbers, field names
 *     in wire order, and each field's type, probed at its boundaries with the encoder.
 * Changing the protocol code without the document fails here.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TmrAssertionError } from '../../src/core/assert.js';
import { crc32, crc32UpdateU32Le } from '../../src/core/crc32.js';
import { deriveSeed, Prng } from '../../src/core/prng.js';
import { LAW_CHANNELS_MAX, LAW_PARAMS_MAX, LAW_STATE_BYTES_MAX } from '../../src/law/law.js';
import { SHIPPED_LAWS, shippedLaw, type ShippedLawName } from '../../src/law/law-loader.js';
import {
  drawInputs,
  drawParams,
  resetWalk,
  SELF_TEST_SEED,
  SELF_TEST_SEGMENTS,
  SELF_TEST_STEPS_PER_SEGMENT,
  type LoadedLaw,
} from '../../src/law/law-runtime.js';
import { cobsDecode } from '../../src/protocol/cobs.js';
import { decodeMessage, encodeMessage, encodeMessagePayload, type DecodeError } from '../../src/protocol/codec.js';
import { FRAME_ERRORS } from '../../src/protocol/frame.js';
import {
  ERROR_CODE,
  FAULT_KIND,
  LIMITS,
  MESSAGE_TYPE,
  PROTOCOL_VERSION,
  REFUSE_REASON,
  type Message,
  type MessageKind,
} from '../../src/protocol/messages.js';
import { HEARTBEAT_PERIOD_MS, ReplicaEndpoint } from '../../src/replica/replica-endpoint.js';
import { BABBLE_BYTES_MAX, STUCK_TICKS_BACK_MAX } from '../../src/replica/replica-faults.js';
import { NODE_REPLICA_IMPLEMENTATION } from '../../src/replica/replica-logic.js';
import { DEFAULT_LOOP_OPTIONS } from '../../src/sim/plants.js';
import { DEFAULT_RECOVERY } from '../../src/loop/recovery.js';

import { DOC, EXAMPLES, decodedExample, docJson, exchangeExamples, parseHex, required, toHex, type Example } from '../helpers/protocol-examples.js';
const KINDS = Object.keys(MESSAGE_TYPE) as MessageKind[];

// ---------------------------------------------------------------------------------------------
// Parsing the document.

/** An integer written in the document: decimal or 0x hex, optionally in backticks. */
function parseInteger(cell: string): number {
  const text = cell.replace(/`/g, '').trim();
  if (/^0x[0-9a-f]+$/i.test(text)) return parseInt(text.slice(2), 16);
  if (/^-?\d+$/.test(text)) return Number(text);
  throw new Error(`PROTOCOL.md: "${cell}" is not an integer`);
}

const unquote = (cell: string): string => cell.replace(/`/g, '').trim();

/** Rows (cells without the outer pipes) of the markdown table after `<!-- marker -->`, header excluded. */
function tableAfter(marker: string): string[][] {
  const at = DOC.indexOf(`<!-- ${marker} -->`);
  if (at < 0) throw new Error(`PROTOCOL.md: no <!-- ${marker} -->`);
  const lines = DOC.slice(at).split('\n').slice(1);
  const rows: string[][] = [];
  for (const line of lines) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('|')) {
      if (rows.length === 0 && trimmed === '') continue;
      break;
    }
    // Split on pipes that are not escaped (\|).
    const cells = trimmed
      .slice(1, trimmed.endsWith('|') ? -1 : undefined)
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim());
    rows.push(cells);
  }
  if (rows.length < 3) throw new Error(`PROTOCOL.md: table after <!-- ${marker} --> is empty`);
  return rows.slice(2); // header and separator
}

/** name -> integer, from the first two columns of a table. */
function namedValues(marker: string): Record<string, number> {
  const values: Record<string, number> = {};
  for (const row of tableAfter(marker)) {
    const name = unquote(row[0] as string);
    if (name in values) throw new Error(`PROTOCOL.md: ${name} twice in ${marker}`);
    values[name] = parseInteger(row[1] as string);
  }
  return values;
}

function cddlBlock(): string {
  const match = /^```cddl\n([\s\S]*?)^```$/m.exec(DOC);
  if (match === null) throw new Error('PROTOCOL.md: no ```cddl block');
  return match[1] as string;
}

/** CDDL message rules: kind -> { type, members: [name, type][] }. */
function cddlMessages(): Map<string, { type: number; members: [string, string][] }> {
  const rules = new Map<string, { type: number; members: [string, string][] }>();
  for (const line of cddlBlock().split('\n')) {
    const match = /^(\w+) = \[type: (\d+)(.*)\]$/.exec(line.trim());
    if (match === null) continue;
    const members: [string, string][] = [];
    // Members are "name: type", separated by ", " outside brackets and parentheses.
    let depth = 0;
    let current = '';
    for (const char of (match[3] as string).replace(/^, /, '')) {
      if (char === '[' || char === '(') depth++;
      if (char === ']' || char === ')') depth--;
      if (char === ',' && depth === 0) {
        members.push(splitMember(current));
        current = '';
      } else current += char;
    }
    if (current.trim() !== '') members.push(splitMember(current));
    rules.set(match[1] as string, { type: Number(match[2]), members });
  }
  return rules;
}

function splitMember(text: string): [string, string] {
  const match = /^\s*(\w+): (.+?)\s*$/.exec(text);
  if (match === null) throw new Error(`PROTOCOL.md CDDL: bad member "${text}"`);
  return [match[1] as string, match[2] as string];
}

/** CDDL range rules such as `uint16 = 0..65535`. */
function cddlRanges(): Map<string, [number, number]> {
  const ranges = new Map<string, [number, number]>();
  for (const line of cddlBlock().split('\n')) {
    const match = /^(\w+) = (-?\d+)\.\.(-?\d+)$/.exec(line.trim());
    if (match !== null) ranges.set(match[1] as string, [Number(match[2]), Number(match[3])]);
  }
  return ranges;
}

// ---------------------------------------------------------------------------------------------
// Helpers.

const sameJson = (json: string): string => JSON.stringify(JSON.parse(json));

const VALID = EXAMPLES.filter((e) => e.fields.has('decoded'));
const INVALID = EXAMPLES.filter((e) => e.fields.has('error'));

// ---------------------------------------------------------------------------------------------

describe('PROTOCOL.md example frames', () => {
  it('every example is either valid or invalid, names are unique, and every message type has one', () => {
    for (const example of EXAMPLES) expect(example.fields.has('decoded') !== example.fields.has('error'), example.name).toBe(true);
    expect(new Set(EXAMPLES.map((e) => e.name)).size).toBe(EXAMPLES.length);
    const kinds = new Set(VALID.map((e) => decodedExample(e).kind));
    expect([...kinds].sort()).toEqual([...KINDS].sort());
    for (const name of ['bad-crc', 'non-shortest-integer', 'float']) expect(INVALID.map((e) => e.name)).toContain(name);
  });

  it.each(VALID.map((e) => [e.name, e] as const))('valid: %s', (_name, example) => {
    const frame = parseHex(required(example, 'frame'));
    expect(frame.indexOf(0)).toBe(frame.length - 1);
    const message = decodedExample(example);
    expect(docJson(message)).toBe(sameJson(required(example, 'decoded')));
    expect(toHex(encodeMessage(message))).toBe(toHex(frame));
    const payload = encodeMessagePayload(message);
    expect(toHex(payload)).toBe(toHex(parseHex(required(example, 'payload'))));
    expect(crc32(payload)).toBe(parseInteger(required(example, 'crc')));
    expect(['board', 'host']).toContain(required(example, 'to'));
  });

  it.each(INVALID.map((e) => [e.name, e] as const))('invalid: %s', (_name, example) => {
    const frame = parseHex(required(example, 'frame'));
    expect(frame[frame.length - 1]).toBe(0);
    const body = frame.subarray(0, frame.length - 1);
    const result = decodeMessage(body);
    expect(result).toEqual({ ok: false, error: required(example, 'error'), detail: example.fields.get('detail') ?? expect.any(String) });
    // Where the document shows the payload and CRC inside the frame, they must be what is there.
    const payloadHex = example.fields.get('payload');
    const crcText = example.fields.get('crc');
    if (payloadHex !== undefined || crcText !== undefined) {
      const decoded = new Uint8Array(body.length);
      const length = cobsDecode(body, decoded);
      expect(length).toBeGreaterThanOrEqual(5);
      if (payloadHex !== undefined) expect(toHex(decoded.subarray(0, length - 4))).toBe(toHex(parseHex(payloadHex)));
      if (crcText !== undefined) expect(new DataView(decoded.buffer).getUint32(length - 4, true)).toBe(parseInteger(crcText));
    }
  });
});

/** Splits what an endpoint wrote into frames (each with its 0x00), as a receiver would. */
function framesOf(chunks: readonly Uint8Array[]): Uint8Array[] {
  const all = Uint8Array.from(chunks.flatMap((c) => [...c]));
  const frames: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < all.length; i++) {
    if (all[i] !== 0) continue;
    if (i > start) frames.push(all.slice(start, i + 1));
    start = i + 1;
  }
  expect(start, 'the endpoint wrote bytes after its last delimiter').toBe(all.length);
  return frames;
}

describe.each([
  ['exchange', 'pid-q16'],
  ['exchange tank', 'tank'],
] as const)('PROTOCOL.md <!-- %s --> is what the Node replica (law %s) answers', (marker, lawName) => {
  const exchange = exchangeExamples(marker);

  it('starts with a hello to the board and has answers', () => {
    expect(exchange.length).toBeGreaterThanOrEqual(6);
    expect(decodedExample(exchange[0]!).kind).toBe('hello');
    expect(exchange[0]?.fields.get('to')).toBe('board');
    expect(exchange.some((e) => e.fields.get('to') === 'host')).toBe(true);
  });

  it('every frame to the board is answered with exactly the frames that follow it, byte for byte', () => {
    const written: Uint8Array[] = [];
    const endpoint = new ReplicaEndpoint(
      {
        write: (bytes) => written.push(bytes.slice()),
        crash: () => {
          throw new Error('the exchange crashed the replica');
        },
      },
      { law: shippedLaw(lawName), implementation: NODE_REPLICA_IMPLEMENTATION },
    );
    for (let i = 0; i < exchange.length; i++) {
      const example = exchange[i] as Example;
      if (required(example, 'to') !== 'board') continue;
      const expected: string[] = [];
      for (let j = i + 1; j < exchange.length && required(exchange[j] as Example, 'to') === 'host'; j++) {
        expected.push(toHex(parseHex(required(exchange[j] as Example, 'frame'))));
      }
      written.length = 0;
      endpoint.push(parseHex(required(example, 'frame')));
      const got = framesOf(written).map(toHex);
      expect(got, `answers to ${example.name}`).toEqual(expected);
    }
    expect(endpoint.malformedFrames).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Constants.

/**
 * A constant of the host's that its module does not export, read from its source line
 * (`const NAME = 250;`, or a product `2 * OTHER` of a literal and a constant read before).
 */
function sourceConstant(file: string, pattern: RegExp, known: Record<string, number>): number {
  const text = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
  const match = pattern.exec(text);
  if (match === null) throw new Error(`${file}: no match for ${pattern}`);
  const expression = (match[1] as string).trim();
  if (/^\d[\d_]*$/.test(expression)) return Number(expression.replace(/_/g, ''));
  const product = /^(\d+) \* ([A-Z][A-Z0-9_]*)$/.exec(expression);
  if (product !== null && (product[2] as string) in known) return Number(product[1]) * (known[product[2] as string] as number);
  throw new Error(`${file}: cannot evaluate "${expression}"`);
}

describe('PROTOCOL.md constant tables equal the code', () => {
  it('LIMITS', () => expect(namedValues('table: LIMITS')).toEqual({ ...LIMITS }));
  it('MESSAGE_TYPE', () => expect(namedValues('table: MESSAGE_TYPE')).toEqual({ ...MESSAGE_TYPE }));
  it('ERROR_CODE', () => expect(namedValues('table: ERROR_CODE')).toEqual({ ...ERROR_CODE }));
  it('REFUSE_REASON', () => expect(namedValues('table: REFUSE_REASON')).toEqual({ ...REFUSE_REASON }));
  it('FAULT_KIND', () => expect(namedValues('table: FAULT_KIND')).toEqual({ ...FAULT_KIND }));

  it('CONSTANTS', () => {
    expect(namedValues('table: CONSTANTS')).toEqual({
      PROTOCOL_VERSION,
      CRC32_CHECK: crc32(Buffer.from('123456789', 'ascii')),
      LAW_NAME_BYTES_MAX: LIMITS.lawNameBytesMax,
      LAW_CHANNELS_MAX,
      LAW_PARAMS_MAX,
      LAW_STATE_BYTES_MAX,
      SELF_TEST_SEED,
      SELF_TEST_SEGMENTS,
      SELF_TEST_STEPS_PER_SEGMENT,
      HEARTBEAT_PERIOD_MS,
      BABBLE_BYTES_MAX,
      STUCK_TICKS_BACK_MAX,
    });
    // The law limits are the wire's limits: a law the SDK accepts always fits a message.
    expect([LAW_CHANNELS_MAX, LAW_PARAMS_MAX, LAW_STATE_BYTES_MAX]).toEqual([LIMITS.inputChannelsMax, LIMITS.lawParamsMax, LIMITS.stateBytesMax]);
    expect(LAW_CHANNELS_MAX).toBe(LIMITS.outputChannelsMax);
  });

  it('PRNG_CHECK: the generator the self-test and the faults draw from', () => {
    const prng = new Prng(SELF_TEST_SEED);
    const draws = Array.from({ length: 4 }, () => prng.nextU32());
    const babble = new Prng(deriveSeed(0x0bab, 1000));
    expect(namedValues('table: PRNG_CHECK')).toEqual({
      'Prng(0x7a3f0002).nextU32() #1': draws[0],
      'Prng(0x7a3f0002).nextU32() #2': draws[1],
      'Prng(0x7a3f0002).nextU32() #3': draws[2],
      'Prng(0x7a3f0002).nextU32() #4': draws[3],
      'deriveSeed(0x0bab, 1000)': deriveSeed(0x0bab, 1000),
      'Prng(deriveSeed(0x0bab, 1000)).nextBelow(57)': babble.nextBelow(57),
    });
  });

  it('HOST_POLICY (the host defaults the document quotes)', () => {
    const { deadlineMissLimit, errorDensityLimit, quorumLossTicksMax } = DEFAULT_LOOP_OPTIONS;
    const { probationTicks, restartsMax, restartWindowMs, backoffMsBase, backoffMsMax, stableMs } = DEFAULT_RECOVERY;
    expect(namedValues('table: HOST_POLICY')).toEqual({
      deadlineMissLimit,
      errorDensityLimit,
      quorumLossTicksMax,
      probationTicks,
      restartsMax,
      restartWindowMs,
      backoffMsBase,
      backoffMsMax,
      stableMs,
    });
  });

  it('HOST_TIMING (what a board sees of the host, from the host\'s source)', () => {
    const known: Record<string, number> = {};
    const read = (name: string, file: string, pattern?: RegExp): void => {
      known[name] = sourceConstant(file, pattern ?? new RegExp(`\\bconst ${name} = ([^;]+);`), known);
    };
    read('HELLO_RETRY_MS', 'src/runtime/replica-link.ts');
    read('HELLO_ACK_GRACE_MS', 'src/runtime/replica-link.ts');
    read('HANDSHAKE_TIMEOUT_MS', 'src/api/tmr-runtime.ts');
    read('WARM_UP_TICKS', 'src/runtime/realtime-runner.ts');
    read('WARM_UP_HELLO_EVERY_TICKS', 'src/runtime/replica-link.ts');
    read('WARM_UP_WINDOW_FRAMES', 'src/runtime/replica-link.ts');
    read('WARM_UP_WINDOW_TIMEOUT_MS', 'src/runtime/replica-link.ts');
    read('WARM_UP_LOSSY_WINDOWS_MAX', 'src/runtime/replica-link.ts');
    read('RESTART_WARM_UP_TICKS', 'src/runtime/realtime-recovery.ts', /\bexport const RESTART_WARM_UP_TICKS = ([^;]+);/);
    read('DTR_PULSE_MS', 'src/transport/serial-transport.ts', /\bexport const DTR_PULSE_MS = ([^;]+);/);
    read('QUORUM_GRACE_PERIODS_DEFAULT', 'src/runtime/realtime-runner.ts');
    expect(namedValues('table: HOST_TIMING')).toEqual(known);
  });

  it('DECODE_ERRORS: every decoder code, frame codes in FRAME_ERRORS order', () => {
    // A Record over DecodeError: adding a code to the type without listing it here fails typecheck.
    const layer: Record<DecodeError, 'frame' | 'payload'> = {
      EMPTY: 'frame',
      TOO_LONG: 'frame',
      COBS_INVALID: 'frame',
      TOO_SHORT: 'frame',
      CRC_MISMATCH: 'frame',
      CBOR_INVALID: 'payload',
      NOT_AN_ARRAY: 'payload',
      UNKNOWN_TYPE: 'payload',
      BAD_FIELD_COUNT: 'payload',
      BAD_FIELD: 'payload',
    };
    const rows = tableAfter('table: DECODE_ERRORS').map((row) => [unquote(row[0] as string), unquote(row[1] as string)]);
    expect(Object.fromEntries(rows)).toEqual(layer);
    expect(rows.filter(([, l]) => l === 'frame').map(([code]) => code)).toEqual([...FRAME_ERRORS]);
  });
});

// ---------------------------------------------------------------------------------------------
// Laws.

const defaultParams = (law: LoadedLaw): Int32Array => Int32Array.from(law.definition.params.map((p) => p.default));
const hex32 = (value: number): string => `0x${(value >>> 0).toString(16).padStart(8, '0')}`;

/**
 * Field values of a state written by serialize(), per shipped law: this test's own reading of
 * each law's state (the oracle the layout tables are checked against). `set` puts distinctive
 * values into a fresh state; `fields` says what each documented field must then read.
 */
const STATE_PROBES: Record<ShippedLawName, { set: (state: Record<string, number>) => void; fields: Record<string, number> }> = {
  'pid-q16': {
    set: (s) => Object.assign(s, { integralQ16: -123_456_789, previousPositionMilliDeg: -500_000, primed: 1 }),
    fields: { formatVersion: 2, integralQ16: -123_456_789, previousPositionMilliDeg: -500_000, primed: 1 },
  },
  tank: {
    set: (s) => Object.assign(s, { pumpOn: 1, alarm: 0, switchWetTicks: 200, integralQ16: 12_345_678 }),
    fields: { formatVersion: 1, flags: 1, switchWetTicks: 200, integralQ16: 12_345_678 },
  },
};

describe('PROTOCOL.md law tables equal the shipped laws', () => {
  it('LAWS: identity, sizes, self-test hash and the digest right after a hello', () => {
    const rows = tableAfter('table: LAWS').map((row) => row.map(unquote));
    expect(rows.map((r) => r[0])).toEqual([...SHIPPED_LAWS]);
    for (const row of rows) {
      const law = shippedLaw(row[0] as ShippedLawName);
      const d = law.definition;
      const initial = law.digest(d.init(defaultParams(law)));
      expect(row.slice(1).map(parseInteger), row[0]).toEqual([d.version, d.inputs.length, d.outputs.length, d.params.length, d.stateSizeBytes, law.selfTestHash, initial]);
    }
  });

  it.each([...SHIPPED_LAWS])('channels and parameters of %s, in declared order', (name) => {
    const d = shippedLaw(name).definition;
    const rows = tableAfter(`law channels: ${name}`).map((row) => row.map(unquote));
    const cell = (v: number | undefined): string => (v === undefined ? '' : String(v));
    const expected = [
      ...d.inputs.map((c) => ['input', c.name, c.unit, cell(c.min), cell(c.max), '', '', '']),
      ...d.outputs.map((c) => ['output', c.name, c.unit, cell(c.min), cell(c.max), cell(c.safe), c.vote, cell(c.tolerance ?? 0)]),
      ...d.params.map((p) => ['param', p.name, '', cell(p.min), cell(p.max), cell(p.default), '', '']),
    ];
    expect(rows.map((r) => r.slice(0, 8))).toEqual(expected);
  });

  it.each([...SHIPPED_LAWS])('state layout of %s, field by field', (name) => {
    const law = shippedLaw(name);
    const rows = tableAfter(`law state: ${name}`).map((row) => ({
      offset: parseInteger(row[0] as string),
      size: parseInteger(row[1] as string),
      field: unquote(row[2] as string),
      encoding: unquote(row[3] as string),
    }));
    let next = 0;
    for (const row of rows) {
      expect(row.offset, row.field).toBe(next);
      next += row.size;
    }
    expect(next).toBe(law.definition.stateSizeBytes);
    const probe = STATE_PROBES[name];
    const state = law.definition.init(defaultParams(law)) as Record<string, number>;
    probe.set(state);
    const bytes = law.stateBytes(state);
    const view = new DataView(bytes.buffer);
    expect(rows.map((r) => r.field).sort()).toEqual(Object.keys(probe.fields).sort());
    for (const { offset, size, field, encoding } of rows) {
      const read = encoding === 'u8' ? view.getUint8(offset) : encoding === 'i32le' ? view.getInt32(offset, true) : encoding === 'u32le' ? view.getUint32(offset, true) : NaN;
      expect([field, size, read]).toEqual([field, encoding === 'u8' ? 1 : 4, probe.fields[field]]);
    }
  });

  it('SELF_TEST_TRACE: the algorithm as the document writes it, step by step, gives pid-q16\'s hash', () => {
    const law = shippedLaw('pid-q16');
    const d = law.definition;
    const prng = new Prng(SELF_TEST_SEED);
    const params = new Int32Array(d.params.length);
    const inputs = new Int32Array(d.inputs.length);
    const outputs = new Int32Array(d.outputs.length);
    const previous = new Float64Array(d.inputs.length);
    const trace = new Map<string, string[]>();
    let hash = 0;
    for (let segment = 0; segment < SELF_TEST_SEGMENTS; segment++) {
      drawParams(prng, d, segment, params);
      const state = d.init(params);
      resetWalk(d, previous);
      for (let step = 0; step < SELF_TEST_STEPS_PER_SEGMENT; step++) {
        drawInputs(prng, d, previous, inputs);
        outputs.fill(0);
        d.step(state, inputs, outputs);
        for (const o of outputs) hash = crc32UpdateU32Le(hash, o >>> 0);
        const digest = law.digest(state);
        hash = crc32UpdateU32Le(hash, digest);
        trace.set(`${segment}.${step}`, [`[${params.join(', ')}]`, `[${inputs.join(', ')}]`, `[${outputs.join(', ')}]`, hex32(digest), hex32(hash)]);
      }
    }
    // The re-run is the runtime's own: otherwise the trace below would check nothing.
    expect(hash).toBe(law.selfTestHash);
    const rows = tableAfter('table: SELF_TEST_TRACE').map((row) => row.map(unquote));
    expect(rows.length).toBeGreaterThanOrEqual(4);
    for (const row of rows) expect(row.slice(1), `step ${row[0]}`).toEqual(trace.get(row[0] as string));
    expect(rows.map((r) => r[0])).toContain(`${SELF_TEST_SEGMENTS - 1}.${SELF_TEST_STEPS_PER_SEGMENT - 1}`);
  });
});

describe('PROTOCOL.md message tables and CDDL match the codec', () => {
  const rules = cddlMessages();
  const ranges = cddlRanges();
  const baseOf = (kind: MessageKind): Message => {
    const example = VALID.find((e) => decodedExample(e).kind === kind);
    if (example === undefined) throw new Error(`PROTOCOL.md: no valid example of ${kind}`);
    return decodedExample(example);
  };

  it('the CDDL lists every message, in type order', () => {
    const union = /^message = (.*)$/m.exec(cddlBlock());
    expect(union?.[1]?.split(' / ')).toEqual(KINDS);
    expect([...rules.keys()]).toEqual(KINDS);
  });

  /** Whether the encoder accepts the message (it asserts on any field out of its schema). */
  function encodes(message: Message): boolean {
    try {
      const frame = encodeMessage(message);
      const back = decodeMessage(frame.subarray(0, frame.length - 1));
      expect(back).toEqual({ ok: true, message });
      return true;
    } catch (error) {
      if (error instanceof TmrAssertionError) return false;
      throw error;
    }
  }

  /** Values just inside and just outside a CDDL type. */
  function probes(type: string): { inside: unknown[]; outside: unknown[] } {
    const range = ranges.get(type);
    if (range !== undefined) {
      const [lo, hi] = range;
      return { inside: [lo, hi], outside: [lo - 1, hi + 1] };
    }
    const list = /^\[(\d+)\*(\d+) int32\]$/.exec(type);
    if (list !== null) {
      const [countMin, countMax] = [Number(list[1]), Number(list[2])];
      const [lo, hi] = ranges.get('int32') as [number, number];
      const filled = (count: number, value: number): number[] => new Array<number>(count).fill(value);
      const outside: unknown[] = [filled(countMax + 1, 0), [...filled(Math.max(countMin, 1) - 1, 0), hi + 1], [lo - 1]];
      if (countMin > 0) outside.push(filled(countMin - 1, 0));
      return { inside: [filled(countMin, lo), filled(countMax, hi)], outside };
    }
    const sized = /^(tstr|bstr) \.size \(0\.\.(\d+)\)$/.exec(type);
    if (sized !== null) {
      const n = Number(sized[2]);
      if (sized[1] === 'tstr') return { inside: ['', 'x'.repeat(n), 'é'.repeat(Math.floor(n / 2))], outside: ['x'.repeat(n + 1), 'é'.repeat(Math.floor(n / 2) + 1)] };
      return { inside: [new Uint8Array(0), new Uint8Array(n).fill(0xff)], outside: [new Uint8Array(n + 1)] };
    }
    throw new Error(`PROTOCOL.md: no probes for CDDL type "${type}"`);
  }

  it.each(KINDS)('%s', (kind) => {
    const rows = tableAfter(`message: ${kind}`).map((row) => ({
      index: parseInteger(row[0] as string),
      field: unquote(row[1] as string),
      type: unquote(row[2] as string),
    }));
    const rule = rules.get(kind);
    expect(rule).toBeDefined();
    expect(rows[0]).toEqual({ index: 0, field: 'type', type: String(MESSAGE_TYPE[kind]) });
    expect(rule?.type).toBe(MESSAGE_TYPE[kind]);
    const fields = rows.slice(1);
    expect(fields.map((r) => r.index)).toEqual(fields.map((_, i) => i + 1));
    // Table and CDDL agree; both list the fields in the codec's wire order.
    expect(fields.map((r) => [r.field, r.type])).toEqual(rule?.members);
    const base = baseOf(kind);
    expect(fields.map((r) => r.field)).toEqual(Object.keys(base).slice(1));
    for (const { field, type } of fields) {
      const { inside, outside } = probes(type);
      for (const value of inside) expect(encodes({ ...base, [field]: value } as Message), `${kind}.${field} = ${JSON.stringify(value)} accepted`).toBe(true);
      for (const value of outside) expect(encodes({ ...base, [field]: value } as Message), `${kind}.${field} = ${JSON.stringify(value)} refused`).toBe(false);
    }
  });
});
