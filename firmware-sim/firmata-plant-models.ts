/**
 * The plants the simulated Firmata plant board (firmata-plant.ts) runs on its own clock, each
 * behind the drives a real bench has, with the drives' dead-man input on a heartbeat pin. The
 * physics is src/'s, reused as it is: the motor is src/sim/actuator.ts's Actuator driving
 * src/sim/plant.ts's Plant read by its PositionSensor (as src/sim/plant-world.ts wires them); the
 * tank is src/laws/tank/plant.ts's TankWorld with its ChannelDrives.
 *
 * The dead-man rule, the same for both: a command reaches the drives only on a board tick with a
 * heartbeat edge; between edges every drive holds what it applies; `watchdogTicks` board ticks in a
 * row without an edge put every drive in its safe state, latched until rearm(). Before the first
 * edge the drives are disabled (at their safe values, nothing counted), as a drive powers up.
 * The motor's Actuator is configured with the dead-man's ticks and is its watchdog; the tank's
 * ChannelDrives have a fixed 100 ms watchdog of their own, so the tank counts the dead-man here and
 * latches them with enterSafeState() (they are ticked only with a command: their own watchdog then
 * counts only commands they refuse).
 *
 * Channels are the law's, by index, as the plant definitions (MOTOR_PLANT, TANK_PLANT) name them.
 */
import { assert } from '../src/core/assert.js';
import { deriveSeed, Prng } from '../src/core/prng.js';
import type { PlantDefinition } from '../src/loop/world.js';
import { TANK_PLANT, TankWorld } from '../src/laws/tank/plant.js';
import { Actuator, DEFAULT_ACTUATOR } from '../src/sim/actuator.js';
import { DEFAULT_PLANT, DEFAULT_SENSOR, Plant, PositionSensor } from '../src/sim/plant.js';
import { MOTOR_PLANT } from '../src/sim/plant-world.js';

export const PLANT_KINDS = ['motor', 'tank'] as const;
export type PlantKind = (typeof PLANT_KINDS)[number];

/** What the dead-man input did this board tick. */
export type Delivery =
  /** Not armed yet (no heartbeat edge ever): drives at their safe values, nothing counted. */
  | 'disabled'
  /** A heartbeat edge this tick: the commands last written reach the drives. */
  | 'deliver'
  /** No edge this tick: the drives hold what they apply; the dead-man counts. */
  | 'hold';

/**
 * The drives' dead-man input: a pin the host toggles on every tick it is alive. Levels written to
 * it between board ticks make edges; each board tick turns them into what the drives get.
 */
export class DeadManInput {
  /** Heartbeat edges seen in all. */
  edges = 0;
  private level: number;
  private edgesThisTick = 0;
  private isArmed = false;
  private silentTicks = 0;

  /** `initialLevel`: the pin's level at power-up, or -1 when unknown (the first level written is then no edge). */
  constructor(initialLevel: 0 | 1 | -1) {
    this.level = initialLevel;
  }

  /** A level written to the heartbeat pin. */
  write(level: number): void {
    if (this.level !== -1 && level !== this.level) {
      this.edgesThisTick++;
      this.edges++;
    }
    this.level = level;
  }

  /** One board tick: 'disabled' until the first edge, then 'deliver' on a tick with an edge, 'hold' on one without. */
  tick(): Delivery {
    const edge = this.edgesThisTick > 0;
    this.edgesThisTick = 0;
    if (!this.isArmed && !edge) return 'disabled';
    this.isArmed = true;
    this.silentTicks = edge ? 0 : this.silentTicks + 1;
    return edge ? 'deliver' : 'hold';
  }

  get armed(): boolean {
    return this.isArmed;
  }

  /** Board ticks since the last edge. */
  get ticksWithoutEdge(): number {
    return this.silentTicks;
  }
}

export interface BoardPlantOptions {
  readonly rateHz: number;
  /** Seeds the plant's own sensor noise. */
  readonly seed: number;
  /** Board ticks without a heartbeat edge that put the drives in their safe state (>= 1). */
  readonly watchdogTicks: number;
}

export interface BoardPlant {
  /** Its law channels, by name. */
  readonly definition: PlantDefinition;
  /**
   * One board tick: the drives take `commands` (by law output channel; `written[c]` is 0 for a
   * channel the host has not written since reset) as `delivery` says, then the physics steps.
   */
  tick(commands: Int32Array, written: Uint8Array, delivery: Delivery): void;
  /** What the plant's sensors read now, in law input channel units, into `inputs` (the channels it measures). */
  sense(boardTick: number, inputs: Int32Array): void;
  /** True while the drives are latched in their safe state (until rearm()). */
  readonly tripped: boolean;
  readonly watchdogTrips: number;
  rearm(): void;
  /** What the plant does now, for status lines (integers and flags). */
  state(): Record<string, number | boolean>;
}

