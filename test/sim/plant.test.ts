import { describe, expect, it } from 'vitest';
import { TmrAssertionError } from '../../src/core/assert.js';
import { Prng } from '../../src/core/prng.js';
import pidQ16 from '../../src/laws/pid-q16/law.js';
import {
  DEFAULT_PLANT,
  DEFAULT_SENSOR,
  MILLIDEG_PER_RAD,
  Plant,
  plantConfigProblem,
  POSITION_MILLIDEG_LIMIT,
  PositionSensor,
  sensorConfigProblem,
  type PlantConfig,
} from '../../src/sim/plant.js';

const P = DEFAULT_PLANT;
/** Damping from back-EMF and viscous friction, N·m per rad/s. */
const DAMPING = (P.torqueConstantNmPerA * P.backEmfVSPerRad) / P.windingOhm + P.viscousNmSPerRad;
/** Analytic steady speed at a voltage, rad/s: motor torque minus Coulomb friction over damping. */
function steadySpeedRadPerS(volts: number, config: PlantConfig = P): number {
  const damping = (config.torqueConstantNmPerA * config.backEmfVSPerRad) / config.windingOhm + config.viscousNmSPerRad;
  return ((config.torqueConstantNmPerA * volts) / config.windingOhm - config.coulombNm) / damping;
}
/** Smallest voltage that overcomes stiction, V. */
const BREAKAWAY_V = (P.coulombNm * P.windingOhm) / P.torqueConstantNmPerA;

function run(plant: Plant, ticks: number, appliedMv: number, brake = false, loadNm = 0): void {
  for (let t = 0; t < ticks; t++) plant.step(appliedMv, brake, loadNm);
}

describe('default plant is the specified small geared servo', () => {
  it('has a no-load speed of 600–1200 deg/s at 12 V and a mechanical time constant of 30–80 ms', () => {
    const noLoadDegPerS = (steadySpeedRadPerS(12) * MILLIDEG_PER_RAD) / 1000;
    expect(noLoadDegPerS).toBeGreaterThan(600);
    expect(noLoadDegPerS).toBeLessThan(1200);
    const timeConstantS = P.inertiaKgM2 / DAMPING;
    expect(timeConstantS).toBeGreaterThan(0.03);
    expect(timeConstantS).toBeLessThan(0.08);
    expect(plantConfigProblem(P)).toBeNull();
  });

  it('reaches 1 − 1/e of its steady speed after one time constant (simulated, 1 kHz)', () => {
    const plant = new Plant(1_000);
    plant.reset(-170_000);
    const tauTicks = Math.round((P.inertiaKgM2 / DAMPING) * 1_000);
    run(plant, tauTicks, 12_000);
    const fraction = plant.velocityMilliDegPerS / (steadySpeedRadPerS(12) * MILLIDEG_PER_RAD);
    expect(fraction).toBeGreaterThan(0.6);
    expect(fraction).toBeLessThan(0.66);
  });
});

