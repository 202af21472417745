/**
 * Consistent Overhead Byte Stuffing (Cheshire & Baker, IEEE/ACM ToN 1999), the standard form:
 * the output is a sequence of groups, each a code byte c (1..255) followed by c - 1 non-zero data
 * bytes. A group with c < 255 stands for its data bytes followed by one zero; a group with
 * c = 255 stands for 254 data bytes and no zero. The zero implied by the last group is dropped.
 * The encoding never contains 0x00, so 0x00 can delimit frames (frame.ts adds it; not done here).
 *
 * The encoder emits the canonical form (as Wikipedia's reference code does): when the input ends
 * exactly after a 255 group, no extra empty group is appended. The decoder also accepts that
 * redundant trailing 0x01 group, which decodes to the same bytes.
 *
 * Both functions work into caller-owned buffers and allocate nothing.
 */
import { assert, fail } from '../core/assert.js';

/** Data bytes carried by a full group (code 0xFF). */
const GROUP_DATA_BYTES_MAX = 254;

/**
 * Exact worst-case encoded size for n input bytes: 1 for the empty input, otherwise
 * n + ceil(n / 254). The worst case is an input with no zero at all; each zero in the input turns
 * into a code byte instead of adding one, so zeros never make the output longer.
 */
export function cobsEncodedSizeMax(inputBytes: number): number {
  if (!(Number.isInteger(inputBytes) && inputBytes >= 0)) fail(`cobsEncodedSizeMax: bad size ${inputBytes}`);
  return inputBytes === 0 ? 1 : inputBytes + Math.ceil(inputBytes / GROUP_DATA_BYTES_MAX);
}

/**
 * Encode `input` into `out` (no delimiter). Returns the encoded length.
 * `out` must hold cobsEncodedSizeMax(input.length) bytes: a smaller buffer is our bug.
 */
export function cobsEncode(input: Uint8Array, out: Uint8Array): number {
  const inputBytes = input.length;
  if (!(out.length >= cobsEncodedSizeMax(inputBytes))) fail(`cobsEncode: output of ${out.length} bytes too small for ${inputBytes}`);
  let codeIndex = 0; // where the current group's code byte goes
  let outIndex = 1;
  let code = 1; // 1 + data bytes in the current group
  for (let inIndex = 0; inIndex < inputBytes; inIndex++) {
    const byte = input[inIndex] as number;
    if (byte === 0) {
      out[codeIndex] = code;
      codeIndex = outIndex++;
      code = 1;
      continue;
    }
    out[outIndex++] = byte;
    code++;
    if (code === 0xff) {
      out[codeIndex] = code;
      code = 1;
      // A full group at the very end needs no following group (canonical form).
      if (inIndex === inputBytes - 1) return outIndex;
      codeIndex = outIndex++;
    }
  }
  out[codeIndex] = code;
  assert(outIndex <= cobsEncodedSizeMax(inputBytes), 'cobsEncode: exceeded the size bound');
  return outIndex;
}

/**
 * Decode `input` (one encoded frame, no delimiter) into `out`. Returns the decoded length, or -1
 * if the input is malformed: empty, contains 0x00, has a code byte pointing past the end, or
 * decodes to more than out.length bytes. Never throws; reads and writes stay within bounds.
 */
export function cobsDecode(input: Uint8Array, out: Uint8Array): number {
  const inputBytes = input.length;
  const outBytesMax = out.length;
  if (inputBytes === 0) return -1;
  let inIndex = 0;
  let outIndex = 0;
  // Bounded: every iteration consumes at least the code byte.
  while (inIndex < inputBytes) {
    const code = input[inIndex++] as number;
    if (code === 0) return -1;
    const groupEnd = inIndex + code - 1;
    if (groupEnd > inputBytes) return -1;
    if (outIndex + code - 1 > outBytesMax) return -1;
    while (inIndex < groupEnd) {
      const byte = input[inIndex++] as number;
      if (byte === 0) return -1;
      out[outIndex++] = byte;
    }
    if (code !== 0xff && inIndex < inputBytes) {
      if (outIndex >= outBytesMax) return -1;
      out[outIndex++] = 0;
    }
  }
  return outIndex;
}
