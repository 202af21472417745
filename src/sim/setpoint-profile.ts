/**
 * Setpoint profiles: the setpoint as a pure function of the tick, in exact integer arithmetic,
 * so every run (and every replica fed from it) sees the same setpoints. No sine: transcendental
 * functions may differ between engines; the periodic shape on offer is a triangle.
 *
 * A profile is a list of segments, each lasting durationTicks (>= 1), each starting from the value
 * the previous one ended on (the first from initialMilliDeg, default 0). Local tick k runs from 0
 * to durationTicks − 1 within a segment:
 *   hold      value = start
 *   step      value = toMilliDeg
 *   ramp      value = start + trunc((toMilliDeg − start) · (k + 1) / durationTicks): the first tick
 *             has already moved, the last tick is exactly toMilliDeg; truncation towards zero, so
 *             a ramp down mirrors a ramp up
 *   triangle  centred on start, amplitude amplitudeMilliDeg, period periodTicks, rising first:
 *             start, up to start + A at a quarter period, down to start − A at three quarters,
 *             back to start; each value truncated towards zero from the exact rational
 *   sine      the same shape as a sine: start + round(A · sin(2π · k / P)). The sine is a fixed
 *             polynomial (Taylor to x^11 on [−π/2, π/2], error below 6e-8) evaluated with + − × ÷
 *             only, which IEEE 754 rounds identically on every engine, never Math.sin (whose last
 *             bit may differ between engines). The setpoint is computed on the host only and sent
 *             to the replicas, so they never need to agree on it.
 * After the last segment the profile holds its final value forever.
 *
 * Exactness: every product below is an integer under 2^52 (|Δ| <= 2^20 times k + 1 <= 2^31;
 * A <= 2^19 times 4·P <= 2^33), so doubles hold it exactly and floor(|a| / b) is exact.
 * Units: milli-degrees, ticks. Values stay within ±POSITION_MILLIDEG_LIMIT (validated).
 */
import { assert, fail } from '../core/assert.js';
import { POSITION_MILLIDEG_LIMIT } from './plant.js';

export type ProfileSegment =
  | { readonly kind: 'hold'; readonly durationTicks: number }
  | { readonly kind: 'step'; readonly toMilliDeg: number; readonly durationTicks: number }
  | { readonly kind: 'ramp'; readonly toMilliDeg: number; readonly durationTicks: number }
  | {
      readonly kind: 'triangle' | 'sine';
      readonly amplitudeMilliDeg: number;
      readonly periodTicks: number;
      readonly durationTicks: number;
    };

export type ProfileSegmentKind = ProfileSegment['kind'];

/** Most segments in one profile. */
export const PROFILE_SEGMENTS_MAX = 1024;
/** Longest segment (and triangle period), ticks. */
export const SEGMENT_TICKS_MAX = 0x7fff_ffff;
/** Longest profile, ticks: tick numbers are uint32. */
export const PROFILE_TICKS_MAX = 0xffff_ffff;

export interface SetpointProfile {
  /** Setpoint at `tick` (integer >= 0), integer milli-degrees. Allocates nothing. */
  setpointAt(tick: number): number;
  /** Ticks covered by the segments; later ticks hold the final value. */
  readonly durationTicks: number;
  readonly segmentCount: number;
  readonly finalMilliDeg: number;
}

/** What is wrong with a profile: which segment (−1: the list itself), which field, and why. */
export interface ProfileProblem {
  readonly segmentIndex: number;
  readonly field: string;
  readonly message: string;
}

export class ProfileError extends Error {
  override readonly name = 'ProfileError';
  readonly segmentIndex: number;
  readonly field: string;

  constructor(problem: ProfileProblem) {
    super(problem.segmentIndex < 0
      ? `profile ${problem.field}: ${problem.message}`
      : `profile segment ${problem.segmentIndex} field ${problem.field}: ${problem.message}`);
    this.segmentIndex = problem.segmentIndex;
    this.field = problem.field;
  }
}

const KIND_HOLD = 0;
const KIND_STEP = 1;
const KIND_RAMP = 2;
const KIND_TRIANGLE = 3;
const KIND_SINE = 4;

