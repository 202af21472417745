/**
 * Keeps PROTOCOL.md honest. Reads the document and checks, against the code:
 *   - every example frame (```frame blocks): valid ones decode to exactly the JSON shown and
 *     re-encode to the same bytes, payload and CRC; invalid ones are refused with the code and
 *     detail shown;
 *   - the exchange of section 18.2: the Node replica's logic answers every frame sent to the board
 *     with exactly the frames shown;
 *   - every constant table (<!-- table: NAME --> before a markdown table) equals the code's values;
 *   - every message table (<!-- message: kind -->) and the CDDL block: type numbers, field names
 *     in wire order, and each field's type, probed at its boundaries with the encoder.
 * Changing the protocol code without the document fails here.
 */
import { describe, expect, it } from 'vitest';
import { TmrAssertionError } from '../../src/core/assert.js';
import {
  createLawState,
  LAW_ID,
  LAW_STATE_FORMAT_VERSION,
  LAW_STATE_SIZE_BYTES,
  LAW_VERSION,
  lawParamsValid,
  lawSelfTestHash,
  lawStateDigest,
  OUTPUT_CHANNEL_COUNT,
  POSITION_MILLIDEG_LIMIT,
  SELF_TEST_PARAMS,
  SELF_TEST_SEED,
  SELF_TEST_STEPS,
  serializeLawState,
  type LawParams,
  type LawState,
} from '../../src/core/control-law.js';
import { crc32 } from '../../src/core/crc32.js';
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
import { HEARTBEAT_PERIOD_MS } from '../../src/replica/replica-endpoint.js';
import { BABBLE_BYTES_MAX, STUCK_TICKS_BACK_MAX } from '../../src/replica/replica-faults.js';
import { lawParamsFromList, ReplicaLogic } from '../../src/replica/replica-logic.js';
import { DEFAULT_LOOP_OPTIONS } from '../../src/runtime/loop-model.js';

import { DOC, EXAMPLES, decodedExample, docJson, parseHex, required, toHex, type Example } from '../helpers/protocol-examples.js';
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

describe('PROTOCOL.md exchange (section 18.2) is what the Node replica answers', () => {
  const begin = DOC.indexOf('<!-- exchange: begin -->');
  const end = DOC.indexOf('<!-- exchange: end -->');
  const exchange = VALID.filter((e) => e.at > begin && e.at < end);

  /** The Node replica's answers to one message (as replica-endpoint wires ReplicaLogic). */
  function answers(logic: ReplicaLogic, message: Message): Message[] {
    if (message.kind === 'tick') {
      const outcome = logic.onTick(message.tick, message.setpointMilliDeg, message.positionMilliDeg);
      if (!outcome.ok) return [outcome.error];
      return [{ kind: 'output', tick: message.tick, outputs: Array.from(logic.outputs), stateDigest: outcome.stateDigest }];
    }
    const reply = logic.handleControl(message);
    return reply === null ? [] : [reply];
  }

  it('has the markers and starts with a frame to the board', () => {
    expect(begin).toBeGreaterThan(0);
    expect(end).toBeGreaterThan(begin);
    expect(exchange.length).toBeGreaterThanOrEqual(10);
    expect(exchange[0]?.fields.get('to')).toBe('board');
  });

  it('every frame to the board is answered with exactly the frames that follow it', () => {
    const logic = new ReplicaLogic();
    for (let i = 0; i < exchange.length; i++) {
      const example = exchange[i] as Example;
      if (required(example, 'to') !== 'board') continue;
      const expected: string[] = [];
      for (let j = i + 1; j < exchange.length && required(exchange[j] as Example, 'to') === 'host'; j++) {
        expected.push(docJson(decodedExample(exchange[j] as Example)));
      }
      const got = answers(logic, decodedExample(example)).map(docJson);
      expect(got, `answers to ${example.name}`).toEqual(expected);
    }
  });
});

