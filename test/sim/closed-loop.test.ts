/**
 * One controller (no voting) closing the loop through the default actuator, plant and sensor.
 * These are physics results of a deterministic simulation, not wall-clock timing: the same code
 * gives the same trace on every machine.
 */
import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/core/prng.js';
import { shippedLaw } from '../../src/law/law-loader.js';
import { Actuator, DEFAULT_ACTUATOR } from '../../src/sim/actuator.js';
import { DEFAULT_PLANT, DEFAULT_SENSOR, Plant, PositionSensor } from '../../src/sim/plant.js';

const SEED = 0x5eed;
const STEP_MILLIDEG = 45_000;
const SETTLE_BAND_MILLIDEG = 1_000;
const COUNT_MILLIDEG = DEFAULT_SENSOR.resolutionMilliDeg;
const law = shippedLaw('pid-q16');
/** pid-q16's channels: inputs setpoint and position (m°), output 0 the motor command (mV). */
const SETPOINT = 0;
const POSITION = 1;
const COMMAND = 0;

interface StepTrace {
  /** True position after each tick, milli-degrees. */
  readonly positionMilliDeg: Float64Array;
  readonly appliedMv: Int32Array;
}

function simulateStep(rateHz: number, targetMilliDeg: number, durationS: number, seed = SEED): StepTrace {
  const state = law.definition.init(law.paramsForRate(rateHz));
  const inputs = new Int32Array(law.inputCount);
  const outputs = new Int32Array(law.outputCount);
  const actuator = new Actuator(DEFAULT_ACTUATOR);
  const plant = new Plant(rateHz, DEFAULT_PLANT);
  const sensor = new PositionSensor(DEFAULT_SENSOR, new Prng(seed));
  const ticks = Math.round(rateHz * durationS);
  const positionMilliDeg = new Float64Array(ticks);
  const appliedMv = new Int32Array(ticks);
  for (let tick = 0; tick < ticks; tick++) {
    inputs[SETPOINT] = targetMilliDeg;
    inputs[POSITION] = sensor.read(plant.positionMilliDeg);
    law.definition.step(state, inputs, outputs);
    actuator.tick(outputs[COMMAND] as number);
    plant.step(actuator.appliedMv, actuator.brakeEngaged, 0);
    positionMilliDeg[tick] = plant.positionMilliDeg;
    appliedMv[tick] = actuator.appliedMv;
  }
  return { positionMilliDeg, appliedMv };
}

interface StepMetrics {
  overshootPercent: number;
  /** Time after which the position stays within ±1° of the target, ms. */
  settlingMs: number;
  /** Mean position error over the last second, milli-degrees. */
  steadyErrorMilliDeg: number;
  /** Peak-to-peak true position over the last second, milli-degrees: the limit-cycle size. */
  tailPeakToPeakMilliDeg: number;
}

function stepMetrics(trace: StepTrace, rateHz: number, targetMilliDeg: number): StepMetrics {
  const p = trace.positionMilliDeg;
  const sign = Math.sign(targetMilliDeg);
  let peak = 0;
  let lastOutside = -1;
  for (let tick = 0; tick < p.length; tick++) {
    const value = p[tick] as number;
    if (sign * value > peak) peak = sign * value;
    if (Math.abs(value - targetMilliDeg) > SETTLE_BAND_MILLIDEG) lastOutside = tick;
  }
  let sum = 0;
  let low = Number.POSITIVE_INFINITY;
  let high = Number.NEGATIVE_INFINITY;
  for (let tick = p.length - rateHz; tick < p.length; tick++) {
    const value = p[tick] as number;
    sum += value - targetMilliDeg;
    low = Math.min(low, value);
    high = Math.max(high, value);
  }
  return {
    overshootPercent: ((peak - Math.abs(targetMilliDeg)) / Math.abs(targetMilliDeg)) * 100,
    settlingMs: ((lastOutside + 1) * 1000) / rateHz,
    steadyErrorMilliDeg: sum / rateHz,
    tailPeakToPeakMilliDeg: high - low,
  };
}

