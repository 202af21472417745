/**
 * Simulated plant: a permanent-magnet DC motor behind a gearbox, positioning an output shaft,
 * and the position sensor that reads it. Runs on the host only, in one implementation, so it
 * may use floats; it uses only + - * / and Math.abs/min/max/sign/round/floor (all exact or
 * correctly rounded under IEEE 754), so a run is bit-identical on every engine.
 *
 * Every constant is referred to the OUTPUT shaft (the gearbox ratio and efficiency are folded
 * into torque constant, back-EMF constant, inertia and friction). The winding inductance is
 * neglected: its time constant (well under 1 ms) is shorter than any tick.
 *
 *   current   i = (V − Ke·ω) / R
 *   torque    J·dω/dt = Kt·i − b·ω − friction + load
 *   friction  Coulomb ±coulombNm against the motion; when the shaft is (almost) stopped it holds
 *             any torque up to coulombNm (stiction), so the shaft really stops.
 *   brake     adds brakeHoldNm to the Coulomb level and brakeViscousNmSPerRad to the damping.
 *   end stops position clamped to ±travelMilliDegMax, velocity zeroed on contact.
 *
 * Integration: one semi-implicit Euler step of exactly 1/rateHz s per tick (velocity first, then
 * position from the new velocity). The velocity-proportional terms (back-EMF, viscous, brake
 * damping) are taken implicitly, which is unconditionally stable however stiff the brake is, and
 * makes the steady-state speed equal the analytic one exactly.
 */
import { assert, fail } from '../core/assert.js';
import type { Prng } from '../core/prng.js';

export const MILLIDEG_PER_RAD = 180_000 / Math.PI;

/**
 * Largest position magnitude, milli-degrees (±2^19 m° ≈ ±524°): the end stops, sensor readings and
 * setpoints of the motor plant stay within it. It matches the declared range of pid-q16's inputs
 * (src/laws/pid-q16/law.ts), so whatever this plant senses the law accepts; a test holds the two equal.
 */
export const POSITION_MILLIDEG_LIMIT = 1 << 19;

export interface PlantConfig {
  /** Moment of inertia at the output shaft, kg·m² (rotor inertia × ratio² + load). */
  readonly inertiaKgM2: number;
  /** Viscous friction, N·m per rad/s. */
  readonly viscousNmSPerRad: number;
  /** Coulomb (dry) friction torque, N·m; also the stiction holding torque. */
  readonly coulombNm: number;
  /** Below this |velocity|, rad/s, the shaft counts as stopped for stiction. */
  readonly stictionRadPerS: number;
  /** Torque per ampere at the output shaft, N·m/A. */
  readonly torqueConstantNmPerA: number;
  /** Back-EMF per output-shaft speed, V per rad/s. */
  readonly backEmfVSPerRad: number;
  /** Winding resistance, Ω. */
  readonly windingOhm: number;
  /** End stops at ±this, milli-degrees (<= POSITION_MILLIDEG_LIMIT). */
  readonly travelMilliDegMax: number;
  /** Extra holding torque of the engaged brake, N·m (added to Coulomb friction). */
  readonly brakeHoldNm: number;
  /** Extra damping of the engaged brake, N·m per rad/s. */
  readonly brakeViscousNmSPerRad: number;
}

/**
 * A small geared servo: stall torque 1.8 N·m at 12 V, no-load speed at 12 V
 * (Kt·V/R − Tc)/(Kt·Ke/R + b) = (1.8 − 0.03)/(0.09 + 0.01) = 17.7 rad/s ≈ 1014 deg/s,
 * mechanical time constant J/(Kt·Ke/R + b) = 0.005/0.1 = 50 ms, breakaway at 0.2 V.
 */
export const DEFAULT_PLANT: PlantConfig = {
  inertiaKgM2: 0.005,
  viscousNmSPerRad: 0.01,
  coulombNm: 0.03,
  stictionRadPerS: 0.001,
  torqueConstantNmPerA: 0.6,
  backEmfVSPerRad: 0.6,
  windingOhm: 4,
  travelMilliDegMax: 180_000,
  brakeHoldNm: 5,
  brakeViscousNmSPerRad: 2,
};

