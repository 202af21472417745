/**
 * Control law "pid-q16", version 1: a position PID for a motor-driven actuator, in integer
 * fixed-point arithmetic only, so a TypeScript replica and the C firmware compute bit-identical
 * outputs and state digests. There is no float anywhere on this path.
 *
 * Units and value ranges (every quantity is an integer):
 *   setpointMilliDeg, positionMilliDeg   [-POSITION_MILLIDEG_LIMIT, +POSITION_MILLIDEG_LIMIT] = ±2^19
 *   errorMilliDeg = setpoint - position  |e| <= 2^20
 *   deltaPositionMilliDeg (per tick)     |Δ| <= 2^20
 *   kpQ16   mV per milli-degree, Q16.16                  [0, 2^24)   (< 256 mV/m°)
 *   kiQ16   mV per (milli-degree · tick), Q16.16         [0, 2^24)
 *   kdQ16   mV per (milli-degree per tick), Q16.16       [0, 2^26)
 *   outputLimitMv                                        [1, 2^15)   (motor supply, e.g. 12000)
 *   integralQ16  mV, Q16.16                              |i| <= outputLimitMv · 2^16 < 2^31
 *
 * Overflow analysis (magnitudes):
 *   p = kpQ16 · e           < 2^24 · 2^20 = 2^44
 *   d = kdQ16 · Δ           < 2^26 · 2^20 = 2^46
 *   ki · e                  < 2^44;  integral + ki·e < 2^31 + 2^44 < 2^45
 *   u = p + i + d           < 2^44 + 2^31 + 2^46 < 2^47
 * Every intermediate is an integer below 2^53 in magnitude, so JavaScript doubles hold it exactly
 * (and C holds it in int64_t). Scaling back from Q16.16 is floor division by 2^16: Math.floor(x / 65536)
 * in TypeScript, an arithmetic right shift of an int64_t by 16 in C (floor for negatives, as both
 * gcc and avr-gcc implement it). The only rounding in the law is that one floor.
 *
 * Anti-windup: the integral is clamped to ±outputLimitMv, and it is not advanced on a tick where the
 * unsaturated output is beyond the limit and the new integral would push further into it
 * (conditional integration). The output is saturated to ±outputLimitMv.
 * The derivative acts on the measurement, not the error, so setpoint steps do not kick the output.
 *
 * Safe value: a freshly reset controller (integral 0, not primed) has no memory; the actuator's safe
 * command is not the law's business (see the actuator model).
 */
import { assert, fail, isInt32 } from './assert.js';
import { crc32FeedByte, crc32FeedU32Le, crc32Finish, crc32UpdateU32Le, CRC32_REGISTER_START } from './crc32.js';
import { Prng } from './prng.js';

export const LAW_ID = 1;
export const LAW_NAME = 'pid-q16';
export const LAW_VERSION = 1;

export const POSITION_MILLIDEG_LIMIT = 1 << 19;
export const KP_Q16_LIMIT = 1 << 24;
export const KI_Q16_LIMIT = 1 << 24;
export const KD_Q16_LIMIT = 1 << 26;
export const OUTPUT_LIMIT_MV_LIMIT = 1 << 15;
const Q16_ONE = 65536;

/** Output channels of the law, in order. */
export const OUTPUT_CHANNEL_COUNT = 2;
/** Channel 0: motor voltage command, mV, within ±outputLimitMv. */
export const CHANNEL_COMMAND_MV = 0;
/** Channel 1: measured position rate, milli-degrees per tick (telemetry; analog-voted). */
export const CHANNEL_RATE_MILLIDEG_PER_TICK = 1;

export interface LawParams {
  readonly kpQ16: number;
  readonly kiQ16: number;
  readonly kdQ16: number;
  readonly outputLimitMv: number;
}

/** Mutable controller state. Serialised by {@link serializeLawState} for digests and state transfer. */
export interface LawState {
  integralQ16: number;
  previousPositionMilliDeg: number;
  /** Tick number of the last step taken (uint32). Makes the digest prove progress. */
  lastTick: number;
  /** 0 until the first step; the first step has no derivative term. */
  primed: number;
}