describe('plant physics', () => {
  it.each([100, 1_000])('does not move at 0 V from rest (%i Hz)', (rateHz) => {
    const plant = new Plant(rateHz);
    run(plant, 5 * rateHz, 0);
    expect(Object.is(plant.positionMilliDeg, 0)).toBe(true);
    expect(Object.is(plant.velocityMilliDegPerS, 0)).toBe(true);
  });

  it('does not move below the breakaway voltage, and does above it', () => {
    const belowMv = Math.floor(BREAKAWAY_V * 1000) - 1;
    const still = new Plant(500);
    run(still, 1_000, belowMv);
    run(still, 1_000, -belowMv);
    expect(still.positionMilliDeg).toBe(0);
    const moving = new Plant(500);
    run(moving, 10, belowMv + 20);
    expect(moving.positionMilliDeg).toBeGreaterThan(0);
  });

  it.each([100, 1_000])('settles at 12 V to the analytic speed within 1 %% (%i Hz)', (rateHz) => {
    const plant = new Plant(rateHz);
    plant.reset(-170_000);
    run(plant, Math.round(0.3 * rateHz), 12_000); // six time constants, before the far end stop
    const expected = steadySpeedRadPerS(12) * MILLIDEG_PER_RAD;
    expect(Math.abs(plant.velocityMilliDegPerS - expected) / expected).toBeLessThan(0.01);
    // and the same backwards
    plant.reset(170_000);
    run(plant, Math.round(0.3 * rateHz), -12_000);
    expect(Math.abs(-plant.velocityMilliDegPerS - expected) / expected).toBeLessThan(0.01);
  });

  it('runs one fixed step per tick: 0.2 s at 6 V ends at the same angle at 200 and 2000 Hz (within 2 %)', () => {
    const slow = new Plant(200);
    run(slow, 40, 6_000);
    const fast = new Plant(2_000);
    run(fast, 400, 6_000);
    expect(slow.positionMilliDeg).toBeGreaterThan(50_000);
    expect(Math.abs(slow.positionMilliDeg - fast.positionMilliDeg) / fast.positionMilliDeg).toBeLessThan(0.02);
  });

  it('holds at the end stops with zero velocity, both ways', () => {
    const plant = new Plant(500);
    run(plant, 1_000, 12_000);
    expect(plant.positionMilliDeg).toBeCloseTo(P.travelMilliDegMax, 6);
    expect(plant.velocityMilliDegPerS).toBe(0);
    run(plant, 500, 12_000);
    expect(plant.positionMilliDeg).toBeCloseTo(P.travelMilliDegMax, 6);
    run(plant, 1_500, -12_000);
    expect(plant.positionMilliDeg).toBeCloseTo(-P.travelMilliDegMax, 6);
    expect(plant.velocityMilliDegPerS).toBe(0);
    // leaving the stop works at once
    plant.step(12_000, false, 0);
    expect(plant.positionMilliDeg).toBeGreaterThan(-P.travelMilliDegMax);
  });

  it('coasts to a complete stop under Coulomb friction, losing speed every step', () => {
    const plant = new Plant(1_000);
    plant.reset(0, 300_000); // 300 deg/s, motor shorted (0 V)
    let previous = Math.abs(plant.velocityMilliDegPerS);
    let stoppedTick = -1;
    for (let t = 0; t < 2_000 && stoppedTick < 0; t++) {
      plant.step(0, false, 0);
      const speed = Math.abs(plant.velocityMilliDegPerS);
      expect(speed).toBeLessThan(previous); // kinetic energy falls strictly while moving
      previous = speed;
      if (speed === 0) stoppedTick = t;
    }
    expect(stoppedTick).toBeGreaterThan(0);
    const stoppedAt = plant.positionMilliDeg;
    run(plant, 1_000, 0);
    expect(plant.positionMilliDeg).toBe(stoppedAt);
    expect(plant.velocityMilliDegPerS).toBe(0);
  });

  it('without Coulomb friction the same coast never stops exactly (so the test above can tell)', () => {
    const plant = new Plant(1_000, { ...P, coulombNm: 0, stictionRadPerS: 0 });
    plant.reset(0, 300_000);
    run(plant, 2_000, 0);
    expect(plant.velocityMilliDegPerS).toBeGreaterThan(0);
  });

  it('brake: holds against full voltage from rest and stops a moving shaft much sooner', () => {
    const held = new Plant(500);
    run(held, 500, 12_000, true);
    expect(held.positionMilliDeg).toBe(0);

    const ticksToStop = (brake: boolean): number => {
      const plant = new Plant(1_000);
      plant.reset(0, 500_000);
      for (let t = 1; t <= 5_000; t++) {
        plant.step(0, brake, 0);
        if (plant.velocityMilliDegPerS === 0) return t;
      }
      return Number.POSITIVE_INFINITY;
    };
    expect(ticksToStop(true) * 10).toBeLessThan(ticksToStop(false));
  });

  it('external load: below the Coulomb level it is held, above it turns the shaft its way', () => {
    const held = new Plant(500);
    run(held, 500, 0, false, -0.9 * P.coulombNm);
    expect(held.positionMilliDeg).toBe(0);
    const pushed = new Plant(500);
    run(pushed, 500, 0, false, -3 * P.coulombNm);
    expect(pushed.positionMilliDeg).toBeLessThan(-1_000);
  });

  it('is deterministic: two runs of a seeded input sequence are bit-identical', () => {
    const trace = (): number[] => {
      const prng = new Prng(42);
      const plant = new Plant(1_000);
      const values: number[] = [];
      for (let t = 0; t < 5_000; t++) {
        const mv = prng.nextIntInclusive(-12_000, 12_000);
        const loadNm = (prng.nextIntInclusive(-1_000, 1_000) / 1_000) * 0.2;
        plant.step(mv, prng.nextBelow(50) === 0, loadNm);
        values.push(plant.positionMilliDeg, plant.velocityMilliDegPerS);
      }
      return values;
    };
    const a = trace();
    const b = trace();
    expect(a.length).toBe(10_000);
    expect(new Set(a).size).toBeGreaterThan(1_000);
    for (let i = 0; i < a.length; i++) {
      if (!Object.is(a[i], b[i])) expect.fail(`value ${i} differs: ${a[i]} vs ${b[i]}`);
    }
  });

  it('rejects an invalid configuration or rate', () => {
    expect(plantConfigProblem({ ...P, inertiaKgM2: 0 })).toContain('inertiaKgM2');
    expect(plantConfigProblem({ ...P, coulombNm: -1 })).toContain('coulombNm');
    expect(plantConfigProblem({ ...P, windingOhm: Number.NaN })).toContain('windingOhm');
    expect(plantConfigProblem({ ...P, travelMilliDegMax: POSITION_MILLIDEG_LIMIT + 1 })).toContain('travelMilliDegMax');
    expect(() => new Plant(1_000, { ...P, inertiaKgM2: -1 })).toThrow(TmrAssertionError);
    expect(() => new Plant(0)).toThrow(TmrAssertionError);
    expect(() => new Plant(1_000).step(Number.NaN, false, 0)).toThrow(TmrAssertionError);
  });
});