/** The motor's sensor noise stream, derived from the board's seed. */
const MOTOR_SENSOR_STREAM = 1;
const MOTOR_COMMAND = MOTOR_PLANT.outputs.indexOf('commandMv');
const MOTOR_POSITION = MOTOR_PLANT.inputs.indexOf('positionMilliDeg');

class MotorBoardPlant implements BoardPlant {
  readonly definition = MOTOR_PLANT;
  private readonly actuator: Actuator;
  private readonly plant: Plant;
  private readonly sensor: PositionSensor;

  constructor(options: BoardPlantOptions) {
    this.actuator = new Actuator({ ...DEFAULT_ACTUATOR, watchdogTicks: options.watchdogTicks });
    this.plant = new Plant(options.rateHz, DEFAULT_PLANT);
    this.sensor = new PositionSensor(DEFAULT_SENSOR, new Prng(deriveSeed(options.seed, MOTOR_SENSOR_STREAM)));
  }

  tick(commands: Int32Array, written: Uint8Array, delivery: Delivery): void {
    if (delivery !== 'disabled') this.actuator.tick(delivery === 'deliver' && written[MOTOR_COMMAND] === 1 ? commands[MOTOR_COMMAND]! : null);
    this.plant.step(this.actuator.appliedMv, this.actuator.brakeEngaged, 0);
  }

  sense(_boardTick: number, inputs: Int32Array): void {
    inputs[MOTOR_POSITION] = this.sensor.read(this.plant.positionMilliDeg);
  }

  get tripped(): boolean {
    return this.actuator.watchdogTripped;
  }

  get watchdogTrips(): number {
    return this.actuator.watchdogTrips;
  }

  rearm(): void {
    this.actuator.rearm();
  }

  state(): Record<string, number | boolean> {
    return {
      positionMilliDeg: Math.round(this.plant.positionMilliDeg),
      appliedMv: this.actuator.appliedMv,
      brakeEngaged: this.actuator.brakeEngaged,
      commandsRejected: this.actuator.commandsRejected,
    };
  }
}

class TankBoardPlant implements BoardPlant {
  readonly definition = TANK_PLANT;
  private readonly world: TankWorld;
  private readonly drives: TankWorld['valve'][];
  private ticksWithoutEdge = 0;
  private latched = false;
  private trips = 0;

  constructor(private readonly options: BoardPlantOptions) {
    // ticks: the length of the world's own setpoint profile, which the board never reports.
    this.world = new TankWorld({ rateHz: options.rateHz, seed: options.seed, ticks: 1 });
    this.drives = [this.world.valve, this.world.pump, this.world.alarm];
    assert(this.drives.every((d, c) => d.config.name === TANK_PLANT.outputs[c]), 'tank drives in the law order');
  }

  tick(commands: Int32Array, written: Uint8Array, delivery: Delivery): void {
    if (delivery === 'deliver') {
      this.ticksWithoutEdge = 0;
      for (let c = 0; c < this.drives.length; c++) {
        if (written[c] === 1) this.drives[c]!.tick(commands[c]!);
      }
    } else if (delivery === 'hold' && !this.latched && ++this.ticksWithoutEdge >= this.options.watchdogTicks) {
      this.latched = true;
      this.trips++;
      this.world.enterSafeState();
    }
    this.world.step();
  }

  sense(boardTick: number, inputs: Int32Array): void {
    this.world.sense(boardTick, inputs);
  }

  get tripped(): boolean {
    return this.latched || this.drives.some((d) => d.safeState);
  }

  get watchdogTrips(): number {
    return this.trips + this.drives.reduce((n, d) => n + d.watchdogTrips, 0);
  }

  rearm(): void {
    this.latched = false;
    this.ticksWithoutEdge = 0;
    for (const d of this.drives) d.rearm();
  }

  state(): Record<string, number | boolean> {
    return {
      levelMm: Math.round(this.world.levelMm),
      valvePermille: Math.round(this.world.valvePermille),
      pumpOn: this.world.pump.applied,
      alarm: this.world.alarm.applied,
      commandsRejected: this.drives.reduce((n, d) => n + d.commandsRejected, 0),
    };
  }
}

export function createBoardPlant(kind: PlantKind, options: BoardPlantOptions): BoardPlant {
  assert(Number.isInteger(options.rateHz) && options.rateHz >= 1, 'plant rate');
  assert(Number.isInteger(options.watchdogTicks) && options.watchdogTicks >= 1, 'dead-man ticks');
  return kind === 'motor' ? new MotorBoardPlant(options) : new TankBoardPlant(options);
}
