/**
 * The tank plant the tank law runs against by default: a vertical tank filled through a
 * proportional inlet valve and a booster pump and drained through an open outlet, a level sensor
 * with noise, a float switch near the top, an alarm lamp, and a setpoint profile of level steps.
 *
 * Physics (floats are fine here: the plant is simulation, never the control path; every run is a
 * pure function of its options and seed):
 *   volume = area · level (1 m² · 1 mm = 1 L);
 *   inflow = valve‰/1000 · VALVE_FLOW_LPS_MAX + pump · PUMP_FLOW_LPS;
 *   outflow = OUTLET_LPS_PER_SQRT_MM · √level (Torricelli);
 *   d level / dt = (inflow − outflow) / area, one Euler step per tick, level kept in [0, height].
 * The valve moves at most VALVE_SLEW_PERMILLE_PER_S; every output goes through a ChannelDrive
 * (range check, watchdog to the safe value: valve shut, pump off, alarm on).
 */
import { deriveSeed, Prng } from '../../core/prng.js';
import { ChannelDrive } from '../../sim/channel-drive.js';
import { compileProfile, type SetpointProfile } from '../../sim/setpoint-profile.js';
import type { LoopWorld, PlantDefinition, PlantOptions } from '../../loop/world.js';

export const TANK_AREA_M2 = 0.02;
export const TANK_HEIGHT_MM = 2000;
export const VALVE_FLOW_LPS_MAX = 2.0;
export const PUMP_FLOW_LPS = 1.0;
/** 1.2 L/s out at 1 m of water. */
export const OUTLET_LPS_PER_SQRT_MM = 1.2 / Math.sqrt(1000);
export const VALVE_SLEW_PERMILLE_PER_S = 500;
/** Height of the float switch: wet at or above it. */
export const FLOAT_SWITCH_MM = 1_900;
export const LEVEL_NOISE_MM = 2;
export const INITIAL_LEVEL_MM = 300;
/** Watchdog of every drive, seconds without a command. */
const WATCHDOG_S = 0.1;
const SENSOR_NOISE_STREAM = 1;

/** Level setpoints over the run: 800 mm, 1200 mm, then 600 mm, a third of the run each. */
export function tankProfile(ticks: number): SetpointProfile {
  const third = Math.max(1, Math.floor(ticks / 3));
  return compileProfile([
    { kind: 'step', toMilliDeg: 800, durationTicks: third },
    { kind: 'step', toMilliDeg: 1_200, durationTicks: third },
    { kind: 'step', toMilliDeg: 600, durationTicks: Math.max(1, ticks - 2 * third) },
  ]);
}

export class TankWorld implements LoopWorld {
  levelMm = INITIAL_LEVEL_MM;
  valvePermille = 0;
  readonly valve: ChannelDrive;
  readonly pump: ChannelDrive;
  readonly alarm: ChannelDrive;
  private readonly dtS: number;
  private readonly prng: Prng;
  readonly profile: SetpointProfile;

  constructor(options: PlantOptions) {
    this.dtS = 1 / options.rateHz;
    const watchdogTicks = Math.max(1, Math.round(WATCHDOG_S * options.rateHz));
    this.valve = new ChannelDrive({ name: 'valvePermille', min: 0, max: 1000, safe: 0, watchdogTicks });
    this.pump = new ChannelDrive({ name: 'pumpOn', min: 0, max: 1, safe: 0, watchdogTicks });
    this.alarm = new ChannelDrive({ name: 'alarm', min: 0, max: 1, safe: 1, watchdogTicks });
    this.prng = new Prng(deriveSeed(options.seed, SENSOR_NOISE_STREAM));
    this.profile = tankProfile(options.ticks);
  }

  get actuatorCounters(): { watchdogTrips: number; commandsRejected: number } {
    const drives = [this.valve, this.pump, this.alarm];
    return { watchdogTrips: drives.reduce((n, d) => n + d.watchdogTrips, 0), commandsRejected: drives.reduce((n, d) => n + d.commandsRejected, 0) };
  }

  sense(tick: number, inputs: Int32Array): void {
    inputs[0] = this.profile.setpointAt(tick);
    const reading = Math.round(this.levelMm) + this.prng.nextIntInclusive(-LEVEL_NOISE_MM, LEVEL_NOISE_MM);
    inputs[1] = Math.min(TANK_HEIGHT_MM, Math.max(0, reading));
    inputs[2] = this.levelMm >= FLOAT_SWITCH_MM ? 1 : 0;
  }

  actuate(_tick: number, commands: Int32Array): void {
    this.valve.tick(commands[0] as number);
    this.pump.tick(commands[1] as number);
    this.alarm.tick(commands[2] as number);
    this.step();
  }

  /** One tick of physics with what the drives apply now. */
  step(): void {
    const slew = VALVE_SLEW_PERMILLE_PER_S * this.dtS;
    const target = this.valve.applied;
    this.valvePermille += Math.max(-slew, Math.min(slew, target - this.valvePermille));
    const inflow = (this.valvePermille / 1000) * VALVE_FLOW_LPS_MAX + this.pump.applied * PUMP_FLOW_LPS;
    const outflow = OUTLET_LPS_PER_SQRT_MM * Math.sqrt(this.levelMm);
    this.levelMm = Math.min(TANK_HEIGHT_MM, Math.max(0, this.levelMm + ((inflow - outflow) / TANK_AREA_M2) * this.dtS));
  }

  enterSafeState(): void {
    this.valve.enterSafeState();
    this.pump.enterSafeState();
    this.alarm.enterSafeState();
  }
}

export const TANK_PLANT: PlantDefinition = {
  kind: 'tmr-plant',
  name: 'tank',
  inputs: ['levelSetpointMm', 'levelMm', 'highSwitch'],
  outputs: ['valvePermille', 'pumpOn', 'alarm'],
  tracking: { setpoint: 'levelSetpointMm', measured: 'levelMm', unit: 'mm' },
  create: (options) => new TankWorld(options),
  setpointProfile: (options) => tankProfile(options.ticks),
};