export const LAW_STATE_FORMAT_VERSION = 1;
/** version(1) integral(i32 LE) previousPosition(i32 LE) lastTick(u32 LE) primed(1) */
export const LAW_STATE_SIZE_BYTES = 14;

export function lawParamsValid(p: LawParams): string | null {
  if (!Number.isInteger(p.kpQ16) || p.kpQ16 < 0 || p.kpQ16 >= KP_Q16_LIMIT) return 'kpQ16 out of range';
  if (!Number.isInteger(p.kiQ16) || p.kiQ16 < 0 || p.kiQ16 >= KI_Q16_LIMIT) return 'kiQ16 out of range';
  if (!Number.isInteger(p.kdQ16) || p.kdQ16 < 0 || p.kdQ16 >= KD_Q16_LIMIT) return 'kdQ16 out of range';
  if (!Number.isInteger(p.outputLimitMv) || p.outputLimitMv < 1 || p.outputLimitMv >= OUTPUT_LIMIT_MV_LIMIT) {
    return 'outputLimitMv out of range';
  }
  return null;
}

export function positionValid(milliDeg: number): boolean {
  return Number.isInteger(milliDeg) && milliDeg >= -POSITION_MILLIDEG_LIMIT && milliDeg <= POSITION_MILLIDEG_LIMIT;
}

export function createLawState(): LawState {
  return { integralQ16: 0, previousPositionMilliDeg: 0, lastTick: 0, primed: 0 };
}

export function copyLawState(from: LawState, to: LawState): void {
  to.integralQ16 = from.integralQ16;
  to.previousPositionMilliDeg = from.previousPositionMilliDeg;
  to.lastTick = from.lastTick;
  to.primed = from.primed;
}

/** floor(x / 2^16) for an integer |x| < 2^53: exact in doubles, = int64 arithmetic shift in C. */
function floorQ16(x: number): number {
  return Math.floor(x / Q16_ONE);
}

/**
 * One control step. Writes the outputs into `outputs` (length >= OUTPUT_CHANNEL_COUNT) and
 * advances `state` in place. Allocates nothing.
 */
export function lawStep(
  params: LawParams,
  state: LawState,
  tick: number,
  setpointMilliDeg: number,
  positionMilliDeg: number,
  outputs: Int32Array,
): void {
  if (!positionValid(setpointMilliDeg)) fail(`setpoint ${setpointMilliDeg} m° out of range`);
  if (!positionValid(positionMilliDeg)) fail(`position ${positionMilliDeg} m° out of range`);
  const limitMv = params.outputLimitMv;
  const limitQ16 = limitMv * Q16_ONE;

  const errorMilliDeg = setpointMilliDeg - positionMilliDeg;
  const deltaMilliDeg = state.primed === 1 ? positionMilliDeg - state.previousPositionMilliDeg : 0;

  const pQ16 = params.kpQ16 * errorMilliDeg;
  const dQ16 = -params.kdQ16 * deltaMilliDeg;
  let integralCandidateQ16 = state.integralQ16 + params.kiQ16 * errorMilliDeg;
  if (integralCandidateQ16 > limitQ16) integralCandidateQ16 = limitQ16;
  else if (integralCandidateQ16 < -limitQ16) integralCandidateQ16 = -limitQ16;

  let uQ16 = pQ16 + integralCandidateQ16 + dQ16;
  let integralNextQ16 = integralCandidateQ16;
  const windingUp =
    (uQ16 > limitQ16 && integralCandidateQ16 > state.integralQ16) ||
    (uQ16 < -limitQ16 && integralCandidateQ16 < state.integralQ16);
  if (windingUp) {
    integralNextQ16 = state.integralQ16;
    uQ16 = pQ16 + integralNextQ16 + dQ16;
  }
  assert(Math.abs(uQ16) < 2 ** 47, 'control law intermediate exceeds its 2^47 bound');

  let commandMv = floorQ16(uQ16);
  if (commandMv > limitMv) commandMv = limitMv;
  else if (commandMv < -limitMv) commandMv = -limitMv;

  state.integralQ16 = integralNextQ16;
  state.previousPositionMilliDeg = positionMilliDeg;
  state.lastTick = tick >>> 0;
  state.primed = 1;

  outputs[CHANNEL_COMMAND_MV] = commandMv;
  outputs[CHANNEL_RATE_MILLIDEG_PER_TICK] = deltaMilliDeg;
  assert(isInt32(state.integralQ16) && Math.abs(state.integralQ16) <= limitQ16, 'integral out of its bound');
}