export function plantConfigProblem(c: PlantConfig): string | null {
  const positive: readonly (keyof PlantConfig)[] = ['inertiaKgM2', 'torqueConstantNmPerA', 'windingOhm', 'travelMilliDegMax'];
  for (const key of positive) {
    if (!(Number.isFinite(c[key]) && c[key] > 0)) return `${key} must be a finite number > 0`;
  }
  const nonNegative: readonly (keyof PlantConfig)[] = [
    'viscousNmSPerRad', 'coulombNm', 'stictionRadPerS', 'backEmfVSPerRad', 'brakeHoldNm', 'brakeViscousNmSPerRad',
  ];
  for (const key of nonNegative) {
    if (!(Number.isFinite(c[key]) && c[key] >= 0)) return `${key} must be a finite number >= 0`;
  }
  if (c.travelMilliDegMax > POSITION_MILLIDEG_LIMIT) return `travelMilliDegMax must be <= ${POSITION_MILLIDEG_LIMIT}`;
  return null;
}

export class Plant {
  readonly config: PlantConfig;
  readonly rateHz: number;
  /** Step length, s: exactly one tick period. */
  private readonly stepS: number;
  private readonly travelRad: number;
  /** Damping from back-EMF and viscous friction, N·m per rad/s. */
  private readonly dampingNmSPerRad: number;
  private positionRad = 0;
  private velocityRadPerS = 0;

  constructor(rateHz: number, config: PlantConfig = DEFAULT_PLANT) {
    const problem = plantConfigProblem(config);
    if (!(problem === null)) fail(`plant config: ${problem}`);
    if (!(Number.isInteger(rateHz) && rateHz >= 1)) fail(`plant rate ${rateHz} Hz must be a positive integer`);
    this.config = config;
    this.rateHz = rateHz;
    this.stepS = 1 / rateHz;
    this.travelRad = config.travelMilliDegMax / MILLIDEG_PER_RAD;
    this.dampingNmSPerRad = (config.torqueConstantNmPerA * config.backEmfVSPerRad) / config.windingOhm + config.viscousNmSPerRad;
  }

  /** True position, milli-degrees (float). */
  get positionMilliDeg(): number { return this.positionRad * MILLIDEG_PER_RAD; }
  /** True velocity, milli-degrees per second (float). */
  get velocityMilliDegPerS(): number { return this.velocityRadPerS * MILLIDEG_PER_RAD; }

  /** Put the shaft at a position (clamped to the end stops) with a velocity. */
  reset(positionMilliDeg = 0, velocityMilliDegPerS = 0): void {
    assert(Number.isFinite(positionMilliDeg) && Number.isFinite(velocityMilliDegPerS), 'plant reset to a non-finite state');
    this.positionRad = positionMilliDeg / MILLIDEG_PER_RAD;
    this.velocityRadPerS = velocityMilliDegPerS / MILLIDEG_PER_RAD;
    this.applyEndStops();
  }