describe('position sensor', () => {
  it('quantises to the nearest multiple of the resolution (half up) and draws nothing at noise 0', () => {
    const prng = new Prng(7);
    const sensor = new PositionSensor({ resolutionMilliDeg: 10, noiseMilliDeg: 0 }, prng);
    const cases: [number, number][] = [
      [0, 0], [4.9, 0], [5, 10], [14.9, 10], [15, 20], [-4.9, 0], [-5, 0], [-5.1, -10], [-15, -10], [-15.1, -20],
      [123_456.7, 123_460], [-0.0001, 0],
    ];
    for (const [input, expected] of cases) {
      const reading = sensor.read(input);
      expect(Object.is(reading, expected), `read(${input}) = ${reading}, expected ${expected}`).toBe(true);
    }
    for (let i = 0; i < 1_000; i++) {
      const x = (i * 7.37) - 3_000;
      const reading = sensor.read(x);
      expect(Math.abs(reading % 10)).toBe(0);
      expect(Math.abs(reading - x)).toBeLessThanOrEqual(5);
    }
    expect(prng.nextU32()).toBe(new Prng(7).nextU32());
  });

  it('adds integer noise within ±noiseMilliDeg, reaching both bounds', () => {
    const sensor = new PositionSensor({ resolutionMilliDeg: 1, noiseMilliDeg: 7 }, new Prng(3));
    const seen = new Set<number>();
    for (let i = 0; i < 5_000; i++) {
      const reading = sensor.read(1_000);
      expect(Number.isInteger(reading)).toBe(true);
      expect(Math.abs(reading - 1_000)).toBeLessThanOrEqual(7);
      seen.add(reading);
    }
    expect(seen.size).toBe(15);
  });

  it('is deterministic per seed and differs between seeds', () => {
    const readings = (seed: number): number[] => {
      const sensor = new PositionSensor(DEFAULT_SENSOR, new Prng(seed));
      return Array.from({ length: 500 }, (_, i) => sensor.read(i * 33.3));
    };
    expect(readings(11)).toEqual(readings(11));
    expect(readings(11)).not.toEqual(readings(12));
  });

  it('reads within the range pid-q16 declares for its inputs (POSITION_MILLIDEG_LIMIT is that range)', () => {
    expect(POSITION_MILLIDEG_LIMIT).toBe(2 ** 19);
    for (const channel of pidQ16.inputs) expect([channel.name, channel.min, channel.max]).toEqual([channel.name, -POSITION_MILLIDEG_LIMIT, POSITION_MILLIDEG_LIMIT]);
  });

  it('clamps to ±POSITION_MILLIDEG_LIMIT, noise included', () => {
    const sensor = new PositionSensor({ resolutionMilliDeg: 1, noiseMilliDeg: 50 }, new Prng(5));
    for (let i = 0; i < 200; i++) {
      expect(sensor.read(1e9)).toBeLessThanOrEqual(POSITION_MILLIDEG_LIMIT);
      expect(sensor.read(-1e9)).toBeGreaterThanOrEqual(-POSITION_MILLIDEG_LIMIT);
      expect(Math.abs(sensor.read(POSITION_MILLIDEG_LIMIT))).toBeLessThanOrEqual(POSITION_MILLIDEG_LIMIT);
    }
    expect(new PositionSensor({ resolutionMilliDeg: 10, noiseMilliDeg: 0 }, new Prng(1)).read(1e9)).toBe(POSITION_MILLIDEG_LIMIT);
  });

  it('rejects an invalid configuration', () => {
    expect(sensorConfigProblem({ resolutionMilliDeg: 0, noiseMilliDeg: 0 })).toContain('resolutionMilliDeg');
    expect(sensorConfigProblem({ resolutionMilliDeg: 10, noiseMilliDeg: -1 })).toContain('noiseMilliDeg');
    expect(sensorConfigProblem({ resolutionMilliDeg: 10, noiseMilliDeg: 0.5 })).toContain('noiseMilliDeg');
    expect(() => new PositionSensor({ resolutionMilliDeg: 2.5, noiseMilliDeg: 0 }, new Prng(1))).toThrow(TmrAssertionError);
  });
});