/** Serialises the state into `out` (>= LAW_STATE_SIZE_BYTES); returns the byte count. */
export function serializeLawState(state: LawState, out: Uint8Array): number {
  assert(out.length >= LAW_STATE_SIZE_BYTES, 'state buffer too small');
  out[0] = LAW_STATE_FORMAT_VERSION;
  writeU32Le(out, 1, state.integralQ16 >>> 0);
  writeU32Le(out, 5, state.previousPositionMilliDeg >>> 0);
  writeU32Le(out, 9, state.lastTick >>> 0);
  out[13] = state.primed;
  return LAW_STATE_SIZE_BYTES;
}

/** Parses serialised state; returns an error string for malformed bytes (they come from the wire). */
export function deserializeLawState(bytes: Uint8Array, into: LawState, params: LawParams): string | null {
  if (bytes.length !== LAW_STATE_SIZE_BYTES) return `state is ${bytes.length} bytes, expected ${LAW_STATE_SIZE_BYTES}`;
  if (bytes[0] !== LAW_STATE_FORMAT_VERSION) return `state format ${bytes[0]}, expected ${LAW_STATE_FORMAT_VERSION}`;
  const integralQ16 = readU32Le(bytes, 1) | 0;
  const previousPositionMilliDeg = readU32Le(bytes, 5) | 0;
  const primed = bytes[13] as number;
  if (Math.abs(integralQ16) > params.outputLimitMv * Q16_ONE) return 'state integral beyond the output limit';
  if (!positionValid(previousPositionMilliDeg)) return 'state position out of range';
  if (primed !== 0 && primed !== 1) return 'state primed flag is not 0 or 1';
  into.integralQ16 = integralQ16;
  into.previousPositionMilliDeg = previousPositionMilliDeg;
  into.lastTick = readU32Le(bytes, 9);
  into.primed = primed;
  return null;
}

/**
 * CRC-32 of the serialised state (serializeLawState's bytes): the per-tick state digest every
 * reply carries. Fed field by field, so it needs no buffer (every replica computes it every tick);
 * a test holds it equal to crc32 of the serialised bytes.
 */
export function lawStateDigest(state: LawState): number {
  let c = crc32FeedByte(CRC32_REGISTER_START, LAW_STATE_FORMAT_VERSION);
  c = crc32FeedU32Le(c, state.integralQ16 >>> 0);
  c = crc32FeedU32Le(c, state.previousPositionMilliDeg >>> 0);
  c = crc32FeedU32Le(c, state.lastTick >>> 0);
  c = crc32FeedByte(c, state.primed);
  return crc32Finish(c);
}

function writeU32Le(out: Uint8Array, at: number, value: number): void {
  out[at] = value & 0xff;
  out[at + 1] = (value >>> 8) & 0xff;
  out[at + 2] = (value >>> 16) & 0xff;
  out[at + 3] = (value >>> 24) & 0xff;
}

function readU32Le(bytes: Uint8Array, at: number): number {
  return ((bytes[at] as number) | ((bytes[at + 1] as number) << 8) | ((bytes[at + 2] as number) << 16) | ((bytes[at + 3] as number) << 24)) >>> 0;
}

/**
 * Physical gains, converted once per configuration into integer per-tick parameters. This is the
 * only place floats touch the law, and it runs on the host before any replica starts; replicas
 * receive the integers in the handshake.
 */
export interface PhysicalGains {
  /** mV per milli-degree of error. */
  readonly kpMvPerMilliDeg: number;
  /** mV per milli-degree·second of accumulated error. */
  readonly kiMvPerMilliDegSecond: number;
  /** mV per milli-degree/second of position rate. */
  readonly kdMvSecondPerMilliDeg: number;
  readonly outputLimitMv: number;
}

