/**
 * Control law "tank", version 1: level control of a tank filled through a proportional inlet
 * valve and a booster pump, with a high-level alarm. Integer fixed-point only; its C twin is
 * law.c beside this file (`tmr law check tank` compares them bit for bit).
 *
 * Inputs:  levelSetpointMm [0, 2000] mm; levelMm [0, 2000] mm (the level sensor);
 *          highSwitch [0, 1] (a float switch near the top; 1 = wet).
 * Outputs: valvePermille [0, 1000] ‰ open, voted mid-value (±2 ‰), safe 0 (closed);
 *          pumpOn [0, 1], voted exact, safe 0 (off);
 *          alarm [0, 1], voted exact, safe 1 (raised: a loop without a majority is worth a look).
 *
 * Three parts:
 * - The alarm, a latch with hysteresis: raised when the level is above highAlarmMm or the float
 *   switch has read wet for more than switchDebounceTicks ticks in a row; cleared only when the
 *   level is at or below alarmClearMm and the switch reads dry. While raised, valve and pump are off.
 * - The pump, on/off with hysteresis: on when the level is more than pumpOnBelowMm under the
 *   setpoint, off again once it is no more than pumpOffBelowMm under it.
 * - The valve, a PI controller on the level error (setpoint - level, |e| <= 2000 mm):
 *   u = kpQ16·e + integralQ16 in Q16.16 ‰; |kp·e| < 2^24 · 2^11 = 2^35, the integral stays in
 *   [0, 1000·2^16] < 2^26, so |u| < 2^36: exact in doubles and int64_t. The valve opening is
 *   floor(u / 2^16) clamped to [0, 1000] (the one rounding). Anti-windup: the integral is clamped
 *   to [0, 1000·2^16] and not advanced on a tick where the output is saturated and the new
 *   integral pushes further into the saturation. It is reset to 0 while the alarm is raised.
 *
 * State (7 bytes): format (1), flags (bit 0 pump on, bit 1 alarm), consecutive wet switch reads
 * (saturating at 255), integralQ16 (int32 little-endian).
 */
import { defineLaw, readI32Le, writeI32Le } from '../../law/law.js';

const Q16_ONE = 65536;
const LEVEL_MM_MAX = 2000;
const VALVE_PERMILLE_MAX = 1000;
const INTEGRAL_Q16_MAX = VALVE_PERMILLE_MAX * Q16_ONE;
const STATE_FORMAT = 1;
const SWITCH_COUNT_MAX = 255;

interface TankState {
  kpQ16: number;
  kiQ16: number;
  pumpOnBelowMm: number;
  pumpOffBelowMm: number;
  highAlarmMm: number;
  alarmClearMm: number;
  switchDebounceTicks: number;
  pumpOn: number;
  alarm: number;
  switchWetTicks: number;
  integralQ16: number;
}

