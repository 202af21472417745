/**
 * Framing. On the wire one frame is
 *
 *   COBS(payload ++ crc32(payload) as 4 bytes little-endian) ++ 0x00
 *
 * CRC-32 is the IEEE/zlib one from core/crc32.ts, computed over the payload only. The payload is
 * 1..LIMITS.payloadBytesMax bytes (an empty payload is never a message), and a whole frame,
 * delimiter included, is at most LIMITS.frameBytesMax bytes. The receiver splits the stream on
 * 0x00 (bounded-delimiter-parser.ts) and hands each frame without its delimiter to decodeFrame.
 */
import { assert, fail } from '../core/assert.js';
import { crc32 } from '../core/crc32.js';
import { cobsDecode, cobsEncode, cobsEncodedSizeMax } from './cobs.js';
import { LIMITS } from './messages.js';

/** Why a received frame was refused. Named codes; they end up in counters and logs verbatim. */
export type FrameError =
  /** Zero bytes between two delimiters (the splitter normally swallows these). */
  | 'EMPTY'
  /** More bytes than a frame of LIMITS.frameBytesMax may have, before or after COBS decoding. */
  | 'TOO_LONG'
  /** Not valid COBS: a 0x00 inside, or a code byte pointing past the end. */
  | 'COBS_INVALID'
  /** Decoded to fewer than 1 payload byte + 4 CRC bytes. */
  | 'TOO_SHORT'
  /** The CRC-32 does not match the payload. */
  | 'CRC_MISMATCH';

export const FRAME_ERRORS: readonly FrameError[] = ['EMPTY', 'TOO_LONG', 'COBS_INVALID', 'TOO_SHORT', 'CRC_MISMATCH'];

export type FrameDecodeResult = { ok: true; payload: Uint8Array } | { ok: false; error: FrameError };

export const FRAME_CRC_BYTES = 4;
export const FRAME_DELIMITER = 0x00;
/** Bytes of one frame as decodeFrame receives it: everything but the delimiter. */
export const FRAME_BODY_BYTES_MAX = LIMITS.frameBytesMax - 1;
/** Bytes of a COBS-decoded frame body (payload + CRC) that decodeFrame accepts. */
const DECODED_BYTES_MAX = LIMITS.payloadBytesMax + FRAME_CRC_BYTES;

// Checked once at load: the largest payload always fits in a frame.
assert(
  cobsEncodedSizeMax(DECODED_BYTES_MAX) + 1 <= LIMITS.frameBytesMax,
  'LIMITS: payloadBytesMax + CRC does not fit in frameBytesMax after COBS',
);

// Scratch for one frame at a time. Every function here is synchronous and copies results out,
// so sharing these is safe.
const encodeScratchIn = new Uint8Array(DECODED_BYTES_MAX);
const encodeScratchOut = new Uint8Array(LIMITS.frameBytesMax);
const decodeScratch = new Uint8Array(FRAME_BODY_BYTES_MAX);

/**
 * Frame a payload. Returns a fresh array including the trailing 0x00.
 * An empty or over-long payload is our bug (assertion).
 */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  const payloadBytes = payload.length;
  assert(payloadBytes >= 1, 'encodeFrame: empty payload');
  if (!(payloadBytes <= LIMITS.payloadBytesMax)) fail(`encodeFrame: payload of ${payloadBytes} bytes > ${LIMITS.payloadBytesMax}`);
  encodeScratchIn.set(payload, 0);
  const crc = crc32(payload);
  encodeScratchIn[payloadBytes] = crc & 0xff;
  encodeScratchIn[payloadBytes + 1] = (crc >>> 8) & 0xff;
  encodeScratchIn[payloadBytes + 2] = (crc >>> 16) & 0xff;
  encodeScratchIn[payloadBytes + 3] = (crc >>> 24) & 0xff;
  const bodyBytes = cobsEncode(encodeScratchIn.subarray(0, payloadBytes + FRAME_CRC_BYTES), encodeScratchOut);
  encodeScratchOut[bodyBytes] = FRAME_DELIMITER;
  const frame = encodeScratchOut.slice(0, bodyBytes + 1);
  if (!(frame.length <= LIMITS.frameBytesMax)) fail(`encodeFrame: frame of ${frame.length} bytes > ${LIMITS.frameBytesMax}`);
  return frame;
}

/**
 * Unframe into `out` without allocating: returns the payload length (payload in out[0..length)),
 * or the reason the frame is refused. `bytes` excludes the delimiter. `out` must hold
 * FRAME_BODY_BYTES_MAX bytes (it also receives the CRC while checking). Never throws on any
 * input bytes.
 */
export function decodeFrameInto(bytes: Uint8Array, out: Uint8Array): number | FrameError {
  assert(out.length >= FRAME_BODY_BYTES_MAX, 'decodeFrameInto: output buffer too small');
  const bodyBytes = bytes.length;
  if (bodyBytes === 0) return 'EMPTY';
  if (bodyBytes > FRAME_BODY_BYTES_MAX) return 'TOO_LONG';
  // COBS never expands, so a body of <= FRAME_BODY_BYTES_MAX always fits in `out`.
  const decodedBytes = cobsDecode(bytes, out);
  if (decodedBytes < 0) return 'COBS_INVALID';
  if (decodedBytes > DECODED_BYTES_MAX) return 'TOO_LONG';
  if (decodedBytes < 1 + FRAME_CRC_BYTES) return 'TOO_SHORT';
  const payloadBytes = decodedBytes - FRAME_CRC_BYTES;
  const crcReceived =
    ((out[payloadBytes] as number) |
      ((out[payloadBytes + 1] as number) << 8) |
      ((out[payloadBytes + 2] as number) << 16) |
      ((out[payloadBytes + 3] as number) << 24)) >>>
    0;
  if (crc32(out, 0, payloadBytes) !== crcReceived) return 'CRC_MISMATCH';
  return payloadBytes;
}

/** Unframe one frame (without its delimiter). The payload is a fresh copy. Never throws. */
export function decodeFrame(bytes: Uint8Array): FrameDecodeResult {
  const result = decodeFrameInto(bytes, decodeScratch);
  if (typeof result !== 'number') return { ok: false, error: result };
  return { ok: true, payload: decodeScratch.slice(0, result) };
}
