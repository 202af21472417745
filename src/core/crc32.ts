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
