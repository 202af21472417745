import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TmrAssertionError } from '../../src/core/assert.js';
import { cobsDecode, cobsEncode, cobsEncodedSizeMax } from '../../src/protocol/cobs.js';

const fromHex = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
const range = (first: number, last: number): number[] => Array.from({ length: last - first + 1 }, (_, i) => first + i);

function encode(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(cobsEncodedSizeMax(input.length));
  return out.slice(0, cobsEncode(input, out));
}

/** Decoded bytes, or null when cobsDecode refuses. Output buffer as large as the input. */
function decode(input: Uint8Array): Uint8Array | null {
  const out = new Uint8Array(input.length);
  const n = cobsDecode(input, out);
  return n < 0 ? null : out.slice(0, n);
}

/**
 * An independent encoder written from the definition, not from the implementation: split at the
 * zeros; each segment is sent as full 254-byte groups (code 0xFF) and then one group for the rest,
 * which carries the zero that ended the segment. The last segment's final group is omitted when
 * it would be empty after full groups (canonical form).
 */
function referenceEncode(input: Uint8Array): Uint8Array {
  const out: number[] = [];
  const segments: number[][] = [[]];
  for (const byte of input) {
    if (byte === 0) segments.push([]);
    else (segments[segments.length - 1] as number[]).push(byte);
  }
  segments.forEach((segment, index) => {
    const isLast = index === segments.length - 1;
    let at = 0;
    while (segment.length - at >= 254) {
      out.push(0xff, ...segment.slice(at, at + 254));
      at += 254;
    }
    const rest = segment.slice(at);
    if (isLast && rest.length === 0 && segment.length > 0) return;
    out.push(rest.length + 1, ...rest);
  });
  return Uint8Array.from(out);
}

function expectRoundTrip(input: Uint8Array): void {
  const encoded = encode(input);
  expect(encoded.includes(0)).toBe(false);
  expect(encoded.length).toBeLessThanOrEqual(cobsEncodedSizeMax(input.length));
  expect(encoded).toEqual(referenceEncode(input));
  expect(decode(encoded)).toEqual(input);
}

describe('COBS known vectors (Wikipedia, "Consistent Overhead Byte Stuffing", trailing 00 removed)', () => {
  const vectors: [string, Uint8Array, Uint8Array][] = [
    ['empty', fromHex(''), fromHex('01')],
    ['1: 00', fromHex('00'), fromHex('01 01')],
    ['2: 00 00', fromHex('00 00'), fromHex('01 01 01')],
    ['3: 00 11 00', fromHex('00 11 00'), fromHex('01 02 11 01')],
    ['4: 11 22 00 33', fromHex('11 22 00 33'), fromHex('03 11 22 02 33')],
    ['5: 11 22 33 44', fromHex('11 22 33 44'), fromHex('05 11 22 33 44')],
    ['6: 11 00 00 00', fromHex('11 00 00 00'), fromHex('02 11 01 01 01')],
    ['7: 01..FE', Uint8Array.from(range(0x01, 0xfe)), Uint8Array.from([0xff, ...range(0x01, 0xfe)])],
    ['8: 00..FE', Uint8Array.from(range(0x00, 0xfe)), Uint8Array.from([0x01, 0xff, ...range(0x01, 0xfe)])],
    ['9: 01..FF', Uint8Array.from(range(0x01, 0xff)), Uint8Array.from([0xff, ...range(0x01, 0xfe), 0x02, 0xff])],
    ['10: 02..FF 00', Uint8Array.from([...range(0x02, 0xff), 0x00]), Uint8Array.from([0xff, ...range(0x02, 0xff), 0x01, 0x01])],
    ['11: 03..FF 00 01', Uint8Array.from([...range(0x03, 0xff), 0x00, 0x01]), Uint8Array.from([0xfe, ...range(0x03, 0xff), 0x02, 0x01])],
  ];
  it.each(vectors)('%s', (_name, input, expected) => {
    expect(encode(input)).toEqual(expected);
    expect(decode(expected)).toEqual(input);
  });
});