function isIntegerIn(value: unknown, lo: number, hi: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= lo && value <= hi;
}

/** trunc(a / b) for integers |a| < 2^53, b >= 1: exact. */
function divTrunc(a: number, b: number): number {
  const q = Math.floor(Math.abs(a) / b);
  return (a < 0 ? -q : q) + 0;
}

/** Offset of the triangle wave at phase p in [0, P), amplitude A: exact integer. */
function triangleOffset(amplitude: number, periodTicks: number, phaseTicks: number): number {
  const fourP = 4 * phaseTicks;
  let n: number;
  if (fourP < periodTicks) n = fourP;
  else if (fourP < 3 * periodTicks) n = 2 * periodTicks - fourP;
  else n = fourP - 4 * periodTicks;
  return divTrunc(amplitude * n, periodTicks);
}

/** sin(x) for |x| <= π/2: Taylor to x^11, Horner form; |error| < 6e-8, never above 1. */
function sinPolynomial(x: number): number {
  const x2 = x * x;
  return x * (1 - (x2 / 6) * (1 - (x2 / 20) * (1 - (x2 / 42) * (1 - (x2 / 72) * (1 - x2 / 110)))));
}

/** Offset of the sine wave at phase p in [0, P), amplitude A: round(A · sin(2πp/P)), engine-independent. */
function sineOffset(amplitude: number, periodTicks: number, phaseTicks: number): number {
  const fourP = 4 * phaseTicks;
  let x: number;
  if (fourP < periodTicks) x = (2 * Math.PI * phaseTicks) / periodTicks;
  else if (fourP < 3 * periodTicks) x = (Math.PI * (periodTicks - 2 * phaseTicks)) / periodTicks;
  else x = (2 * Math.PI * (phaseTicks - periodTicks)) / periodTicks;
  // Rounded half away from zero, so the peaks are exact and the wave is odd-symmetric.
  const value = amplitude * sinPolynomial(x);
  return (value < 0 ? -Math.floor(-value + 0.5) : Math.floor(value + 0.5)) + 0;
}

/** The periodic shapes' offset from their centre. */
function periodicOffset(kind: 'triangle' | 'sine', amplitude: number, periodTicks: number, phaseTicks: number): number {
  return kind === 'sine' ? sineOffset(amplitude, periodTicks, phaseTicks) : triangleOffset(amplitude, periodTicks, phaseTicks);
}

/**
 * Validates a profile (which may come from a scenario file, so every field is checked at run
 * time). Returns null when it is valid.
 */
export function validateProfile(segments: readonly ProfileSegment[], initialMilliDeg = 0): ProfileProblem | null {
  const limit = POSITION_MILLIDEG_LIMIT;
  if (!Array.isArray(segments)) return { segmentIndex: -1, field: 'segments', message: 'must be an array' };
  if (segments.length < 1 || segments.length > PROFILE_SEGMENTS_MAX) {
    return { segmentIndex: -1, field: 'segments', message: `must hold 1..${PROFILE_SEGMENTS_MAX} segments, got ${segments.length}` };
  }
  if (!isIntegerIn(initialMilliDeg, -limit, limit)) {
    return { segmentIndex: -1, field: 'initialMilliDeg', message: `must be an integer within ±${limit}, got ${String(initialMilliDeg)}` };
  }
  let value = initialMilliDeg;
  let totalTicks = 0;
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i] as ProfileSegment | undefined;
    const bad = (field: string, message: string): ProfileProblem => ({ segmentIndex: i, field, message });
    if (typeof s !== 'object' || s === null) return bad('kind', 'segment is not an object');
    const kind: unknown = s.kind;
    if (kind !== 'hold' && kind !== 'step' && kind !== 'ramp' && kind !== 'triangle' && kind !== 'sine') {
      return bad('kind', `must be hold, step, ramp, triangle or sine, got ${JSON.stringify(kind)}`);
    }
    if (!isIntegerIn(s.durationTicks, 1, SEGMENT_TICKS_MAX)) {
      return bad('durationTicks', `must be an integer in [1, ${SEGMENT_TICKS_MAX}], got ${String(s.durationTicks)}`);
    }
    if (s.kind === 'step' || s.kind === 'ramp') {
      if (!isIntegerIn(s.toMilliDeg, -limit, limit)) return bad('toMilliDeg', `must be an integer within ±${limit}, got ${String(s.toMilliDeg)}`);
      value = s.toMilliDeg;
    } else if (s.kind === 'triangle' || s.kind === 'sine') {
      if (!isIntegerIn(s.periodTicks, 2, SEGMENT_TICKS_MAX)) {
        return bad('periodTicks', `must be an integer in [2, ${SEGMENT_TICKS_MAX}], got ${String(s.periodTicks)}`);
      }
      if (!isIntegerIn(s.amplitudeMilliDeg, 0, limit)) {
        return bad('amplitudeMilliDeg', `must be an integer in [0, ${limit}], got ${String(s.amplitudeMilliDeg)}`);
      }
      if (Math.abs(value) + s.amplitudeMilliDeg > limit) {
        return bad('amplitudeMilliDeg', `centre ${value} ± ${s.amplitudeMilliDeg} leaves ±${limit}`);
      }
      value += periodicOffset(s.kind, s.amplitudeMilliDeg, s.periodTicks, (s.durationTicks - 1) % s.periodTicks);
    }
    totalTicks += s.durationTicks;
    if (totalTicks > PROFILE_TICKS_MAX) return bad('durationTicks', `profile longer than ${PROFILE_TICKS_MAX} ticks`);
  }
  return null;
}

