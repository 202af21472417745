/**
 * The shipped law pid-q16 (version 2), through its definition: init / step / serialize /
 * deserialize, paramsForRate, and the LoadedLaw that derives its digest. Hand-computed integers
 * for each term, the state bytes against a layout decoded here with DataView, and the arithmetic
 * against a BigInt reference with C int64_t semantics over the full declared ranges.
 */
import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isInt32 } from '../../src/core/assert.js';
import { Prng } from '../../src/core/prng.js';
import { shippedLaw } from '../../src/law/law-loader.js';
import { drawInputs, resetWalk } from '../../src/law/law-runtime.js';
import pid from '../../src/laws/pid-q16/law.js';

type PidState = ReturnType<typeof pid.init>;
const loaded = shippedLaw('pid-q16');
const Q16 = 65_536;
const STATE_SIZE_BYTES = 10;
const STATE_FORMAT = 2;

interface Params {
  readonly kpQ16: number;
  readonly kiQ16: number;
  readonly kdQ16: number;
  readonly outputLimitMv: number;
}

/** What the 10 state bytes hold: [2, integral i32 LE, previous position i32 LE, primed]. */
interface Dynamic {
  integralQ16: number;
  previousPositionMilliDeg: number;
  primed: number;
}

// The declaration, read once: every range below comes from it, and this test pins it.
const [KP, KI, KD, LIMIT] = pid.params;
const [SETPOINT, POSITION] = pid.inputs;
const M = 2 ** 19;

function params(kpQ16: number, kiQ16: number, kdQ16: number, outputLimitMv: number): Params {
  return { kpQ16, kiQ16, kdQ16, outputLimitMv };
}

function paramArray(p: Params): Int32Array {
  return Int32Array.of(p.kpQ16, p.kiQ16, p.kdQ16, p.outputLimitMv);
}

function encode(d: Dynamic, format = STATE_FORMAT): Uint8Array {
  const bytes = new Uint8Array(STATE_SIZE_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, format);
  view.setInt32(1, d.integralQ16, true);
  view.setInt32(5, d.previousPositionMilliDeg, true);
  view.setUint8(9, d.primed);
  return bytes;
}

function bytesOf(state: PidState): Uint8Array {
  const bytes = new Uint8Array(STATE_SIZE_BYTES);
  pid.serialize(state, bytes);
  return bytes;
}

/** The state's dynamic part, decoded from serialize()'s bytes (and the format byte checked). */
function dynamicOf(state: PidState): Dynamic {
  const bytes = bytesOf(state);
  const view = new DataView(bytes.buffer);
  expect(view.getUint8(0)).toBe(STATE_FORMAT);
  return { integralQ16: view.getInt32(1, true), previousPositionMilliDeg: view.getInt32(5, true), primed: view.getUint8(9) };
}

/** A state with these parameters and this dynamic part, built through init and deserialize. */
function stateAt(p: Params, d: Dynamic): PidState {
  const state = pid.init(paramArray(p));
  const refused = pid.deserialize(state, encode(d));
  if (refused !== null) throw new Error(`test setup: ${JSON.stringify(d)} refused: ${refused}`);
  return state;
}

function primedAt(p: Params, positionMilliDeg: number, integralQ16 = 0): PidState {
  return stateAt(p, { integralQ16, previousPositionMilliDeg: positionMilliDeg, primed: 1 });
}

/** Runs one step; returns [command, rate]. */
function step(state: PidState, setpointMilliDeg: number, positionMilliDeg: number): [number, number] {
  const outputs = new Int32Array(2);
  pid.step(state, Int32Array.of(setpointMilliDeg, positionMilliDeg), outputs);
  return [outputs[0]!, outputs[1]!];
}

