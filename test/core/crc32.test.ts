import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CRC32_REGISTER_START, crc32, crc32FeedByte, crc32FeedU32Le, crc32Finish, crc32Update, crc32UpdateU32Le } from '../../src/core/crc32.js';

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('crc32', () => {
  it('has the CRC-32/ISO-HDLC check value', () => {
    expect(crc32(ascii('123456789'))).toBe(0xcbf43926);
  });

  it('pins a few more known values', () => {
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(ascii('a'))).toBe(0xe8b7be43);
    expect(crc32(ascii('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
    expect(crc32(new Uint8Array(32))).toBe(0x190a55ad);
  });

  it('equals node:zlib crc32 on random byte arrays', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2_048 }), (bytes) => {
        expect(crc32(bytes)).toBe(zlibCrc32(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('chained crc32Update equals the one-shot CRC at any split', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const [cut1, cut2] = [a % (bytes.length + 1), b % (bytes.length + 1)].sort((x, y) => x - y) as [number, number];
        const chained = crc32Update(crc32Update(crc32Update(0, bytes, 0, cut1), bytes, cut1, cut2), bytes, cut2, bytes.length);
        expect(chained).toBe(crc32(bytes));
        expect(crc32Update(crc32(bytes.subarray(0, cut1)), bytes.subarray(cut1))).toBe(zlibCrc32(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('feeding bytes and little-endian words into the register equals crc32 over the same bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 0xff }).map((b) => ({ byte: b })), fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }).map((w) => ({ word: w }))), { maxLength: 64 }), (items) => {
        const bytes: number[] = [];
        let register = CRC32_REGISTER_START;
        for (const item of items) {
          if ('byte' in item) {
            bytes.push(item.byte);
            register = crc32FeedByte(register, item.byte);
          } else {
            const w = item.word >>> 0;
            bytes.push(w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24);
            register = crc32FeedU32Le(register, item.word >>> 0);
          }
        }
        expect(crc32Finish(register)).toBe(zlibCrc32(Uint8Array.from(bytes)));
      }),
      { numRuns: 1_000 },
    );
  });

  it('crc32UpdateU32Le continues a running CRC exactly as crc32Update over the word\'s little-endian bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), (prefix, word) => {
        const bytes = Uint8Array.of(word & 0xff, (word >>> 8) & 0xff, (word >>> 16) & 0xff, word >>> 24);
        expect(crc32UpdateU32Le(crc32(prefix), word)).toBe(crc32Update(crc32(prefix), bytes));
      }),
      { numRuns: 1_000 },
    );
  });

  it('chains one byte at a time', () => {
    const bytes = ascii('123456789');
    let crc = 0;
    for (let i = 0; i < bytes.length; i++) crc = crc32Update(crc, bytes, i, i + 1);
    expect(crc).toBe(0xcbf43926);
  });

  it('honours start and end', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const [start, end] = [a % (bytes.length + 1), b % (bytes.length + 1)].sort((x, y) => x - y) as [number, number];
        expect(crc32(bytes, start, end)).toBe(zlibCrc32(bytes.subarray(start, end)));
      }),
    );
  });

  it('detects every single-bit flip', () => {
    const bytes = ascii('tmr state digest');
    const good = crc32(bytes);
    for (let bit = 0; bit < bytes.length * 8; bit++) {
      const flipped = bytes.slice();
      flipped[bit >> 3] = (flipped[bit >> 3] as number) ^ (1 << (bit & 7));
      expect(crc32(flipped)).not.toBe(good);
    }
  });
});