class CompiledProfile implements SetpointProfile {
  readonly durationTicks: number;
  readonly segmentCount: number;
  readonly finalMilliDeg: number;
  private readonly startTick: Float64Array;
  private readonly lengthTicks: Float64Array;
  private readonly kind: Uint8Array;
  private readonly fromMilliDeg: Int32Array;
  private readonly toMilliDeg: Int32Array;
  private readonly amplitudeMilliDeg: Int32Array;
  private readonly periodTicks: Float64Array;
  /** Segment of the previous lookup: runs ask for consecutive ticks, so this makes lookups O(1). */
  private hint = 0;

  constructor(segments: readonly ProfileSegment[], initialMilliDeg: number) {
    const n = segments.length;
    this.segmentCount = n;
    this.startTick = new Float64Array(n);
    this.lengthTicks = new Float64Array(n);
    this.kind = new Uint8Array(n);
    this.fromMilliDeg = new Int32Array(n);
    this.toMilliDeg = new Int32Array(n);
    this.amplitudeMilliDeg = new Int32Array(n);
    this.periodTicks = new Float64Array(n);
    let start = 0;
    let value = initialMilliDeg;
    for (let i = 0; i < n; i++) {
      const s = segments[i] as ProfileSegment;
      this.startTick[i] = start;
      this.lengthTicks[i] = s.durationTicks;
      this.fromMilliDeg[i] = value;
      this.periodTicks[i] = 1;
      switch (s.kind) {
        case 'hold': this.kind[i] = KIND_HOLD; this.toMilliDeg[i] = value; break;
        case 'step': this.kind[i] = KIND_STEP; this.toMilliDeg[i] = s.toMilliDeg; break;
        case 'ramp': this.kind[i] = KIND_RAMP; this.toMilliDeg[i] = s.toMilliDeg; break;
        case 'triangle':
        case 'sine':
          this.kind[i] = s.kind === 'sine' ? KIND_SINE : KIND_TRIANGLE;
          this.amplitudeMilliDeg[i] = s.amplitudeMilliDeg;
          this.periodTicks[i] = s.periodTicks;
          this.toMilliDeg[i] = value + periodicOffset(s.kind, s.amplitudeMilliDeg, s.periodTicks, (s.durationTicks - 1) % s.periodTicks);
          break;
      }
      value = this.toMilliDeg[i] as number;
      start += s.durationTicks;
    }
    this.durationTicks = start;
    this.finalMilliDeg = value;
  }