describe('closed loop, one controller, default gains and models', () => {
  describe.each([100, 200, 500, 1_000])('%i Hz', (rateHz) => {
    const trace = simulateStep(rateHz, STEP_MILLIDEG, 8);
    const m = stepMetrics(trace, rateHz, STEP_MILLIDEG);

    it('tracks a 45° step with modest overshoot (< 15 %)', () => {
      expect(m.overshootPercent).toBeGreaterThanOrEqual(0); // it does reach the target
      expect(m.overshootPercent).toBeLessThan(15);
    });

    it('settles within 1° well under 1 s (< 300 ms)', () => {
      expect(m.settlingMs).toBeGreaterThan(0);
      expect(m.settlingMs).toBeLessThan(300);
    });

    it('ends without a limit cycle beyond two sensor counts, close to the target', () => {
      expect(m.tailPeakToPeakMilliDeg).toBeLessThanOrEqual(2 * COUNT_MILLIDEG);
      expect(Math.abs(m.steadyErrorMilliDeg)).toBeLessThanOrEqual(2 * COUNT_MILLIDEG);
    });
  });

  it.each([100, 500])('behaves the same for a −45° step (%i Hz)', (rateHz) => {
    const m = stepMetrics(simulateStep(rateHz, -STEP_MILLIDEG, 8), rateHz, -STEP_MILLIDEG);
    expect(m.overshootPercent).toBeLessThan(15);
    expect(m.settlingMs).toBeLessThan(300);
    expect(m.tailPeakToPeakMilliDeg).toBeLessThanOrEqual(2 * COUNT_MILLIDEG);
  });

  it.each([100, 500, 1_000])('tracks a small 5° step (linear region, no saturation) with under 10 percent overshoot (%i Hz)', (rateHz) => {
    const m = stepMetrics(simulateStep(rateHz, 5_000, 8), rateHz, 5_000);
    expect(m.overshootPercent).toBeGreaterThanOrEqual(0);
    expect(m.overshootPercent).toBeLessThan(10);
    expect(m.tailPeakToPeakMilliDeg).toBeLessThanOrEqual(2 * COUNT_MILLIDEG);
  });

  it('has default gains that give valid law parameters at every rate from 50 to 2000 Hz', () => {
    const names = law.definition.inputs.map((c) => c.name);
    expect([names[SETPOINT], names[POSITION], law.definition.outputs[COMMAND]?.name]).toEqual(['setpointMilliDeg', 'positionMilliDeg', 'commandMv']);
    for (let rateHz = 50; rateHz <= 2_000; rateHz++) expect(() => law.paramsForRate(rateHz)).not.toThrow();
  });

  it.each([1, 2, 3, 4])('meets the criteria for other sensor-noise seeds (seed %i, 500 Hz)', (seed) => {
    const m = stepMetrics(simulateStep(500, STEP_MILLIDEG, 8, seed), 500, STEP_MILLIDEG);
    expect(m.overshootPercent).toBeLessThan(15);
    expect(m.settlingMs).toBeLessThan(300);
    expect(m.tailPeakToPeakMilliDeg).toBeLessThanOrEqual(2 * COUNT_MILLIDEG);
  });

  it('is deterministic: two runs give bit-identical traces', () => {
    const a = simulateStep(500, STEP_MILLIDEG, 2);
    const b = simulateStep(500, STEP_MILLIDEG, 2);
    for (let tick = 0; tick < a.positionMilliDeg.length; tick++) {
      if (!Object.is(a.positionMilliDeg[tick], b.positionMilliDeg[tick]) || a.appliedMv[tick] !== b.appliedMv[tick]) {
        expect.fail(`tick ${tick} differs`);
      }
    }
    const c = simulateStep(500, STEP_MILLIDEG, 2, SEED + 1);
    expect(c.positionMilliDeg).not.toEqual(a.positionMilliDeg); // the seed reaches the trace
  });
});
