/**
 * Seeded line noise for one direction of a serial line: each bit flips with probability
 * `bitErrorRate`; each byte is dropped with probability `dropRate`, and a random byte is inserted
 * after it with probability `insertRate`. Probabilities are compared as 32-bit fixed point against
 * the PRNG, so the same seed always damages the same bytes.
 */
import { assert } from '../src/core/assert.js';
import { Prng } from '../src/core/prng.js';

export interface LineNoiseConfig {
  readonly bitErrorRate: number;
  readonly dropRate: number;
  readonly insertRate: number;
  readonly seed: number;
}

export interface LineNoiseCounters {
  bytesIn: number;
  bytesOut: number;
  bitsFlipped: number;
  bytesDropped: number;
  bytesInserted: number;
}

const TWO_POW_32 = 0x1_0000_0000;

export class LineNoise {
  readonly counters: LineNoiseCounters = { bytesIn: 0, bytesOut: 0, bitsFlipped: 0, bytesDropped: 0, bytesInserted: 0 };
  private readonly prng: Prng;
  private readonly flipThreshold: number;
  private readonly dropThreshold: number;
  private readonly insertThreshold: number;

  constructor(config: LineNoiseConfig) {
    for (const [name, rate] of [['bitErrorRate', config.bitErrorRate], ['dropRate', config.dropRate], ['insertRate', config.insertRate]] as const) {
      assert(Number.isFinite(rate) && rate >= 0 && rate <= 0.5, `${name} must be in [0, 0.5]`);
    }
    this.prng = new Prng(config.seed);
    this.flipThreshold = Math.floor(config.bitErrorRate * TWO_POW_32);
    this.dropThreshold = Math.floor(config.dropRate * TWO_POW_32);
    this.insertThreshold = Math.floor(config.insertRate * TWO_POW_32);
  }

  /** Returns the chunk as it arrives at the far end. Output is at most twice the input. */
  apply(chunk: Uint8Array): Uint8Array {
    const out = new Uint8Array(chunk.length * 2);
    let n = 0;
    for (let i = 0; i < chunk.length; i++) {
      let byte = chunk[i] as number;
      if (this.flipThreshold > 0) {
        for (let bit = 0; bit < 8; bit++) {
          if (this.prng.nextU32() < this.flipThreshold) {
            byte ^= 1 << bit;
            this.counters.bitsFlipped++;
          }
        }
      }
      if (this.dropThreshold > 0 && this.prng.nextU32() < this.dropThreshold) this.counters.bytesDropped++;
      else out[n++] = byte;
      if (this.insertThreshold > 0 && this.prng.nextU32() < this.insertThreshold) {
        out[n++] = this.prng.nextBelow(256);
        this.counters.bytesInserted++;
      }
    }
    this.counters.bytesIn += chunk.length;
    this.counters.bytesOut += n;
    return out.subarray(0, n);
  }
}
