import { fail } from './assert.js';

/**
 * The only source of randomness in tmr: a seeded xoshiro128** generator (Blackman & Vigna),
 * state expanded from a 32-bit seed with splitmix32. All arithmetic is 32-bit (Math.imul,
 * unsigned shifts), so a C implementation reproduces every draw. Used only by simulation,
 * fault injection and test-vector generation; the control path never draws.
 */
/** MurmurHash3's fmix32 finaliser: the output function of splitmix32. */
export function fmix32(value: number): number {
  let z = value >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** One splitmix32 step from state x: fmix32(x + 0x9E3779B9). */
export function splitmix32(x: number): number {
  return fmix32((x + 0x9e3779b9) >>> 0);
}

/** Mixes a seed with a stream id so each consumer (plant noise, replica 2's babble, …) has its own stream. */
export function deriveSeed(seed: number, streamId: number): number {
  return splitmix32((splitmix32(seed >>> 0) ^ Math.imul(streamId >>> 0, 0x9e3779b1)) >>> 0);
}

/** nextBelow is exact only while u32 · bound < 2^53. */
export const NEXT_BELOW_BOUND_MAX = 1 << 21;

export class Prng {
  private readonly s = new Uint32Array(4);

  constructor(seed: number) {
    // Textbook splitmix32 stream: state += golden ratio, output fmix32(state).
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      this.s[i] = fmix32(x);
    }
    if ((this.s[0]! | this.s[1]! | this.s[2]! | this.s[3]!) === 0) this.s[0] = 1;
  }

  /** Uniform in [0, 2^32). */
  nextU32(): number {
    const s = this.s;
    const s0 = s[0]!, s1 = s[1]!, s2 = s[2]!, s3 = s[3]!;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    const n2 = (s2 ^ s0) >>> 0;
    const n3 = (s3 ^ s1) >>> 0;
    s[1] = s1 ^ n2;
    s[0] = s0 ^ n3;
    s[2] = n2 ^ t;
    s[3] = (n3 << 11) | (n3 >>> 21);
    return result;
  }

  /** Uniform-ish in [0, bound) for 0 < bound <= 2^21 (exact multiply-high; bias below 2^-11). */
  nextBelow(bound: number): number {
    if (!(bound > 0 && bound <= NEXT_BELOW_BOUND_MAX)) fail(`nextBelow bound ${bound} outside 1..2^21`);
    return Math.floor((this.nextU32() * bound) / 0x1_0000_0000);
  }

  /** Integer in [lo, hi], both inclusive, hi - lo < 2^21. */
  nextIntInclusive(lo: number, hi: number): number {
    return lo + this.nextBelow(hi - lo + 1);
  }
}