  /**
   * Advance exactly one tick. appliedMv: motor voltage, mV. brakeEngaged: the drive's brake.
   * loadTorqueNm: external torque on the output shaft, N·m, positive towards positive position.
   */
  step(appliedMv: number, brakeEngaged: boolean, loadTorqueNm: number): void {
    assert(Number.isFinite(appliedMv) && Number.isFinite(loadTorqueNm), 'plant input is not finite');
    const c = this.config;
    const dt = this.stepS;
    const coulombNm = brakeEngaged ? c.coulombNm + c.brakeHoldNm : c.coulombNm;
    const dampingNmSPerRad = brakeEngaged ? this.dampingNmSPerRad + c.brakeViscousNmSPerRad : this.dampingNmSPerRad;
    // Torque independent of velocity: motor torque at standstill plus the external load.
    const driveNm = (c.torqueConstantNmPerA * (appliedMv / 1000)) / c.windingOhm + loadTorqueNm;
    const w = this.velocityRadPerS;
    const implicitFactor = 1 + (dt * dampingNmSPerRad) / c.inertiaKgM2;
    let wNext: number;
    if (Math.abs(w) <= c.stictionRadPerS) {
      // Stopped: stiction holds anything up to the Coulomb level; beyond it, break away.
      wNext = Math.abs(driveNm) <= coulombNm
        ? 0
        : (w + (dt * (driveNm - coulombNm * Math.sign(driveNm))) / c.inertiaKgM2) / implicitFactor;
    } else {
      wNext = (w + (dt * (driveNm - coulombNm * Math.sign(w))) / c.inertiaKgM2) / implicitFactor;
      // Friction cannot reverse the motion: crossing zero within a step means stopping.
      if (Math.sign(wNext) !== Math.sign(w)) wNext = 0;
    }
    this.velocityRadPerS = wNext + 0; // + 0 turns -0 into 0, so traces compare with Object.is
    this.positionRad += dt * this.velocityRadPerS;
    this.applyEndStops();
  }

  private applyEndStops(): void {
    if (this.positionRad > this.travelRad) {
      this.positionRad = this.travelRad;
      if (this.velocityRadPerS > 0) this.velocityRadPerS = 0;
    } else if (this.positionRad < -this.travelRad) {
      this.positionRad = -this.travelRad;
      if (this.velocityRadPerS < 0) this.velocityRadPerS = 0;
    }
  }
}

export interface SensorConfig {
  /** Quantisation step, milli-degrees (integer >= 1): readings are multiples of it before noise. */
  readonly resolutionMilliDeg: number;
  /** Noise amplitude, milli-degrees (integer >= 0): uniform integer in ±noiseMilliDeg. */
  readonly noiseMilliDeg: number;
}

/** A 15-bit-class absolute magnetic encoder (≈ 11 m° per count, here 10) with a little noise. */
export const DEFAULT_SENSOR: SensorConfig = { resolutionMilliDeg: 10, noiseMilliDeg: 5 };

export function sensorConfigProblem(c: SensorConfig): string | null {
  if (!Number.isInteger(c.resolutionMilliDeg) || c.resolutionMilliDeg < 1 || c.resolutionMilliDeg > POSITION_MILLIDEG_LIMIT) {
    return `resolutionMilliDeg must be an integer in [1, ${POSITION_MILLIDEG_LIMIT}]`;
  }
  if (!Number.isInteger(c.noiseMilliDeg) || c.noiseMilliDeg < 0 || c.noiseMilliDeg > POSITION_MILLIDEG_LIMIT) {
    return `noiseMilliDeg must be an integer in [0, ${POSITION_MILLIDEG_LIMIT}]`;
  }
  return null;
}

/** Position sensor: quantise to the resolution (round half up), add seeded noise, clamp to ±2^19 m°. */
export class PositionSensor {
  readonly config: SensorConfig;
  private readonly prng: Prng;

  constructor(config: SensorConfig, prng: Prng) {
    const problem = sensorConfigProblem(config);
    if (!(problem === null)) fail(`sensor config: ${problem}`);
    this.config = config;
    this.prng = prng;
  }

  /** One reading, integer milli-degrees. Draws from the PRNG only when noiseMilliDeg > 0. */
  read(truePositionMilliDeg: number): number {
    assert(Number.isFinite(truePositionMilliDeg), 'sensor input is not finite');
    const resolution = this.config.resolutionMilliDeg;
    const noise = this.config.noiseMilliDeg;
    let reading = Math.round(truePositionMilliDeg / resolution) * resolution;
    if (noise > 0) reading += this.prng.nextIntInclusive(-noise, noise);
    if (reading > POSITION_MILLIDEG_LIMIT) reading = POSITION_MILLIDEG_LIMIT;
    else if (reading < -POSITION_MILLIDEG_LIMIT) reading = -POSITION_MILLIDEG_LIMIT;
    return reading + 0;
  }
}
