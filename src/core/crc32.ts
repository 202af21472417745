/**
 * CRC-32 (IEEE 802.3, as zlib and Ethernet): reflected polynomial 0xEDB88320,
 * initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF. check("123456789") = 0xCBF43926.
 * Used for frame integrity and for controller-state digests; the C firmware uses
 * the same table-driven form.
 */
const table = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  table[n] = c >>> 0;
}
// Slicing-by-4 (the same CRC, four bytes per step): tableK[n] is the register after byte n and
// then K zero bytes. Used for the per-tick digests, where the input is a few 32-bit words.
const table1 = new Uint32Array(256);
const table2 = new Uint32Array(256);
const table3 = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  table1[n] = ((table[n] as number) >>> 8) ^ (table[(table[n] as number) & 0xff] as number);
  table2[n] = ((table1[n] as number) >>> 8) ^ (table[(table1[n] as number) & 0xff] as number);
  table3[n] = ((table2[n] as number) >>> 8) ^ (table[(table2[n] as number) & 0xff] as number);
}

/**
 * The CRC register, for callers that feed fields instead of a buffer: start with CRC32_REGISTER_START,
 * feed bytes and little-endian words, finish with crc32Finish. Equal to crc32 over the same bytes.
 */
export const CRC32_REGISTER_START = 0xffffffff;

export function crc32FeedByte(register: number, byte: number): number {
  return ((table[(register ^ byte) & 0xff] as number) ^ (register >>> 8)) >>> 0;
}

/** Feeds a uint32 as its four little-endian bytes. */
export function crc32FeedU32Le(register: number, word: number): number {
  const c = (register ^ word) >>> 0;
  return ((table3[c & 0xff] as number) ^ (table2[(c >>> 8) & 0xff] as number) ^ (table1[(c >>> 16) & 0xff] as number) ^ (table[c >>> 24] as number)) >>> 0;
}

export function crc32Finish(register: number): number {
  return (register ^ 0xffffffff) >>> 0;
}

/** Continues a running CRC (as crc32Update) with a uint32's four little-endian bytes. */
export function crc32UpdateU32Le(crcPrevious: number, word: number): number {
  return crc32Finish(crc32FeedU32Le((crcPrevious ^ 0xffffffff) >>> 0, word));
}

/** Continue a running CRC (pass the previous result; start from 0). */
export function crc32Update(crcPrevious: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = (crcPrevious ^ 0xffffffff) >>> 0;
  for (let i = start; i < end; i++) {
    c = (table[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return crc32Update(0, bytes, start, end);
}