  setpointAt(tick: number): number {
    if (!(Number.isInteger(tick) && tick >= 0)) fail(`profile tick ${tick} is not a non-negative integer`);
    if (tick >= this.durationTicks) return this.finalMilliDeg;
    const i = this.segmentIndexAt(tick);
    const k = tick - (this.startTick[i] as number);
    const from = this.fromMilliDeg[i] as number;
    let value: number;
    switch (this.kind[i]) {
      case KIND_HOLD: value = from; break;
      case KIND_STEP: value = this.toMilliDeg[i] as number; break;
      case KIND_RAMP: value = from + divTrunc(((this.toMilliDeg[i] as number) - from) * (k + 1), this.lengthTicks[i] as number); break;
      case KIND_SINE: {
        const period = this.periodTicks[i] as number;
        value = from + sineOffset(this.amplitudeMilliDeg[i] as number, period, k % period);
        break;
      }
      default: {
        const period = this.periodTicks[i] as number;
        value = from + triangleOffset(this.amplitudeMilliDeg[i] as number, period, k % period);
      }
    }
    assert(Number.isInteger(value) && Math.abs(value) <= POSITION_MILLIDEG_LIMIT, 'setpoint left the position range');
    return value;
  }

  /** Index of the segment holding `tick` (< durationTicks): the hint, its successor, or a binary search. */
  private segmentIndexAt(tick: number): number {
    const h = this.hint;
    if (tick >= (this.startTick[h] as number)) {
      if (tick < (this.startTick[h] as number) + (this.lengthTicks[h] as number)) return h;
      const next = h + 1;
      if (next < this.segmentCount && tick < (this.startTick[next] as number) + (this.lengthTicks[next] as number)) {
        this.hint = next;
        return next;
      }
    }
    let lo = 0;
    let hi = this.segmentCount - 1;
    // Invariant: startTick[lo] <= tick < end of segment hi. Halves each pass: at most 11 passes.
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((this.startTick[mid] as number) <= tick) lo = mid;
      else hi = mid - 1;
    }
    this.hint = lo;
    return lo;
  }
}

/** Validates and compiles a profile; throws ProfileError naming the segment and field. */
export function compileProfile(segments: readonly ProfileSegment[], initialMilliDeg = 0): SetpointProfile {
  const problem = validateProfile(segments, initialMilliDeg);
  if (problem !== null) throw new ProfileError(problem);
  return new CompiledProfile(segments, initialMilliDeg);
}

/**
 * The demo profile, scaled to the run: hold 0 (5 %), step to +45° (20 %), step to −30° (20 %),
 * ramp to +60° (20 %), then a ±15° triangle around +60° with a 1 s period (or the remaining length,
 * if shorter) for the rest. Segments that would be empty are left out, so any length >= 1 works.
 */
export function defaultProfile(rateHz: number, durationTicks: number): SetpointProfile {
  if (!(Number.isInteger(rateHz) && rateHz >= 1)) fail(`profile rate ${rateHz} Hz must be a positive integer`);
  if (!(isIntegerIn(durationTicks, 1, PROFILE_TICKS_MAX))) fail(`profile length ${durationTicks} ticks out of range`);
  const part = (percent: number): number => Math.min(Math.floor((durationTicks * percent) / 100), SEGMENT_TICKS_MAX);
  const candidates: ProfileSegment[] = [
    { kind: 'hold', durationTicks: part(5) },
    { kind: 'step', toMilliDeg: 45_000, durationTicks: part(20) },
    { kind: 'step', toMilliDeg: -30_000, durationTicks: part(20) },
    { kind: 'ramp', toMilliDeg: 60_000, durationTicks: part(20) },
  ];
  const segments = candidates.filter((s) => s.durationTicks > 0);
  let rest = durationTicks;
  for (const s of segments) rest -= s.durationTicks;
  // rest >= 35 % of the run >= 1; split it if a segment would exceed its limit.
  for (let guard = 0; rest > 0 && guard < 4; guard++) {
    const length = Math.min(rest, SEGMENT_TICKS_MAX);
    const periodTicks = Math.min(rateHz, length, SEGMENT_TICKS_MAX);
    segments.push(periodTicks >= 4
      ? { kind: 'triangle', amplitudeMilliDeg: 15_000, periodTicks, durationTicks: length }
      : { kind: 'hold', durationTicks: length });
    rest -= length;
  }
  return compileProfile(segments);
}