describe('the declaration', () => {
  it('declares the ranges the overflow analysis assumes', () => {
    expect([pid.name, pid.version, pid.stateSizeBytes]).toEqual(['pid-q16', 2, STATE_SIZE_BYTES]);
    expect(pid.params.map((p) => [p.name, p.min, p.max])).toEqual([
      ['kpQ16', 0, 2 ** 24 - 1],
      ['kiQ16', 0, 2 ** 24 - 1],
      ['kdQ16', 0, 2 ** 26 - 1],
      ['outputLimitMv', 1, 2 ** 15 - 1],
    ]);
    expect(pid.inputs.map((c) => [c.name, c.min, c.max])).toEqual([
      ['setpointMilliDeg', -M, M],
      ['positionMilliDeg', -M, M],
    ]);
    expect(pid.outputs.map((c) => [c.name, c.min, c.max, c.safe, c.vote])).toEqual([
      ['commandMv', -(2 ** 15 - 1), 2 ** 15 - 1, 0, 'exact'],
      ['rateMilliDegPerTick', -(2 ** 20), 2 ** 20, 0, 'mid-value'],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Unit behaviour with hand-computed integers.
// ---------------------------------------------------------------------------------------------

describe('step, proportional only', () => {
  it('commands kp * error', () => {
    const p = params(Q16, 0, 0, 12_000);
    expect(step(primedAt(p, 0), 100, 0)).toEqual([100, 0]);
    expect(step(primedAt(p, 0), 0, 100)).toEqual([-100, 100]);
  });

  it('rounds toward minus infinity: -1.5 mV becomes -2, +1.5 mV becomes 1', () => {
    const half = params(Q16 / 2, 0, 0, 12_000);
    expect(step(primedAt(half, 0), 3, 0)[0]).toBe(1);
    expect(step(primedAt(half, 0), -3, 0)[0]).toBe(-2);
    expect(step(primedAt(half, 0), 1, 0)[0]).toBe(0);
    expect(step(primedAt(half, 0), -1, 0)[0]).toBe(-1);
    const kp06 = params(39_322, 0, 0, 12_000); // 0.6000061 mV/m°
    expect(step(primedAt(kp06, 0), 1_000, 0)[0]).toBe(600); // 600.006
    expect(step(primedAt(kp06, 0), -1_000, 0)[0]).toBe(-601); // -600.006
  });
});

describe('step, integral only', () => {
  it('accumulates ki * error per tick, floored', () => {
    const p = params(0, Q16 / 4, 0, 12_000);
    const up = pid.init(paramArray(p));
    expect([1, 2, 3, 4].map(() => step(up, 2, 0)[0])).toEqual([0, 1, 1, 2]);
    expect(dynamicOf(up).integralQ16).toBe(4 * 2 * (Q16 / 4));
    const down = pid.init(paramArray(p));
    expect([1, 2, 3, 4].map(() => step(down, -2, 0)[0])).toEqual([-1, -1, -2, -2]);
    expect(dynamicOf(down).integralQ16).toBe(-131_072);
  });

  it('clamps the integral at +/- outputLimitMv * 2^16 even when not saturating', () => {
    const state = pid.init(paramArray(params(0, 1_000 * Q16, 0, 100)));
    expect(step(state, 1, 0)[0]).toBe(100);
    expect(dynamicOf(state).integralQ16).toBe(100 * Q16);
    expect(step(state, -1, 0)[0]).toBe(-100);
    expect(dynamicOf(state).integralQ16).toBe(-100 * Q16);
  });
});

describe('step, derivative only', () => {
  it('acts on the measured position change, -kd * delta', () => {
    const state = pid.init(paramArray(params(0, 0, 2 * Q16, 12_000)));
    expect(step(state, 777, 0)).toEqual([0, 0]);
    expect(step(state, -5, 5)).toEqual([-10, 5]);
    expect(step(state, 123_456, 2)).toEqual([6, -3]);
  });

  it('floors fractional derivative commands', () => {
    const p = params(0, 0, (3 * Q16) / 2, 12_000);
    expect(step(primedAt(p, 0), 0, 1)).toEqual([-2, 1]); // -1.5
    expect(step(primedAt(p, 0), 0, -1)).toEqual([1, -1]); // +1.5
  });

  it('has no kick on a setpoint step (derivative on measurement)', () => {
    const state = primedAt(params(Q16, 0, 100 * Q16, 30_000), 0);
    expect(step(state, 0, 0)).toEqual([0, 0]);
    expect(step(state, 10_000, 0)).toEqual([10_000, 0]); // derivative on error would add 1,000,000
    expect(step(state, 10_000, 10)).toEqual([10_000 - 10 - 100 * 10, 10]);
  });
});

describe('step, first step', () => {
  it('starts from integral 0, not primed', () => {
    expect(dynamicOf(pid.init(paramArray(params(Q16, Q16, Q16, 1_000))))).toEqual({ integralQ16: 0, previousPositionMilliDeg: 0, primed: 0 });
  });

  it('has no derivative term and no rate before it is primed, whatever the stored position', () => {
    const p = params(0, 0, Q16, 12_000);
    const state = stateAt(p, { integralQ16: 0, previousPositionMilliDeg: 5_000, primed: 0 });
    expect(step(state, 0, 0)).toEqual([0, 0]);
    expect(dynamicOf(state)).toEqual({ integralQ16: 0, previousPositionMilliDeg: 0, primed: 1 });
    expect(step(state, 0, 3)).toEqual([-3, 3]);
    expect(dynamicOf(state)).toEqual({ integralQ16: 0, previousPositionMilliDeg: 3, primed: 1 });
    expect(step(primedAt(p, 5_000), 0, 0)).toEqual([5_000, -5_000]);
  });
});

describe('step, saturation and anti-windup', () => {
  it('saturates on both sides', () => {
    const p = params(Q16, 0, 0, 100);
    const commands = [100, 101, 1_000, M, -100, -101, -1_000, -M].map((e) => step(primedAt(p, 0), e, 0)[0]);
    expect(commands).toEqual([100, 100, 100, 100, -100, -100, -100, -100]);
    const half = params(Q16 / 2, 0, 0, 100);
    expect(step(primedAt(half, 0), 201, 0)[0]).toBe(100); // 100.5
    expect(step(primedAt(half, 0), -201, 0)[0]).toBe(-100); // -100.5 floors to -101, then clamps
  });

  it('holds the integral while saturated in the direction it would grow, resumes on a sign change', () => {
    const p = params(Q16, Q16, 0, 1_000);
    for (const sign of [1, -1]) {
      const state = pid.init(paramArray(p));
      const trace = [300, 300, 300, 300, 500, -100].map((e) => {
        const [command] = step(state, sign * e, 0);
        return [command, dynamicOf(state).integralQ16 / Q16];
      });
      expect(trace).toEqual(
        [[600, 300], [900, 600], [900, 600], [900, 600], [1_000, 600], [400, 500]].map(([c, i]) => [sign * c!, sign * i!]),
      );
    }
  });

  it('lets the integral unwind while saturated the other way', () => {
    // u is far above the limit through the derivative, but the error is negative: integrate.
    const state = primedAt(params(0, Q16, 10 * Q16, 1_000), 0, 500 * Q16);
    expect(step(state, -300, -200)).toEqual([1_000, -200]);
    expect(dynamicOf(state).integralQ16).toBe(400 * Q16);
  });

  it('holds the integral one LSB below the limit (the clamped candidate still grows)', () => {
    const state = primedAt(params(Q16, Q16, 0, 1_000), 0, 1_000 * Q16 - 1);
    expect(step(state, 10, 0)).toEqual([1_000, 0]);
    expect(dynamicOf(state).integralQ16).toBe(1_000 * Q16 - 1);
  });

  it('commands exactly the limit when u equals the limit (not saturated)', () => {
    const p = params(0, 0, 0, 1_000);
    expect(step(primedAt(p, 0, 1_000 * Q16), 0, 0)[0]).toBe(1_000);
    expect(step(primedAt(p, 0, -1_000 * Q16), 0, 0)[0]).toBe(-1_000);
    expect(step(primedAt(p, 0, -1), 0, 0)[0]).toBe(-1);
  });
});

// ---------------------------------------------------------------------------------------------
// State serialisation and digest.
// ---------------------------------------------------------------------------------------------

const withExtremes = (min: number, max: number, ...more: number[]): fc.Arbitrary<number> =>
  fc.oneof(fc.constantFrom(min, max, ...more), fc.integer({ min, max }));
const setpointArb = withExtremes(SETPOINT!.min, SETPOINT!.max, 0, 1, -1, SETPOINT!.max - 1, SETPOINT!.min + 1);
const positionArb = withExtremes(POSITION!.min, POSITION!.max, 0, 1, -1, POSITION!.max - 1, POSITION!.min + 1);
const paramsArb: fc.Arbitrary<Params> = fc.record({
  kpQ16: withExtremes(KP!.min, KP!.max, 1, KP!.default),
  kiQ16: withExtremes(KI!.min, KI!.max, 1, KI!.default),
  kdQ16: withExtremes(KD!.min, KD!.max, 1, KD!.default),
  outputLimitMv: withExtremes(LIMIT!.min, LIMIT!.max, LIMIT!.default),
});
/** Every valid dynamic part for an output limit: the integral within ±limit·2^16, a position in range, primed or not. */
const dynamicArb = (outputLimitMv: number): fc.Arbitrary<Dynamic> => {
  const limitQ16 = outputLimitMv * Q16;
  return fc.record({
    integralQ16: withExtremes(-limitQ16, limitQ16, 0, limitQ16 - 1, -limitQ16 + 1),
    previousPositionMilliDeg: positionArb,
    primed: fc.constantFrom(0, 1),
  });
};
const paramsAndDynamicArb = paramsArb.chain((p) => fc.tuple(fc.constant(p), dynamicArb(p.outputLimitMv)));

describe('state serialisation', () => {
  it('round-trips every valid state, in the documented byte layout', () => {
    fc.assert(
      fc.property(paramsAndDynamicArb, ([p, d]) => {
        const state = pid.init(paramArray(p));
        expect(pid.deserialize(state, encode(d))).toBeNull();
        expect(Array.from(bytesOf(state))).toEqual(Array.from(encode(d)));
        expect(dynamicOf(state)).toEqual(d);
      }),
      { numRuns: 500 },
    );
  });

  it('carries everything step() depends on: a state moved through its bytes continues identically', () => {
    fc.assert(
      fc.property(
        paramsAndDynamicArb,
        fc.array(fc.tuple(setpointArb, positionArb), { minLength: 1, maxLength: 8 }),
        ([p, d], steps) => {
          const original = stateAt(p, d);
          step(original, steps[0]![0], steps[0]![1]);
          const moved = pid.init(paramArray(p));
          expect(pid.deserialize(moved, bytesOf(original))).toBeNull();
          for (const [setpoint, position] of steps.slice(1)) {
            expect(step(moved, setpoint, position)).toEqual(step(original, setpoint, position));
            expect(Array.from(bytesOf(moved))).toEqual(Array.from(bytesOf(original)));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses malformed bytes with the reason and leaves the target untouched', () => {
    const p = params(Q16, Q16, Q16, 1_000);
    const limitQ16 = 1_000 * Q16;
    const ok: Dynamic = { integralQ16: 0, previousPositionMilliDeg: 0, primed: 1 };
    const cases: [Uint8Array, string][] = [
      [encode(ok, 0), 'state format 0, expected 2'],
      [encode(ok, 1), 'state format 1, expected 2'],
      [encode(ok, 3), 'state format 3, expected 2'],
      [encode(ok, 255), 'state format 255, expected 2'],
      [encode({ ...ok, integralQ16: limitQ16 + 1 }), 'integral beyond the output limit'],
      [encode({ ...ok, integralQ16: -limitQ16 - 1 }), 'integral beyond the output limit'],
      [encode({ ...ok, integralQ16: -0x8000_0000 }), 'integral beyond the output limit'],
      [encode({ ...ok, integralQ16: 0x7fff_ffff }), 'integral beyond the output limit'],
      [encode({ ...ok, previousPositionMilliDeg: M + 1 }), 'previous position out of range'],
      [encode({ ...ok, previousPositionMilliDeg: -M - 1 }), 'previous position out of range'],
      [encode({ ...ok, previousPositionMilliDeg: 0x7fff_ffff }), 'previous position out of range'],
      [encode({ ...ok, previousPositionMilliDeg: -0x8000_0000 }), 'previous position out of range'],
      [encode({ ...ok, primed: 2 }), 'primed flag is not 0 or 1'],
      [encode({ ...ok, primed: 255 }), 'primed flag is not 0 or 1'],
    ];
    const target: Dynamic = { integralQ16: 7, previousPositionMilliDeg: 8, primed: 1 };
    for (const [bytes, reason] of cases) {
      const state = stateAt(p, target);
      const before = structuredClone(state);
      expect(pid.deserialize(state, bytes)).toBe(reason);
      expect(state).toEqual(before);
      expect(dynamicOf(state)).toEqual(target);
    }
    // The ends of every range are accepted.
    for (const d of [
      { integralQ16: limitQ16, previousPositionMilliDeg: M, primed: 1 },
      { integralQ16: -limitQ16, previousPositionMilliDeg: -M, primed: 0 },
    ]) {
      expect(pid.deserialize(pid.init(paramArray(p)), encode(d))).toBeNull();
    }
  });

  it('judges the integral against the parameters it is loaded under', () => {
    const bytes = encode({ integralQ16: 101 * Q16, previousPositionMilliDeg: 0, primed: 1 });
    expect(pid.deserialize(pid.init(paramArray(params(0, 0, 0, 101))), bytes)).toBeNull();
    expect(pid.deserialize(pid.init(paramArray(params(0, 0, 0, 100))), bytes)).toBe('integral beyond the output limit');
  });

  it('the digest is the CRC-32 of the 10 state bytes and changes when any single field changes', () => {
    const fields = ['integralQ16', 'previousPositionMilliDeg', 'primed'] as const;
    fc.assert(
      fc.property(paramsAndDynamicArb, fc.constantFrom(...fields), fc.nat(), ([p, d], field, draw) => {
        const state = stateAt(p, d);
        expect(loaded.digest(state)).toBe(zlibCrc32(encode(d)));
        expect(Array.from(loaded.stateBytes(state))).toEqual(Array.from(encode(d)));
        const limitQ16 = p.outputLimitMv * Q16;
        const span = { integralQ16: 2 * limitQ16 + 1, previousPositionMilliDeg: 2 * M + 1, primed: 2 }[field];
        const low = { integralQ16: -limitQ16, previousPositionMilliDeg: -M, primed: 0 }[field];
        // Any other valid value: offset by 1 + (draw mod (span - 1)), wrapping within the field's range.
        const changed: Dynamic = { ...d, [field]: low + ((d[field] - low + 1 + (draw % (span - 1))) % span) };
        expect(changed[field]).not.toBe(d[field]);
        expect(loaded.digest(stateAt(p, changed))).not.toBe(loaded.digest(state));
      }),
      { numRuns: 1_000 },
    );
  });

  it('the digest of a fresh state is pinned', () => {
    // CRC-32 of 02 00 00 00 00 00 00 00 00 00.
    expect(loaded.digest(pid.init(loaded.paramsForRate(500)))).toBe(0xe77fb84b);
    expect(zlibCrc32(Buffer.from([2, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toBe(0xe77fb84b);
  });
});

// ---------------------------------------------------------------------------------------------
// Physical gains: 1.8 mV/m°, 2 mV/(m°·s), 0.045 mV·s/m°, 12000 mV, per tick in Q16.16.
// ---------------------------------------------------------------------------------------------

describe('paramsForRate', () => {
  it('gives the integers the v1 lawParamsForRate gave, rounded to nearest', () => {
    // kp = 1.8·2^16 = 117964.8; ki = 2/rate·2^16; kd = 0.045·rate·2^16.
    const expected: Record<number, number[]> = {
      50: [117_965, 2_621, 147_456, 12_000], // ki 2621.44
      100: [117_965, 1_311, 294_912, 12_000], // ki 1310.72
      200: [117_965, 655, 589_824, 12_000], // ki 655.36
      333: [117_965, 394, 982_057, 12_000], // ki 393.6096, kd 982056.96
      500: [117_965, 262, 1_474_560, 12_000], // ki 262.144
      1_000: [117_965, 131, 2_949_120, 12_000], // ki 131.072
      2_000: [117_965, 66, 5_898_240, 12_000], // ki 65.536
    };
    for (const [rateHz, list] of Object.entries(expected)) {
      expect({ rateHz, params: pid.paramsForRate?.(Number(rateHz)) }).toEqual({ rateHz, params: list });
      expect(Array.from(loaded.paramsForRate(Number(rateHz)))).toEqual(list);
    }
  });

  it('declares the 200 Hz parameters as its defaults', () => {
    expect(pid.params.map((p) => p.default)).toEqual([117_965, 655, 589_824, 12_000]);
  });

  it('gives valid parameters at every rate from 50 to 2000 Hz', () => {
    for (let rateHz = 50; rateHz <= 2_000; rateHz++) {
      const problem = loaded.paramsProblem(pid.paramsForRate!(rateHz));
      if (problem !== null) throw new Error(`${rateHz} Hz: ${problem}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Overflow: BigInt reference with C int64 semantics.
// ---------------------------------------------------------------------------------------------

interface ReferenceStep {
  command: number;
  rate: number;
  state: Dynamic;
  /** Largest magnitude of any intermediate. */
  magnitudeMax: bigint;
  /** True if any int64 operation wrapped (undefined behaviour in C). */
  wrapped: boolean;
}

/**
 * The law as its header specifies it, on int64_t: every operation wraps to 64 bits like C's
 * int64_t would (and records that it did), and Q16.16 scaling is an arithmetic shift (BigInt >>
 * floors negative values).
 */
function referenceStep(p: Params, d: Dynamic, setpoint: number, position: number): ReferenceStep {
  let magnitudeMax = 0n;
  let wrapped = false;
  const i64 = (x: bigint): bigint => {
    const w = BigInt.asIntN(64, x);
    if (w !== x) wrapped = true;
    const magnitude = w < 0n ? -w : w;
    if (magnitude > magnitudeMax) magnitudeMax = magnitude;
    return w;
  };
  const clamp = (x: bigint, lo: bigint, hi: bigint): bigint => (x < lo ? lo : x > hi ? hi : x);
  const limitMv = BigInt(p.outputLimitMv);
  const limitQ16 = i64(limitMv << 16n);
  const integral = BigInt(d.integralQ16);
  const e = i64(BigInt(setpoint) - BigInt(position));
  const delta = d.primed === 1 ? i64(BigInt(position) - BigInt(d.previousPositionMilliDeg)) : 0n;
  const pTerm = i64(BigInt(p.kpQ16) * e);
  const dTerm = i64(-i64(BigInt(p.kdQ16) * delta));
  let candidate = clamp(i64(integral + i64(BigInt(p.kiQ16) * e)), -limitQ16, limitQ16);
  let u = i64(i64(pTerm + candidate) + dTerm);
  if ((u > limitQ16 && candidate > integral) || (u < -limitQ16 && candidate < integral)) {
    candidate = integral;
    u = i64(i64(pTerm + candidate) + dTerm);
  }
  const command = clamp(u >> 16n, -limitMv, limitMv);
  return {
    command: Number(command),
    rate: Number(delta),
    state: { integralQ16: Number(candidate), previousPositionMilliDeg: position, primed: 1 },
    magnitudeMax,
    wrapped,
  };
}

/** |u| < 2^47 is the law's own bound; 2^53 is what doubles need. */
const INTERMEDIATE_BOUND = 2n ** 47n;

type StepFn = (state: PidState, inputs: Int32Array, outputs: Int32Array) => void;

/** Steps `state` (with the law, or a mutant of it) and throws, naming the case, unless it equals the reference and stays in range. */
function checkAgainstReference(p: Params, state: PidState, setpoint: number, position: number, outputs: Int32Array, stepFn: StepFn = pid.step): void {
  const before = dynamicOf(state);
  const want = referenceStep(p, before, setpoint, position);
  stepFn(state, Int32Array.of(setpoint, position), outputs);
  const got = { command: outputs[0]!, rate: outputs[1]!, state: dynamicOf(state) };
  const context = `params ${JSON.stringify(p)} state ${JSON.stringify(before)} inputs [${setpoint}, ${position}]`;
  if (want.wrapped || want.magnitudeMax >= INTERMEDIATE_BOUND) throw new Error(`intermediate ${want.magnitudeMax} too large: ${context}`);
  if (got.command !== want.command || got.rate !== want.rate || JSON.stringify(got.state) !== JSON.stringify(want.state)) {
    throw new Error(`differs from the int64 reference: got ${JSON.stringify(got)} want ${JSON.stringify({ ...want, magnitudeMax: String(want.magnitudeMax) })}: ${context}`);
  }
  const outOfRange = loaded.outputOutOfRange(outputs);
  if (outOfRange !== null) throw new Error(`${outOfRange}: ${context}`);
  if (Math.abs(got.command) > p.outputLimitMv) throw new Error(`command beyond the limit: ${context}`);
  if (!isInt32(got.state.integralQ16) || Math.abs(got.state.integralQ16) > p.outputLimitMv * Q16) throw new Error(`integral beyond its bound: ${context}`);
}

const stepsArb = (length: { minLength: number; maxLength: number }): fc.Arbitrary<[number, number][]> => fc.array(fc.tuple(setpointArb, positionArb), length);
const extremeParams = params(KP!.max, KI!.max, KD!.max, LIMIT!.max);

describe('overflow and exactness', () => {
  it('the reference detects int64 wrap and the 2^47 bound can be approached', () => {
    const limitQ16 = extremeParams.outputLimitMv * Q16;
    // e = +2^20 and delta = -2^20: p and d both at their maximum, integral held at +L.
    const worst = referenceStep(extremeParams, { integralQ16: limitQ16, previousPositionMilliDeg: M, primed: 1 }, M, -M);
    const expectedU = BigInt(KP!.max) * 2n ** 20n + BigInt(limitQ16) + BigInt(KD!.max) * 2n ** 20n;
    expect(worst.magnitudeMax).toBe(expectedU);
    expect(worst.magnitudeMax).toBeGreaterThan(2n ** 46n);
    expect(worst.magnitudeMax).toBeLessThan(INTERMEDIATE_BOUND);
    expect(worst.wrapped).toBe(false);
    checkAgainstReference(extremeParams, primedAt(extremeParams, M, limitQ16), M, -M, new Int32Array(2));
    // Gains far outside the allowed range must make the reference see the wrap.
    expect(referenceStep(params(2 ** 50, 0, 0, 1), { integralQ16: 0, previousPositionMilliDeg: 0, primed: 1 }, M, -M).wrapped).toBe(true);
  });

  it('the reference would catch truncation instead of floor', () => {
    const p = params(Q16 / 2, 0, 0, 100);
    expect(referenceStep(p, { integralQ16: 0, previousPositionMilliDeg: 0, primed: 1 }, -3, 0).command).toBe(-2);
    expect(Math.trunc(-1.5)).toBe(-1); // what a C '/' would give
  });

  it('the check throws on a law whose output or state differs from the reference by one', () => {
    const p = params(Q16, Q16, Q16, 1_000);
    const outputs = new Int32Array(2);
    const mutants: Record<string, StepFn> = {
      'command + 1': (s, i, o) => {
        pid.step(s, i, o);
        o[0] = o[0]! + 1;
      },
      'rate negated': (s, i, o) => {
        pid.step(s, i, o);
        o[1] = -o[1]!;
      },
      'integral one LSB off': (s, i, o) => {
        pid.step(s, i, o);
        const bytes = bytesOf(s);
        bytes[1] = bytes[1]! ^ 1;
        expect(pid.deserialize(s, bytes)).toBeNull();
      },
    };
    expect(() => checkAgainstReference(p, primedAt(p, 0), 50, 40, outputs)).not.toThrow();
    for (const [name, mutant] of Object.entries(mutants)) {
      expect(() => checkAgainstReference(p, primedAt(p, 0), 50, 40, outputs, mutant), name).toThrow(/differs from the int64 reference/);
    }
  });

  it('over the full declared ranges: never throws, outputs and integral within bounds, intermediates < 2^47', () => {
    const outputs = new Int32Array(2);
    fc.assert(
      fc.property(paramsAndDynamicArb, stepsArb({ minLength: 1, maxLength: 10 }), ([p, d], steps) => {
        const state = stateAt(p, d);
        for (const [setpoint, position] of steps) checkAgainstReference(p, state, setpoint, position, outputs);
      }),
      { numRuns: 1_000 },
    );
  });

  it('equals the BigInt int64 reference on 20,000 random steps', () => {
    const outputs = new Int32Array(2);
    const RUN_COUNT = 1_000;
    const STEPS_PER_RUN = 20;
    let stepCount = 0;
    fc.assert(
      fc.property(paramsAndDynamicArb, stepsArb({ minLength: STEPS_PER_RUN, maxLength: STEPS_PER_RUN }), ([p, d], steps) => {
        const state = stateAt(p, d);
        for (const [setpoint, position] of steps) {
          checkAgainstReference(p, state, setpoint, position, outputs);
          stepCount++;
        }
      }),
      { numRuns: RUN_COUNT },
    );
    expect(stepCount).toBeGreaterThanOrEqual(RUN_COUNT * STEPS_PER_RUN);
  });

  it("equals the reference along the self-test's input walks, at the rates' gains and at the range ends", () => {
    const outputs = new Int32Array(2);
    const inputs = new Int32Array(2);
    const previous = new Float64Array(2);
    const sets = [50, 500, 2_000].map((rateHz) => {
      const [kp, ki, kd, limit] = loaded.paramsForRate(rateHz);
      return params(kp!, ki!, kd!, limit!);
    });
    sets.push(extremeParams, params(KP!.min, KI!.min, KD!.min, LIMIT!.min), params(1, 1, 1, 1));
    let saturated = 0;
    for (const p of sets) {
      const prng = new Prng(0x5eed);
      const state = pid.init(paramArray(p));
      resetWalk(pid, previous);
      for (let i = 0; i < 2_000; i++) {
        drawInputs(prng, pid, previous, inputs);
        checkAgainstReference(p, state, inputs[0]!, inputs[1]!, outputs);
        if (Math.abs(outputs[0]!) === p.outputLimitMv) saturated++;
      }
    }
    // Not vacuous: the walks reach the clamp as well as the linear range.
    expect(saturated).toBeGreaterThan(100);
    expect(saturated).toBeLessThan(sets.length * 2_000);
  });
});