export const DEFAULT_GAINS: PhysicalGains = {
  kpMvPerMilliDeg: 1.8,
  kiMvPerMilliDegSecond: 2,
  kdMvSecondPerMilliDeg: 0.045,
  outputLimitMv: 12_000,
};

export function lawParamsForRate(rateHz: number, gains: PhysicalGains = DEFAULT_GAINS): LawParams {
  assert(Number.isFinite(rateHz) && rateHz > 0, 'rate must be positive');
  const params: LawParams = {
    kpQ16: Math.round(gains.kpMvPerMilliDeg * Q16_ONE),
    kiQ16: Math.round((gains.kiMvPerMilliDegSecond / rateHz) * Q16_ONE),
    kdQ16: Math.round(gains.kdMvSecondPerMilliDeg * rateHz * Q16_ONE),
    outputLimitMv: Math.round(gains.outputLimitMv),
  };
  const problem = lawParamsValid(params);
  if (!(problem === null)) fail(`gains at ${rateHz} Hz give invalid law parameters: ${problem}`);
  return params;
}

/**
 * Parameters and input generator of the law's self-test. The law hash is the CRC-32 chain of
 * the outputs and digests of SELF_TEST_STEPS steps over inputs drawn from Prng(SELF_TEST_SEED):
 * a replica proves at handshake that its implementation computes exactly what ours does.
 */
// Gains are small so that most steps stay unsaturated and a one-LSB change of any parameter
// reaches the hash (measured: all ±1 and +2 changes of each field do), while 175 of the 256
// steps still saturate, exercising the clamp and anti-windup.
export const SELF_TEST_PARAMS: LawParams = { kpQ16: 3_277, kiQ16: 7, kdQ16: 13, outputLimitMv: 12_000 };
export const SELF_TEST_SEED = 0x7a3f0001;
export const SELF_TEST_STEPS = 256;

/**
 * Input generator shared by the self-test and the committed test vectors. Mixes extremes
 * (both ends of the position range), large steps and small noise so saturation, anti-windup
 * and sign handling are all exercised.
 */
export function drawLawInputs(prng: Prng, previousPositionMilliDeg: number, into: { setpointMilliDeg: number; positionMilliDeg: number }): void {
  const mode = prng.nextBelow(8);
  const limit = POSITION_MILLIDEG_LIMIT;
  if (mode === 0) {
    into.setpointMilliDeg = prng.nextBelow(2) === 0 ? limit : -limit;
    into.positionMilliDeg = prng.nextBelow(2) === 0 ? limit : -limit;
  } else if (mode <= 2) {
    into.setpointMilliDeg = prng.nextIntInclusive(-limit, limit);
    into.positionMilliDeg = prng.nextIntInclusive(-limit, limit);
  } else {
    into.setpointMilliDeg = prng.nextIntInclusive(-90_000, 90_000);
    let position = previousPositionMilliDeg + prng.nextIntInclusive(-2_000, 2_000);
    if (position > limit) position = limit;
    if (position < -limit) position = -limit;
    into.positionMilliDeg = position;
  }
}

let cachedLawHash: number | null = null;

export function lawSelfTestHash(): number {
  if (cachedLawHash !== null) return cachedLawHash;
  const prng = new Prng(SELF_TEST_SEED);
  const state = createLawState();
  const outputs = new Int32Array(OUTPUT_CHANNEL_COUNT);
  const inputs = { setpointMilliDeg: 0, positionMilliDeg: 0 };
  let hash = 0;
  for (let step = 0; step < SELF_TEST_STEPS; step++) {
    drawLawInputs(prng, inputs.positionMilliDeg, inputs);
    lawStep(SELF_TEST_PARAMS, state, step, inputs.setpointMilliDeg, inputs.positionMilliDeg, outputs);
    for (const value of [outputs[0]!, outputs[1]!, lawStateDigest(state)]) {
      hash = crc32UpdateU32Le(hash, value >>> 0);
    }
  }
  cachedLawHash = hash;
  return hash;
}