describe('PROTOCOL.md constant tables equal the code', () => {
  it('LIMITS', () => expect(namedValues('table: LIMITS')).toEqual({ ...LIMITS }));
  it('MESSAGE_TYPE', () => expect(namedValues('table: MESSAGE_TYPE')).toEqual({ ...MESSAGE_TYPE }));
  it('ERROR_CODE', () => expect(namedValues('table: ERROR_CODE')).toEqual({ ...ERROR_CODE }));
  it('REFUSE_REASON', () => expect(namedValues('table: REFUSE_REASON')).toEqual({ ...REFUSE_REASON }));
  it('FAULT_KIND', () => expect(namedValues('table: FAULT_KIND')).toEqual({ ...FAULT_KIND }));
  it('SELF_TEST_PARAMS', () => expect(namedValues('table: SELF_TEST_PARAMS')).toEqual({ ...SELF_TEST_PARAMS }));

  it('CONSTANTS', () => {
    expect(namedValues('table: CONSTANTS')).toEqual({
      PROTOCOL_VERSION,
      LAW_ID,
      LAW_VERSION,
      OUTPUT_CHANNEL_COUNT,
      POSITION_MILLIDEG_LIMIT,
      LAW_STATE_FORMAT_VERSION,
      LAW_STATE_SIZE_BYTES,
      RESET_STATE_DIGEST: lawStateDigest(createLawState()),
      SELF_TEST_SEED,
      SELF_TEST_STEPS,
      LAW_SELF_TEST_HASH: lawSelfTestHash(),
      CRC32_CHECK: crc32(Buffer.from('123456789', 'ascii')),
      HEARTBEAT_PERIOD_MS,
      BABBLE_BYTES_MAX,
      STUCK_TICKS_BACK_MAX,
    });
  });

  it('HOST_POLICY (the host defaults the document quotes)', () => {
    const { deadlineMissLimit, errorDensityLimit, quorumLossTicksMax } = DEFAULT_LOOP_OPTIONS;
    expect(namedValues('table: HOST_POLICY')).toEqual({ deadlineMissLimit, errorDensityLimit, quorumLossTicksMax });
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

  it('the self-test hash and the reset digest are also right where the text states them', () => {
    const hash = `0x${lawSelfTestHash().toString(16).padStart(8, '0')}`;
    expect(DOC).toContain(`The result is **${hash}**`);
    expect(DOC).toContain(`its digest is 0x${lawStateDigest(createLawState()).toString(16).padStart(8, '0')}`);
  });

  it('LAW_PARAMS: order and bounds of pid-q16 parameters', () => {
    const rows = tableAfter('table: LAW_PARAMS').map((row) => ({
      name: unquote(row[0] as string),
      min: parseInteger(row[1] as string),
      max: parseInteger(row[2] as string),
    }));
    // Order: the list a hello carries maps to these names in this order.
    const list = rows.map((_, i) => i + 1);
    const params = lawParamsFromList(list) as unknown as Record<string, number>;
    expect(params).not.toBeNull();
    expect(rows.map((r) => params[r.name])).toEqual(list);
    // Bounds: min and max accepted, one beyond refused, each with the others at a valid value.
    const base: Record<string, number> = Object.fromEntries(rows.map((r) => [r.name, r.min]));
    for (const { name, min, max } of rows) {
      const withValue = (value: number): LawParams => ({ ...base, [name]: value }) as unknown as LawParams;
      expect(lawParamsValid(withValue(min)), `${name} = ${min}`).toBeNull();
      expect(lawParamsValid(withValue(max)), `${name} = ${max}`).toBeNull();
      expect(lawParamsValid(withValue(min - 1)), `${name} = ${min - 1}`).not.toBeNull();
      expect(lawParamsValid(withValue(max + 1)), `${name} = ${max + 1}`).not.toBeNull();
    }
  });

  it('LAW_STATE: the 14-byte layout, field by field', () => {
    const rows = tableAfter('table: LAW_STATE').map((row) => ({
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
    expect(next).toBe(LAW_STATE_SIZE_BYTES);
    const state: LawState = { integralQ16: -123_456_789, previousPositionMilliDeg: -500_000, lastTick: 0xfedc_ba98, primed: 1 };
    const bytes = new Uint8Array(LAW_STATE_SIZE_BYTES);
    serializeLawState(state, bytes);
    const view = new DataView(bytes.buffer);
    const expected: Record<string, number> = { formatVersion: LAW_STATE_FORMAT_VERSION, ...state };
    expect(rows.map((r) => r.field).sort()).toEqual(Object.keys(expected).sort());
    for (const { offset, size, field, encoding } of rows) {
      const read = encoding === 'u8' ? view.getUint8(offset) : encoding === 'i32le' ? view.getInt32(offset, true) : encoding === 'u32le' ? view.getUint32(offset, true) : NaN;
      expect([field, size, read]).toEqual([field, encoding === 'u8' ? 1 : 4, expected[field]]);
    }
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