export default defineLaw<TankState>({
  name: 'tank',
  version: 1,
  inputs: [
    { name: 'levelSetpointMm', unit: 'mm', min: 0, max: LEVEL_MM_MAX },
    { name: 'levelMm', unit: 'mm', min: 0, max: LEVEL_MM_MAX },
    { name: 'highSwitch', unit: 'bool', min: 0, max: 1 },
  ],
  outputs: [
    { name: 'valvePermille', unit: 'permille', min: 0, max: VALVE_PERMILLE_MAX, safe: 0, vote: 'mid-value', tolerance: 2 },
    { name: 'pumpOn', unit: 'bool', min: 0, max: 1, safe: 0, vote: 'exact' },
    { name: 'alarm', unit: 'bool', min: 0, max: 1, safe: 1, vote: 'exact' },
  ],
  params: [
    /** ‰ of valve opening per mm of error, Q16.16. */
    { name: 'kpQ16', min: 0, max: (1 << 24) - 1, default: 98_304 },
    /** ‰ per mm·tick, Q16.16. */
    { name: 'kiQ16', min: 0, max: (1 << 24) - 1, default: 328 },
    { name: 'pumpOnBelowMm', min: 0, max: LEVEL_MM_MAX, default: 150 },
    { name: 'pumpOffBelowMm', min: 0, max: LEVEL_MM_MAX, default: 40 },
    { name: 'highAlarmMm', min: 0, max: LEVEL_MM_MAX, default: 1_850 },
    { name: 'alarmClearMm', min: 0, max: LEVEL_MM_MAX, default: 1_750 },
    { name: 'switchDebounceTicks', min: 0, max: 100, default: 3 },
  ],
  stateSizeBytes: 7,

  init(params) {
    return {
      kpQ16: params[0] as number,
      kiQ16: params[1] as number,
      pumpOnBelowMm: params[2] as number,
      pumpOffBelowMm: params[3] as number,
      highAlarmMm: params[4] as number,
      alarmClearMm: params[5] as number,
      switchDebounceTicks: params[6] as number,
      pumpOn: 0,
      alarm: 0,
      switchWetTicks: 0,
      integralQ16: 0,
    };
  },

  step(s, inputs, outputs) {
    const setpoint = inputs[0] as number;
    const level = inputs[1] as number;
    const wet = inputs[2] as number;
    const error = setpoint - level;

    if (wet === 1) {
      if (s.switchWetTicks < SWITCH_COUNT_MAX) s.switchWetTicks++;
    } else {
      s.switchWetTicks = 0;
    }
    if (s.alarm === 0) {
      if (level > s.highAlarmMm || s.switchWetTicks > s.switchDebounceTicks) s.alarm = 1;
    } else if (level <= s.alarmClearMm && s.switchWetTicks === 0) {
      s.alarm = 0;
    }

    if (s.alarm === 1) s.pumpOn = 0;
    else if (s.pumpOn === 0 && error > s.pumpOnBelowMm) s.pumpOn = 1;
    else if (s.pumpOn === 1 && error <= s.pumpOffBelowMm) s.pumpOn = 0;

    let valve = 0;
    if (s.alarm === 1) {
      s.integralQ16 = 0;
    } else {
      const p = s.kpQ16 * error;
      let candidate = s.integralQ16 + s.kiQ16 * error;
      if (candidate > INTEGRAL_Q16_MAX) candidate = INTEGRAL_Q16_MAX;
      else if (candidate < 0) candidate = 0;
      let u = p + candidate;
      if ((u > INTEGRAL_Q16_MAX && candidate > s.integralQ16) || (u < 0 && candidate < s.integralQ16)) {
        candidate = s.integralQ16;
        u = p + candidate;
      }
      valve = Math.floor(u / Q16_ONE);
      if (valve > VALVE_PERMILLE_MAX) valve = VALVE_PERMILLE_MAX;
      else if (valve < 0) valve = 0;
      s.integralQ16 = candidate;
    }
    outputs[0] = valve;
    outputs[1] = s.pumpOn;
    outputs[2] = s.alarm;
  },

  serialize(s, out) {
    out[0] = STATE_FORMAT;
    out[1] = s.pumpOn | (s.alarm << 1);
    out[2] = s.switchWetTicks;
    writeI32Le(out, 3, s.integralQ16);
  },

  deserialize(s, bytes) {
    if (bytes[0] !== STATE_FORMAT) return `state format ${bytes[0]}, expected ${STATE_FORMAT}`;
    const flags = bytes[1] as number;
    if (flags > 3) return `flags ${flags} has unknown bits`;
    const integralQ16 = readI32Le(bytes, 3);
    if (integralQ16 < 0 || integralQ16 > INTEGRAL_Q16_MAX) return 'integral outside [0, 1000 ‰]';
    // The alarm stops pump and valve and empties the integral: a state with both is not one step() makes.
    if (flags > 1 && (flags !== 2 || integralQ16 !== 0)) return 'alarm raised with the pump on or the integral not empty';
    // With the alarm down, a wet count beyond the debounce would have raised it: not a state step() leaves.
    if (flags < 2 && (bytes[2] as number) > s.switchDebounceTicks) return 'switch wet beyond the debounce with the alarm down';
    s.pumpOn = flags & 1;
    s.alarm = flags >> 1;
    s.switchWetTicks = bytes[2] as number;
    s.integralQ16 = integralQ16;
    return null;
  },
});
