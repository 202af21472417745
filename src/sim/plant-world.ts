/**
 * The motor world pid-q16 controls: the setpoint profile, the actuator (drive), the plant and the
 * position sensor, advanced one tick at a time. The loop model talks to it through `LoopWorld`
 * only, so the HIL bench can put its own command path (johnny-five), disturbances and recorders
 * around the same models.
 *
 * Channels: inputs [setpointMilliDeg, positionMilliDeg]; outputs [commandMv (to the drive),
 * rateMilliDegPerTick (telemetry, not actuated)]. Per tick the loop calls sense(tick, inputs) once
 * (the setpoint and the reading sent to the replicas), then actuate(tick, commands) once (the
 * world delivers the command to the drive and steps the plant).
 * Deterministic: a pure function of the configuration, the seed and the commands.
 */
import { assert } from '../core/assert.js';
import { deriveSeed, Prng } from '../core/prng.js';
import { STREAM } from '../loop/loop-model.js';
import type { LoopWorld, PlantDefinition } from '../loop/world.js';
import { Actuator, DEFAULT_ACTUATOR, type ActuatorConfig } from './actuator.js';
import { DEFAULT_PLANT, DEFAULT_SENSOR, Plant, PositionSensor, type PlantConfig, type SensorConfig } from './plant.js';
import { defaultProfile, type SetpointProfile } from './setpoint-profile.js';

/** Channel indexes of pid-q16 that the motor world uses. */
const INPUT_SETPOINT = 0;
const INPUT_POSITION = 1;
const OUTPUT_COMMAND_MV = 0;

export interface PlantWorldConfig {
  readonly rateHz: number;
  /** The setpoint the position should follow (default: defaultProfile over `ticks`). */
  readonly profile?: SetpointProfile;
  /** The run's length, for the default profile. */
  readonly ticks?: number;
  /** The run's seed: the sensor noise is drawn from a stream derived from it. */
  readonly seed: number;
  /** The noise seed, when it should differ from the run's (a scenario's `sensor.noiseSeed`). */
  readonly sensorNoiseSeed?: number;
  readonly plant?: PlantConfig;
  readonly actuator?: ActuatorConfig;
  readonly sensor?: SensorConfig;
  /** External load torque on the output shaft at a tick, N·m (default none). */
  readonly loadTorqueNmAt?: (tick: number) => number;
  /** A faulty sensor: may replace the reading at a tick (default: the reading as it is). */
  readonly glitchReading?: (tick: number, readingMilliDeg: number) => number;
  /**
   * How the voted command reaches the drive: returns what the drive received this tick, or null
   * when nothing arrived (its watchdog counts those). Default: directly, every tick.
   */
  readonly commandPath?: (tick: number, commandMv: number) => number | null;
}

export class PlantWorld implements LoopWorld {
  readonly plant: Plant;
  readonly actuator: Actuator;
  readonly sensor: PositionSensor;
  readonly actuatorConfig: ActuatorConfig;
  readonly profile: SetpointProfile;
  /** The command the drive received on the last tick (null: none). */
  lastReceivedMv: number | null = null;
  private readonly config: PlantWorldConfig;

  constructor(config: PlantWorldConfig) {
    this.config = config;
    this.actuatorConfig = config.actuator ?? DEFAULT_ACTUATOR;
    this.profile = config.profile ?? defaultProfile(config.rateHz, config.ticks ?? 2_000);
    this.plant = new Plant(config.rateHz, config.plant ?? DEFAULT_PLANT);
    this.actuator = new Actuator(this.actuatorConfig);
    const noiseSeed = config.sensorNoiseSeed ?? deriveSeed(config.seed, STREAM.sensor);
    this.sensor = new PositionSensor(config.sensor ?? DEFAULT_SENSOR, new Prng(noiseSeed));
  }

  get actuatorCounters(): { watchdogTrips: number; commandsRejected: number } {
    return { watchdogTrips: this.actuator.watchdogTrips, commandsRejected: this.actuator.commandsRejected };
  }

  sense(tick: number, inputs: Int32Array): void {
    const reading = this.sensor.read(this.plant.positionMilliDeg);
    inputs[INPUT_SETPOINT] = this.profile.setpointAt(tick);
    inputs[INPUT_POSITION] = this.config.glitchReading === undefined ? reading : this.config.glitchReading(tick, reading);
  }

  actuate(tick: number, commands: Int32Array): void {
    const commandMv = commands[OUTPUT_COMMAND_MV] as number;
    const path = this.config.commandPath;
    this.stepWith(tick, path === undefined ? commandMv : path(tick, commandMv));
  }

  /**
   * One tick in which the drive received `receivedMv` (null: nothing; a dead voter sends nothing).
   * The HIL bench uses it directly to keep the plant running after the voter died.
   */
  stepWith(tick: number, receivedMv: number | null): void {
    this.lastReceivedMv = receivedMv;
    this.actuator.tick(receivedMv);
    const loadNm = this.config.loadTorqueNmAt === undefined ? 0 : this.config.loadTorqueNmAt(tick);
    assert(Number.isFinite(loadNm), 'load torque is not finite');
    this.plant.step(this.actuator.appliedMv, this.actuator.brakeEngaged, loadNm);
  }

  enterSafeState(): void {
    this.actuator.enterSafeState();
  }
}

/** The motor plant as a module: the world pid-q16 runs against by default. */
export const MOTOR_PLANT: PlantDefinition = {
  kind: 'tmr-plant',
  name: 'motor',
  inputs: ['setpointMilliDeg', 'positionMilliDeg'],
  outputs: ['commandMv', 'rateMilliDegPerTick'],
  tracking: { setpoint: 'setpointMilliDeg', measured: 'positionMilliDeg', unit: 'mdeg' },
  create: (options) => new PlantWorld({ rateHz: options.rateHz, seed: options.seed, ticks: options.ticks }),
  setpointProfile: (options) => defaultProfile(options.rateHz, options.ticks),
};