describe('COBS round trip', () => {
  it('every input of length 0, 1 and 2', () => {
    const out = new Uint8Array(cobsEncodedSizeMax(2));
    const back = new Uint8Array(2);
    const check = (input: Uint8Array): void => {
      const n = cobsEncode(input, out);
      const encoded = out.subarray(0, n);
      if (encoded.includes(0)) throw new Error(`zero in encoding of ${input.join(',')}`);
      const m = cobsDecode(encoded, back);
      if (m !== input.length || !input.every((b, i) => back[i] === b)) throw new Error(`round trip failed for ${input.join(',')}`);
    };
    check(new Uint8Array(0));
    for (let a = 0; a < 256; a++) check(Uint8Array.of(a));
    for (let a = 0; a < 256; a++) for (let b = 0; b < 256; b++) check(Uint8Array.of(a, b));
    expect(encode(Uint8Array.of(0, 0))).toEqual(fromHex('01 01 01'));
  });

  it('every non-zero run length around the group boundaries, alone and next to zeros', () => {
    const runLengths = [1, 253, 254, 255, 256, 507, 508, 509, 510, 762];
    const fills: ((i: number) => number)[] = [() => 0xff, () => 0x01, (i) => (i % 255) + 1];
    for (const length of runLengths) {
      for (const fill of fills) {
        const run = Array.from({ length }, (_, i) => fill(i));
        const shapes = [run, [...run, 0], [0, ...run], [0, ...run, 0], [...run, 0, 0], [...run, 0, ...run], [...run, 0, 7, ...run]];
        for (const shape of shapes) expectRoundTrip(Uint8Array.from(shape));
      }
    }
  });

  it('the size bound is exact: reached by zero-free input, never exceeded', () => {
    for (const n of [0, 1, 253, 254, 255, 508, 509, 600]) {
      const zeroFree = new Uint8Array(n).fill(0x55);
      expect(encode(zeroFree).length).toBe(cobsEncodedSizeMax(n));
    }
    expect([0, 1, 254, 255, 508, 509].map(cobsEncodedSizeMax)).toEqual([1, 2, 255, 257, 510, 512]);
  });

  it('decode(encode(x)) = x and matches the reference encoder (fast-check)', () => {
    const runs = fc.array(
      fc.oneof(
        fc.constant([0]),
        fc.integer({ min: 1, max: 520 }).map((n) => new Array<number>(n).fill(0x42)),
      ),
      { maxLength: 4 },
    );
    const inputs = fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      runs.map((parts) => Uint8Array.from(parts.flat()).subarray(0, 600)),
      fc.uint8Array({ maxLength: 600 }).map((a) => a.map((b) => (b < 64 ? 0 : b))),
    );
    fc.assert(fc.property(inputs, (input) => expectRoundTrip(input)), { numRuns: 2000 });
  });
});

describe('COBS refusals', () => {
  it.each([
    ['empty input', fromHex('')],
    ['a zero byte', fromHex('00')],
    ['a zero inside a group', fromHex('03 11 00')],
    ['a zero as a later code byte', fromHex('02 11 00 01')],
    ['a code past the end', fromHex('02')],
    ['a later code past the end', fromHex('02 11 05 22 33')],
    ['a full group cut short', Uint8Array.from([0xff, ...range(1, 100)])],
  ])('%s', (_name, input) => {
    expect(cobsDecode(input, new Uint8Array(600))).toBe(-1);
  });

  it('refuses when the output would not fit, and fits exactly', () => {
    const input = Uint8Array.from([1, 0, 2, 3, 0, 0, 4]);
    const encoded = encode(input);
    expect(cobsDecode(encoded, new Uint8Array(input.length - 1))).toBe(-1);
    expect(cobsDecode(encoded, new Uint8Array(input.length))).toBe(input.length);
    expect(cobsDecode(encode(new Uint8Array(300).fill(9)), new Uint8Array(299))).toBe(-1);
  });

  it('accepts the redundant trailing empty group after a full group', () => {
    const input = new Uint8Array(254).fill(7);
    expect(decode(Uint8Array.from([...encode(input), 0x01]))).toEqual(input);
  });

  it('the encoder asserts on an output buffer that is too small', () => {
    expect(() => cobsEncode(new Uint8Array(254).fill(1), new Uint8Array(254))).toThrow(TmrAssertionError);
  });

  it('decoding never throws and never reports more than the output holds (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 0, max: 700 }), (input, outBytes) => {
        const out = new Uint8Array(outBytes);
        const n = cobsDecode(input, out);
        expect(n).toBeGreaterThanOrEqual(-1);
        expect(n).toBeLessThanOrEqual(Math.min(outBytes, input.length));
        if (n >= 0) {
          // Whatever decodes re-encodes to something that decodes the same (canonical or not).
          expect(decode(encode(out.subarray(0, n)))).toEqual(out.slice(0, n));
        }
      }),
      { numRuns: 3000 },
    );
  });
});
