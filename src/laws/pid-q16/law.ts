/**
 * Control law "pid-q16", version 2: a position PID for a motor-driven actuator, in integer
 * fixed-point arithmetic only. Its C twin is law.c beside this file; `tmr law check pid-q16`
 * runs both over a million seeded steps and compares every output and state byte.
 *
 * Units and ranges (every quantity an integer):
 *   setpointMilliDeg, positionMilliDeg     [-2^19, 2^19] milli-degrees
 *   errorMilliDeg = setpoint - position    |e| <= 2^20
 *   deltaMilliDeg (position change a tick) |Δ| <= 2^20
 *   kpQ16  mV per milli-degree, Q16.16                [0, 2^24)   (< 256 mV/m°)
 *   kiQ16  mV per (milli-degree · tick), Q16.16       [0, 2^24)
 *   kdQ16  mV per (milli-degree per tick), Q16.16     [0, 2^26)
 *   outputLimitMv                                     [1, 2^15)   (motor supply, e.g. 12000)
 *   integralQ16  mV, Q16.16                           |i| <= outputLimitMv · 2^16 < 2^31
 *
 * Overflow analysis (magnitudes): p = kp·e < 2^44; d = kd·Δ < 2^46; integral + ki·e < 2^31 + 2^44;
 * u = p + i + d < 2^47. Every intermediate is an integer below 2^53, so doubles hold it exactly
 * (C: int64_t). The one rounding is floor division by 2^16 (C: written out, not a shift).
 *
 * Anti-windup: the integral is clamped to ±outputLimitMv and not advanced on a tick where the
 * unsaturated output is beyond the limit and the new integral pushes further into it. The output
 * saturates at ±outputLimitMv. The derivative acts on the measurement, so setpoint steps do not
 * kick the output. Safe values: no command (0 mV) and no rate.
 *
 * Version 2 (against 1): the state no longer holds the tick (the runtime's reply carries it), so
 * the serialised state is 10 bytes and the digest is the CRC-32 of exactly those bytes.
 */
import { defineLaw, readI32Le, writeI32Le } from '../../law/law.js';

const Q16_ONE = 65536;
const POSITION_LIMIT_MILLIDEG = 1 << 19;
const STATE_FORMAT = 2;

interface PidState {
  kpQ16: number;
  kiQ16: number;
  kdQ16: number;
  outputLimitMv: number;
  integralQ16: number;
  previousPositionMilliDeg: number;
  /** 0 until the first step; the first step has no derivative term. */
  primed: number;
}

/** Physical gains (mV per m°, per m°·s, per m°/s) turned into per-tick Q16.16 integers for a rate. */
function gainsForRate(rateHz: number): number[] {
  return [Math.round(1.8 * Q16_ONE), Math.round((2 / rateHz) * Q16_ONE), Math.round(0.045 * rateHz * Q16_ONE), 12_000];
}

export default defineLaw<PidState>({
  name: 'pid-q16',
  version: 2,
  inputs: [
    { name: 'setpointMilliDeg', unit: 'mdeg', min: -POSITION_LIMIT_MILLIDEG, max: POSITION_LIMIT_MILLIDEG },
    { name: 'positionMilliDeg', unit: 'mdeg', min: -POSITION_LIMIT_MILLIDEG, max: POSITION_LIMIT_MILLIDEG },
  ],
  outputs: [
    { name: 'commandMv', unit: 'mV', min: -32_767, max: 32_767, safe: 0, vote: 'exact' },
    { name: 'rateMilliDegPerTick', unit: 'mdeg/tick', min: -(1 << 20), max: 1 << 20, safe: 0, vote: 'mid-value', tolerance: 2 },
  ],
  params: [
    { name: 'kpQ16', min: 0, max: (1 << 24) - 1, default: 117_965 },
    { name: 'kiQ16', min: 0, max: (1 << 24) - 1, default: 655 },
    { name: 'kdQ16', min: 0, max: (1 << 26) - 1, default: 589_824 },
    { name: 'outputLimitMv', min: 1, max: 32_767, default: 12_000 },
  ],
  stateSizeBytes: 10,
  paramsForRate: gainsForRate,

  init(params) {
    return {
      kpQ16: params[0] as number,
      kiQ16: params[1] as number,
      kdQ16: params[2] as number,
      outputLimitMv: params[3] as number,
      integralQ16: 0,
      previousPositionMilliDeg: 0,
      primed: 0,
    };
  },

  step(s, inputs, outputs) {
    const setpoint = inputs[0] as number;
    const position = inputs[1] as number;
    const limitQ16 = s.outputLimitMv * Q16_ONE;
    const error = setpoint - position;
    const delta = s.primed === 1 ? position - s.previousPositionMilliDeg : 0;
    const p = s.kpQ16 * error;
    const d = -s.kdQ16 * delta;
    let candidate = s.integralQ16 + s.kiQ16 * error;
    if (candidate > limitQ16) candidate = limitQ16;
    else if (candidate < -limitQ16) candidate = -limitQ16;
    let u = p + candidate + d;
    if ((u > limitQ16 && candidate > s.integralQ16) || (u < -limitQ16 && candidate < s.integralQ16)) {
      candidate = s.integralQ16;
      u = p + candidate + d;
    }
    let command = Math.floor(u / Q16_ONE);
    if (command > s.outputLimitMv) command = s.outputLimitMv;
    else if (command < -s.outputLimitMv) command = -s.outputLimitMv;
    s.integralQ16 = candidate;
    s.previousPositionMilliDeg = position;
    s.primed = 1;
    outputs[0] = command;
    outputs[1] = delta;
  },

  serialize(s, out) {
    out[0] = STATE_FORMAT;
    writeI32Le(out, 1, s.integralQ16);
    writeI32Le(out, 5, s.previousPositionMilliDeg);
    out[9] = s.primed;
  },

  deserialize(s, bytes) {
    if (bytes[0] !== STATE_FORMAT) return `state format ${bytes[0]}, expected ${STATE_FORMAT}`;
    const integralQ16 = readI32Le(bytes, 1);
    const previous = readI32Le(bytes, 5);
    const primed = bytes[9] as number;
    if (Math.abs(integralQ16) > s.outputLimitMv * Q16_ONE) return 'integral beyond the output limit';
    if (Math.abs(previous) > POSITION_LIMIT_MILLIDEG) return 'previous position out of range';
    if (primed !== 0 && primed !== 1) return 'primed flag is not 0 or 1';
    s.integralQ16 = integralQ16;
    s.previousPositionMilliDeg = previous;
    s.primed = primed;
    return null;
  },
});
