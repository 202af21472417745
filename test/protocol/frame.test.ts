import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TmrAssertionError } from '../../src/core/assert.js';
import { crc32 } from '../../src/core/crc32.js';
import { cobsEncode, cobsEncodedSizeMax } from '../../src/protocol/cobs.js';
import { encodeMessage } from '../../src/protocol/codec.js';
import { decodeFrame, encodeFrame, FRAME_ERRORS, type FrameError } from '../../src/protocol/frame.js';
import { LIMITS, type Message } from '../../src/protocol/messages.js';

const fromHex = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
const body = (frame: Uint8Array): Uint8Array => frame.subarray(0, frame.length - 1);

function cobs(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(cobsEncodedSizeMax(bytes.length));
  return out.slice(0, cobsEncode(bytes, out));
}

/** COBS(payload ++ crc) with a CRC chosen by the caller (to build wrong ones). */
function frameBodyWithCrc(payload: Uint8Array, crc: number): Uint8Array {
  const bytes = new Uint8Array(payload.length + 4);
  bytes.set(payload);
  new DataView(bytes.buffer).setUint32(payload.length, crc >>> 0, true);
  return cobs(bytes);
}

function expectRefused(bytes: Uint8Array, error?: FrameError): void {
  const result = decodeFrame(bytes);
  expect(result.ok).toBe(false);
  if (!result.ok) {
    expect(FRAME_ERRORS).toContain(result.error);
    if (error !== undefined) expect(result.error).toBe(error);
  }
}

const sampleMessages: Message[] = [
  { kind: 'tick', tick: 7, inputs: [-5, 1000] },
  { kind: 'tick', tick: 8, inputs: [1000, 987, 1] },
  { kind: 'output', tick: 0xffff_fffe, outputs: [-1, 0, 2_000_000_000], stateDigest: 0x0000_0100 },
  { kind: 'helloAck', protocolVersion: 1, replicaIndex: 2, implementation: 'node-replica/0.1.0', lawName: 'pid-q16', lawVersion: 2, lawHash: 0 },
  { kind: 'state', tick: 1, stateBytes: new Uint8Array(64), stateDigest: 0xdead_beef },
];
const sampleFrames = sampleMessages.map(encodeMessage);

describe('encodeFrame', () => {
  it('golden: payload 01 -> COBS(01 ++ crc32 LE) ++ 00, CRC from zlib', () => {
    // zlib.crc32(b'\x01') = 0xA505DF1B; no zero in 01 1B DF 05 A5, so one group of 5.
    expect(encodeFrame(fromHex('01'))).toEqual(fromHex('06 01 1b df 05 a5 00'));
    // zlib.crc32(bytes.fromhex('840307241903e8')) = 0x6CDA263E
    expect(encodeFrame(fromHex('84 03 07 24 19 03 e8'))).toEqual(fromHex('0c 84 03 07 24 19 03 e8 3e 26 da 6c 00'));
  });

  it('ends with the only 0x00 and stays within frameBytesMax, up to the largest payload', () => {
    for (const payload of [new Uint8Array(1), new Uint8Array(LIMITS.payloadBytesMax), new Uint8Array(LIMITS.payloadBytesMax).fill(0xff)]) {
      const frame = encodeFrame(payload);
      expect(frame.length).toBeLessThanOrEqual(LIMITS.frameBytesMax);
      expect(frame.indexOf(0)).toBe(frame.length - 1);
      const decoded = decodeFrame(body(frame));
      expect(decoded).toEqual({ ok: true, payload });
    }
  });

  it('asserts on an empty or over-long payload', () => {
    expect(() => encodeFrame(new Uint8Array(0))).toThrow(TmrAssertionError);
    expect(() => encodeFrame(new Uint8Array(LIMITS.payloadBytesMax + 1))).toThrow(TmrAssertionError);
  });
});

describe('decodeFrame', () => {
  it('round trip for arbitrary payloads (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: LIMITS.payloadBytesMax }), (payload) => {
        const frame = encodeFrame(payload);
        expect(decodeFrame(body(frame))).toEqual({ ok: true, payload });
      }),
      { numRuns: 1000 },
    );
  });

  it('returns a copy that a later decode does not overwrite', () => {
    const first = decodeFrame(body(encodeFrame(fromHex('aa bb cc'))));
    decodeFrame(body(encodeFrame(fromHex('11 22 33 44 55'))));
    expect(first).toEqual({ ok: true, payload: fromHex('aa bb cc') });
  });

  it('names each refusal', () => {
    const payload = fromHex('84 03 07 24 19 03 e8');
    expectRefused(new Uint8Array(0), 'EMPTY');
    expectRefused(new Uint8Array(LIMITS.frameBytesMax).fill(1), 'TOO_LONG');
    // Short enough on the wire, but decodes to more than payloadBytesMax + 4 bytes.
    expectRefused(cobs(new Uint8Array(LIMITS.payloadBytesMax + 5).fill(3)), 'TOO_LONG');
    expectRefused(fromHex('03 11 00 22'), 'COBS_INVALID');
    expectRefused(fromHex('05 11 22'), 'COBS_INVALID');
    expectRefused(cobs(fromHex('01 02 03 04')), 'TOO_SHORT');
    expectRefused(cobs(fromHex('00')), 'TOO_SHORT');
    expectRefused(frameBodyWithCrc(payload, crc32(payload) ^ 1), 'CRC_MISMATCH');
    expectRefused(frameBodyWithCrc(payload, crc32(payload) ^ 0x8000_0000), 'CRC_MISMATCH');
    // The CRC is little-endian: the same value big-endian is refused.
    const swapped = Buffer.alloc(4);
    swapped.writeUInt32BE(crc32(payload));
    expectRefused(frameBodyWithCrc(payload, swapped.readUInt32LE()), 'CRC_MISMATCH');
    expect(decodeFrame(frameBodyWithCrc(payload, crc32(payload)))).toEqual({ ok: true, payload });
  });

  it('refuses every single-bit flip of a frame, at every bit position', () => {
    let flips = 0;
    for (const frame of sampleFrames) {
      const original = body(frame);
      for (let bit = 0; bit < original.length * 8; bit++) {
        const mutated = original.slice();
        mutated[bit >> 3] = (mutated[bit >> 3] as number) ^ (1 << (bit & 7));
        const result = decodeFrame(mutated);
        if (result.ok) throw new Error(`bit ${bit} flip of a ${frame.length}-byte frame accepted`);
        flips++;
      }
    }
    expect(flips).toBe(sampleFrames.reduce((sum, f) => sum + (f.length - 1) * 8, 0));
  });

  it('refuses every truncation and every single-byte deletion', () => {
    for (const frame of sampleFrames) {
      const original = body(frame);
      for (let length = 0; length < original.length; length++) expectRefused(original.subarray(0, length));
      for (let at = 0; at < original.length; at++) {
        expectRefused(Uint8Array.from([...original.subarray(0, at), ...original.subarray(at + 1)]));
      }
    }
  });

  it('never throws on arbitrary bytes (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const result = decodeFrame(bytes);
        if (result.ok) expect(result.payload.length).toBeGreaterThan(0);
        else expect(FRAME_ERRORS).toContain(result.error);
      }),
      { numRuns: 3000 },
    );
  });
});
