/**
 * Scenario files: what a HIL run is (the law and plant, replicas, rate, length, faults, and for
 * the motor plant its setpoints, models, noise, disturbances and a dead voter) and what it must
 * show (criteria). JSON, checked completely before anything starts: an unknown field, a wrong
 * type, a fault on a replica that does not exist, a time past the end of the run or a motor
 * section in a scenario on another plant is refused with the file, the field path and the
 * problem, e.g. `hil/scenarios/x.json: faults[1].replica: replica 3 does not exist (replicas has 3 entries)`.
 *
 * Times are given in ticks or in seconds, never both: `atTick` or `atS`, `durationTicks` or
 * `durationS`; seconds are converted with the scenario's rate and must land on a whole tick.
 */
import type { Mode } from '../src/core/degradation.js';
import { MODES } from '../src/core/degradation.js';
import { replicaFromConfig, UsageError } from '../src/cli/options.js';
import { ExtensionRegistry } from '../src/cli/extensions.js';
import firmwareSim, { FIRMATA_SIM_PLANTS, firmataSimIo, SIM_BOARD_DEAD_MAN_MS } from '../firmware-sim/extension.js';
import { RATE_HZ_MAX as BOARD_RATE_HZ_MAX, WATCHDOG_MS_MAX as BOARD_WATCHDOG_MS_MAX } from '../firmware-sim/firmata-plant.js';
import { dirname, resolve } from 'node:path';
import { parseSettingsJson } from '../src/config/fields.js';
import { ANALOG_RAW_MAX, checkIoMap, IO_MAP_BYTES_MAX, pinName, pinNumber, type IoMap } from '../src/io/io-map.js';
import { InputFileError, readInputText } from '../src/loop/input-file.js';
import { INPUT_FAULT_REASONS, type InputFaultReason } from '../src/loop/world.js';
import { FAULT_KINDS, type FaultKind } from '../src/protocol/messages.js';
import { DEFAULT_RECOVERY, type RecoveryOptions } from '../src/loop/recovery.js';
import { RECOVERY_LIMITS, restartWindowMsMin } from '../src/config/recovery-limits.js';
import type { ReplicaSpec } from '../src/runtime/replica-kinds.js';
import { actuatorConfigProblem, DEFAULT_ACTUATOR, type ActuatorConfig } from '../src/sim/actuator.js';
import { DEFAULT_PLANT, DEFAULT_SENSOR, plantConfigProblem, sensorConfigProblem, type PlantConfig, type SensorConfig } from '../src/sim/plant.js';
import { validateProfile, type ProfileSegment } from '../src/sim/setpoint-profile.js';
import { LawError } from '../src/law/law.js';
import { DEFAULT_LAW, SHIPPED_LAWS, shippedLaw } from '../src/law/law-loader.js';
import type { LoadedLaw } from '../src/law/law-runtime.js';
import { SHIPPED_PLANTS, shippedPlantFor } from '../src/sim/plants.js';
import type { PlantDefinition } from '../src/loop/world.js';
import { FIRMATA_DEFAULTS, type ActuatorPathSpec } from './actuator-path.js';

export const SCENARIO_BYTES_MAX = 256 * 1024;
export const SCENARIO_TICKS_MAX = 1_000_000;
export const SCENARIO_REPLICAS_MAX = 15;
export const SCENARIO_FAULTS_MAX = 64;
export const SCENARIO_DISTURBANCES_MAX = 64;
export const SCENARIO_STEPS_MAX = 64;
export const SCENARIO_SENSOR_FAULTS_MAX = 64;

/** An in-process replica in simulated time (only in a set made of them). */
export type ScenarioReplica = { readonly kind: 'sim' } | ReplicaSpec;

export interface ScenarioFault {
  readonly kind: FaultKind;
  readonly replicaIndex: number;
  readonly atTick: number;
  /** 0: until the end of the run. */
  readonly durationTicks: number;
}

export type Disturbance =
  | { readonly kind: 'loadTorque'; readonly atTick: number; readonly durationTicks: number; readonly torqueNm: number }
  | { readonly kind: 'sensorGlitch'; readonly atTick: number; readonly durationTicks: number; readonly mode: 'offset' | 'stuck'; readonly offsetMilliDeg: number };

/** The plant whose scenario sections (setpoint, models, disturbances, actuator path, dead voter) this bench models. */
export const MOTOR_PLANT_NAME = 'motor';

export interface StepCriterion {
  readonly atTick: number;
  /** The settling band in the plant's tracking unit (the motor: m°); given as `settleBand`, or `settleBandMilliDeg` on the motor. */
  readonly settleBand: number | null;
  readonly settleWithinTicks: number | null;
  readonly overshootPercentMax: number | null;
}

/** One output channel's command the loop must end with. */
export interface FinalCommand {
  readonly channelIndex: number;
  readonly name: string;
  readonly value: number;
}

export interface Criteria {
  readonly unsafeCommandsMax: number;
  /**
   * |setpoint − measured| of the plant's tracking pair within a bound over a window, in its unit.
   * The motor measures the true shaft position (m°); another plant its measured input channel.
   */
  readonly trackingError: {
    readonly maxAbs: number;
    /** The field the bound was given in, for the criterion's name. */
    readonly field: 'maxAbs' | 'maxAbsMilliDeg';
    readonly fromTick: number;
    readonly toTick: number;
  } | null;
  readonly steps: readonly StepCriterion[];
  readonly detectionLatencyTicksMax: number | null;
  readonly modesMustReach: readonly Mode[];
  readonly modesMustNotReach: readonly Mode[];
  readonly votedIdenticalToFaultFree: boolean;
  readonly actuatorSafeWithinTicks: number | null;
  readonly deadlineMissesMax: number | null;
  /** With recovery: at least this many re-admissions over the run. */
  readonly readmissionsMin: number | null;
  /** With recovery: at least this many replicas sent back out from probation (a fault during re-admission). */
  readonly probationFailuresMin: number | null;
  /** The mode the loop must be in at the end of the run. */
  readonly finalMode: Mode | null;
  /** The commands the voter sent on its last tick, per named output channel (`"safe"`: every channel's safe value). */
  readonly finalCommands: readonly FinalCommand[] | null;
  /** Real I/O: the input fault the run must end on, and how soon after its cause the loop must be safe. */
  readonly inputFault: InputFaultCriterion | null;
  /** How the run must end: 'none' (the kill switch never tripped) or the trigger it tripped on; null: not checked. */
  readonly killSwitch: 'none' | 'INPUT_FAULT' | null;
  /** Real I/O: after the loop stopped, the board's outputs held every wired channel's safe value (read back from the board). */
  readonly boardSafeAtEnd: boolean;
  /** Real I/O with the board vanishing: the host saw its port go within this many ticks of the vanishing. */
  readonly boardLostWithinTicks: number | null;
}

/**
 * `inputFault`: the loop must go to its safe state on this input fault (the kill switch's
 * INPUT_FAULT) no later than `safeWithinTicks` ticks after its cause, having commanded from a held
 * value no longer than the map's hold policy allows.
 */
export interface InputFaultCriterion {
  readonly reason: InputFaultReason;
  readonly channelIndex: number;
  readonly channel: string;
  readonly safeWithinTicks: number;
  /** The I/O map's hold for the channel, ticks. */
  readonly holdTicks: number;
  /** The host tick of the first thing in io that makes the channel fault so (a sensor fault on its pin, or the board vanishing). */
  readonly causeTick: number;
  /** What that is, for messages: 'stale on pin A0', 'the board vanishing'. */
  readonly cause: string;
}

/**
 * The motor plant's sections of a scenario: setpoints, model overrides, sensor noise, disturbances
 * and the johnny-five actuator path. Only a scenario on the motor plant has them; any other plant
 * runs the world its own module creates (PlantDefinition.create).
 */
export interface MotorSetup {
  readonly setpoint: { readonly initialMilliDeg: number; readonly segments: readonly ProfileSegment[] };
  readonly plant: PlantConfig;
  readonly actuator: ActuatorConfig;
  readonly sensor: SensorConfig;
  readonly sensorNoiseSeed: number | null;
  readonly disturbances: readonly Disturbance[];
  readonly actuatorPath: ActuatorPathSpec;
}

/** What the simulated Firmata board can be told to do to one of its input pins (firmware-sim/firmata-plant.ts). */
export const SENSOR_FAULT_KINDS = ['stale', 'noise', 'stuck'] as const;
export type SensorFaultKind = (typeof SENSOR_FAULT_KINDS)[number];

/** A fault of one sensor on the board, from a host tick (sent after the tick before), for a while or to the end. */
export interface ScenarioSensorFault {
  /** The pin's Firmata number (A0 = 14), an input of the I/O map. */
  readonly pin: number;
  /** The law input channel wired to the pin. */
  readonly channelIndex: number;
  readonly fault: SensorFaultKind;
  readonly atTick: number;
  /** 0: until the end of the run (or the board's vanishing). */
  readonly durationTicks: number;
  /** noise: ± this many raw ADC counts, uniform; else null. */
  readonly amplitude: number | null;
  /** stuck: the raw reading it reports (ADC counts, or 0/1 on a digital pin); else null. */
  readonly raw: number | null;
}

/**
 * Real I/O: the loop closes through the simulated Firmata plant board on a pseudo-terminal, in
 * real time, wired by an I/O map; the board's plant runs on its own clock.
 */
export interface ScenarioIo {
  readonly kind: 'firmata-sim';
  /** The I/O map, checked against the law; its source is the file's path. */
  readonly map: IoMap;
  /** The board's own clock, Hz; null: the board's default. */
  readonly boardRateHz: number | null;
  /** The board's drive dead-man, ms without a heartbeat edge (default: as `tmr run --io firmata-sim` starts it). */
  readonly boardWatchdogMs: number;
  readonly sensorFaults: readonly ScenarioSensorFault[];
  /** The board is unplugged before this host tick (board and link killed); null: never. */
  readonly boardVanishTick: number | null;
  /** The motor's setpoint for an input the map binds to `profile` (the scenario's `setpoint`); null: the plant's own profile. */
  readonly setpoint: MotorSetup['setpoint'] | null;
}

export interface Scenario {
  readonly file: string;
  readonly name: string;
  readonly description: string;
  /** The law every replica runs (a shipped one; default pid-q16). */
  readonly law: LoadedLaw;
  /** The plant it controls (default: the law's own). */
  readonly plant: PlantDefinition;
  readonly replicas: readonly ScenarioReplica[];
  readonly rateHz: number;
  readonly ticks: number;
  readonly seed: number;
  readonly simplexPolicy: 'safe' | 'simplex';
  /** Reply deadline for real replicas, µs (default 75 % of the period). */
  readonly deadlineUs: number;
  /** The motor plant's sections; null for another plant and for an io scenario (the board runs the plant). */
  readonly motor: MotorSetup | null;
  /** Real I/O through the simulated Firmata board; null: the in-process world. */
  readonly io: ScenarioIo | null;
  readonly faults: readonly ScenarioFault[];
  /** Motor plant only: the voter stops here without an orderly shutdown. */
  readonly voterDeathTick: number | null;
  /** Restart, re-synchronise and re-admit excluded replicas (as `--recover`); null: off. */
  readonly recovery: RecoveryOptions | null;
  readonly criteria: Criteria;
}

/** A scenario file that cannot be run, and exactly where it is wrong. */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
  constructor(
    readonly file: string,
    readonly field: string,
    problem: string,
  ) {
    super(`${file}: ${field === '' ? '' : `${field}: `}${problem}`);
  }
}

type Json = Record<string, unknown>;

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Field-by-field reading with the path of the field in every error. */
class Reader {
  constructor(
    readonly file: string,
    readonly rateHz: number,
    readonly ticks: number,
  ) {}

  fail(field: string, problem: string): never {
    throw new ScenarioError(this.file, field, problem);
  }

  object(value: unknown, field: string, allowed: readonly string[]): Json {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(field, `must be an object, got ${show(value)}`);
    const entry = value as Json;
    for (const key of Object.keys(entry)) {
      if (!allowed.includes(key)) this.fail(field === '' ? key : `${field}.${key}`, `unknown field (allowed: ${allowed.join(', ')})`);
    }
    return entry;
  }

  array(value: unknown, field: string, max: number): unknown[] {
    if (!Array.isArray(value)) this.fail(field, `must be an array, got ${show(value)}`);
    if (value.length > max) this.fail(field, `at most ${max} entries, got ${value.length}`);
    return value;
  }

  integer(value: unknown, field: string, min: number, max: number): number {
    if (typeof value !== 'number' || !Number.isInteger(value)) this.fail(field, `must be an integer, got ${show(value)}`);
    if (value < min || value > max) this.fail(field, `must be in [${min}, ${max}], got ${value}`);
    return value;
  }

  number(value: unknown, field: string, min: number, max: number): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(field, `must be a number, got ${show(value)}`);
    if (value < min || value > max) this.fail(field, `must be in [${min}, ${max}], got ${value}`);
    return value;
  }

  string(value: unknown, field: string, pattern?: RegExp, patternText?: string): string {
    if (typeof value !== 'string' || value.length === 0) this.fail(field, `must be a non-empty string, got ${show(value)}`);
    if (pattern !== undefined && !pattern.test(value)) this.fail(field, `must be ${patternText ?? pattern.source}, got ${show(value)}`);
    return value;
  }

  oneOf<T extends string>(value: unknown, field: string, options: readonly T[]): T {
    if (typeof value !== 'string' || !options.includes(value as T)) this.fail(field, `must be one of ${options.join(', ')}, got ${show(value)}`);
    return value as T;
  }

  boolean(value: unknown, field: string): boolean {
    if (typeof value !== 'boolean') this.fail(field, `must be true or false, got ${show(value)}`);
    return value;
  }

  /** Seconds to whole ticks at the scenario's rate. */
  secondsToTicks(seconds: unknown, field: string, max: number): number {
    const s = this.number(seconds, field, 0, max / this.rateHz);
    const exact = s * this.rateHz;
    const ticks = Math.round(exact);
    if (Math.abs(exact - ticks) > 1e-6) this.fail(field, `${s} s is not a whole number of ticks at ${this.rateHz} Hz`);
    return ticks;
  }

  /**
   * The one of `tickKey` / `secondsKey` that is given, in ticks, and the field it came from;
   * null when neither is. Both given is an error.
   */
  private ticksOrSeconds(entry: Json, path: string, tickKey: string, secondsKey: string): { ticks: number; field: string } | null {
    const hasTicks = entry[tickKey] !== undefined;
    const hasSeconds = entry[secondsKey] !== undefined;
    if (hasTicks && hasSeconds) this.fail(`${path}.${tickKey}`, `give ${tickKey} or ${secondsKey}, not both`);
    if (!hasTicks && !hasSeconds) return null;
    const field = `${path}.${hasTicks ? tickKey : secondsKey}`;
    const ticks = hasTicks ? this.integer(entry[tickKey], field, 0, SCENARIO_TICKS_MAX) : this.secondsToTicks(entry[secondsKey], field, SCENARIO_TICKS_MAX);
    return { ticks, field };
  }

  /** `<stem>Tick` or `<stem>S` (exactly one; or neither when a default is given): a tick within the run. */
  tickField(entry: Json, path: string, stem: string, fallback?: number): number {
    const given = this.ticksOrSeconds(entry, path, `${stem}Tick`, `${stem}S`);
    if (given === null) {
      if (fallback !== undefined) return fallback;
      this.fail(`${path}.${stem}Tick`, `missing (give ${stem}Tick or ${stem}S)`);
    }
    if (given.ticks >= this.ticks) this.fail(given.field, `tick ${given.ticks} is past the end of the run (${this.ticks} ticks, the last is ${this.ticks - 1})`);
    return given.ticks;
  }

  /** `durationTicks` or `durationS`; `zeroMeansForever` allows 0 (until the end). Must end within the run. */
  durationField(entry: Json, path: string, startTick: number, zeroMeansForever: boolean, stem = 'duration'): number {
    const given = this.ticksOrSeconds(entry, path, `${stem}Ticks`, `${stem}S`);
    if (given === null) {
      if (zeroMeansForever) return 0;
      this.fail(`${path}.${stem}Ticks`, `missing (give ${stem}Ticks or ${stem}S)`);
    }
    const { ticks: duration, field } = given;
    const min = zeroMeansForever ? 0 : 1;
    if (duration < min) this.fail(field, 'must be at least one tick');
    if (startTick + duration > this.ticks) this.fail(field, `ends at tick ${startTick + duration}, past the end of the run (${this.ticks} ticks)`);
    return duration;
  }
}

const TOP_FIELDS = [
  '$comment', 'name', 'description', 'law', 'replicas', 'rateHz', 'durationTicks', 'durationS', 'seed', 'simplexPolicy', 'deadlineUs', 'setpoint', 'plant',
  'actuator', 'sensor', 'disturbances', 'faults', 'voterDeath', 'actuatorPath', 'recovery', 'io', 'criteria',
] as const;

/** `recovery: {}` turns it on with the defaults; each field overrides one (see RecoveryOptions). */
function readRecovery(r: Reader, value: unknown, rateHz: number): RecoveryOptions | null {
  if (value === undefined) return null;
  const v = r.object(value, 'recovery', ['probationTicks', 'restartsMax', 'restartWindowMs', 'backoffMsBase', 'backoffMsMax', 'simRestartMs']);
  // The same ranges as flags and config files (src/config/recovery-limits.ts): nothing accepted here trips an assertion.
  const int = (field: keyof typeof v & keyof RecoveryOptions & keyof typeof RECOVERY_LIMITS, min: number = RECOVERY_LIMITS[field].min): number =>
    v[field] === undefined ? (DEFAULT_RECOVERY[field] as number) : r.integer(v[field], `recovery.${field}`, min, RECOVERY_LIMITS[field].max);
  const recovery: RecoveryOptions = {
    ...DEFAULT_RECOVERY,
    enabled: true,
    probationTicks: int('probationTicks'),
    restartsMax: int('restartsMax'),
    restartWindowMs: int('restartWindowMs', restartWindowMsMin(rateHz)),
    backoffMsBase: int('backoffMsBase'),
    backoffMsMax: int('backoffMsMax'),
    simRestartMs: int('simRestartMs'),
  };
  if (recovery.backoffMsMax < recovery.backoffMsBase) r.fail('recovery.backoffMsMax', `is less than backoffMsBase (${recovery.backoffMsBase})`);
  return recovery;
}

/** Fields that describe the motor plant's world, refused for any other plant. */
const MOTOR_FIELDS = ['setpoint', 'actuator', 'sensor', 'disturbances', 'actuatorPath', 'voterDeath'] as const;

/** Parses and checks one scenario file's text. Throws ScenarioError naming the file and field. */
export function parseScenario(text: string, file: string): Scenario {
  if (Buffer.byteLength(text) > SCENARIO_BYTES_MAX) throw new ScenarioError(file, '', `larger than ${SCENARIO_BYTES_MAX} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ScenarioError(file, '', `not valid JSON (${(error as Error).message})`);
  }
  const head = new Reader(file, 1, SCENARIO_TICKS_MAX + 1);
  const top = head.object(json, '', TOP_FIELDS);
  const name = head.string(top.name, 'name', /^[a-z0-9][a-z0-9-]{0,63}$/, 'lower-case letters, digits and dashes (it names the result files)');
  const description = head.string(top.description, 'description');
  const { law, plant } = readLawAndPlant(head, top);
  const onMotor = plant.name === MOTOR_PLANT_NAME;
  if (!onMotor) {
    for (const field of MOTOR_FIELDS) if (top[field] !== undefined) head.fail(field, motorOnly(law, plant));
  }
  const rateHz = head.integer(top.rateHz, 'rateHz', 1, 2_000);
  const durationReader = new Reader(file, rateHz, SCENARIO_TICKS_MAX + 1);
  const ticks = durationReader.durationField(top, '', 0, false);
  const r = new Reader(file, rateHz, ticks);
  const io = top.io === undefined ? null : readIo(r, top, law, plant);
  const replicas = readReplicas(r, top.replicas, io !== null);
  const seed = top.seed === undefined ? 1 : r.integer(top.seed, 'seed', 0, 0xffff_ffff);
  const periodUs = Math.floor(1e6 / rateHz);
  const motor = onMotor && io === null ? readMotor(r, top) : null;
  const faults = readFaults(r, top.faults, replicas.length);
  const voterDeathTick = top.voterDeath === undefined ? null : r.tickField(r.object(top.voterDeath, 'voterDeath', ['atTick', 'atS']), 'voterDeath', 'at');
  const scenario: Scenario = {
    file,
    name,
    description,
    law,
    plant,
    replicas,
    rateHz,
    ticks,
    seed,
    simplexPolicy: top.simplexPolicy === undefined ? 'safe' : r.oneOf(top.simplexPolicy, 'simplexPolicy', ['safe', 'simplex'] as const),
    deadlineUs: top.deadlineUs === undefined ? Math.floor(periodUs * 0.75) : r.integer(top.deadlineUs, 'deadlineUs', 100, periodUs - 1),
    motor,
    io,
    faults,
    voterDeathTick,
    recovery: readRecovery(r, top.recovery, rateHz),
    criteria: readCriteria(r, top.criteria, { voterDeathTick, recovery: top.recovery !== undefined, law, plant, io }),
  };
  for (const [i, fault] of faults.entries()) {
    if (voterDeathTick !== null && fault.atTick >= voterDeathTick) r.fail(`faults[${i}].atTick`, `tick ${fault.atTick} is after the voter died (tick ${voterDeathTick})`);
  }
  return scenario;
}

function motorOnly(law: LoadedLaw, plant: PlantDefinition): string {
  return `for the motor plant only (this scenario runs law ${law.name} on plant ${plant.name}, whose world is its module's own)`;
}

/**
 * `law` (a shipped law; default pid-q16) and `plant`: a shipped plant's name (default: the law's
 * own), or an object of overrides of the motor plant's model, which names the motor.
 */
function readLawAndPlant(r: Reader, top: Json): { law: LoadedLaw; plant: PlantDefinition } {
  const law = shippedLaw(top.law === undefined ? DEFAULT_LAW : r.oneOf(top.law, 'law', SHIPPED_LAWS));
  const plantNames = Object.keys(SHIPPED_PLANTS);
  const isObject = typeof top.plant === 'object' && top.plant !== null && !Array.isArray(top.plant);
  if (top.plant !== undefined && typeof top.plant !== 'string' && !isObject) {
    r.fail('plant', `must be a plant's name (${plantNames.join(', ')}) or an object of motor model overrides, got ${show(top.plant)}`);
  }
  const named = typeof top.plant === 'string' ? r.oneOf(top.plant, 'plant', plantNames) : undefined;
  let plant: PlantDefinition;
  try {
    plant = shippedPlantFor(law, named);
  } catch (error) {
    if (error instanceof LawError) r.fail(named === undefined ? 'law' : 'plant', error.message);
    throw error;
  }
  if (top.plant !== undefined && named === undefined && plant.name !== MOTOR_PLANT_NAME) {
    r.fail('plant', `overrides of the motor plant's model, but law ${law.name} runs on plant ${plant.name} (name a plant with a string: ${plantNames.join(', ')})`);
  }
  return { law, plant };
}

function readMotor(r: Reader, top: Json): MotorSetup {
  return {
    setpoint: readSetpoint(r, top.setpoint),
    plant: typeof top.plant === 'string' ? DEFAULT_PLANT : readModel(r, top.plant, 'plant', DEFAULT_PLANT, plantConfigProblem),
    actuator: readModel(r, top.actuator, 'actuator', DEFAULT_ACTUATOR, actuatorConfigProblem),
    ...readSensor(r, top.sensor),
    disturbances: readDisturbances(r, top.disturbances),
    actuatorPath: readActuatorPath(r, top.actuatorPath),
  };
}

/** The replica kinds a scenario may name besides 'sim': the built-in ones and firmware-sim/'s, which the bench starts. */
const REPLICA_KINDS = new ExtensionRegistry().register(firmwareSim);

function readReplicas(r: Reader, value: unknown, withIo: boolean): ScenarioReplica[] {
  const list = r.array(value, 'replicas', SCENARIO_REPLICAS_MAX);
  if (list.length < 3 || list.length % 2 === 0) r.fail('replicas', `must hold an odd number of replicas, 3..${SCENARIO_REPLICAS_MAX}, got ${list.length}`);
  const replicas = list.map((entry, i): ScenarioReplica => {
    const field = `replicas[${i}]`;
    if (entry === 'sim' || (typeof entry === 'object' && entry !== null && (entry as Json).kind === 'sim')) {
      if (typeof entry === 'object') r.object(entry, field, ['kind']);
      return { kind: 'sim' };
    }
    try {
      return replicaFromConfig(entry, field, REPLICA_KINDS);
    } catch (error) {
      if (error instanceof UsageError) {
        const message = error.message.startsWith(field) ? error.message.slice(field.length).replace(/^[:.\s]+/, '') : error.message;
        r.fail(field, message.replace('(one of node,', '(one of sim, node,'));
      }
      throw error;
    }
  });
  const simCount = replicas.filter((x) => x.kind === 'sim').length;
  if (simCount > 0 && withIo) {
    const i = replicas.findIndex((x) => x.kind === 'sim');
    r.fail(`replicas[${i}]`, `'sim' replicas run in simulated time; an io scenario runs in real time through the Firmata board (use node, sim-board or avr-sim)`);
  }
  if (simCount > 0 && simCount < replicas.length) {
    const i = replicas.findIndex((x) => x.kind !== 'sim');
    r.fail(`replicas[${i}]`, `'sim' replicas run in simulated time and cannot be mixed with processes or boards (use 'node' for a real process)`);
  }
  return replicas;
}

/** Fields of the in-process motor world that an io scenario has no use for, and why. */
const NOT_WITH_IO: Readonly<Record<string, string>> = {
  actuator: "the board's plant runs its own drive model (firmware-sim/firmata-plant-models.ts); an io scenario takes no model overrides",
  sensor: "the board's plant runs its own sensor model; an io scenario's sensor faults are io.sensorFaults",
  disturbances: "disturbances act on the in-process motor world; an io scenario's sensor faults are io.sensorFaults",
  actuatorPath: 'with io the voted commands reach the board through the Firmata world, not the johnny-five actuator path',
  voterDeath: "a dead voter is modelled on the in-process motor world and its drive's watchdog, not on the board",
};

/**
 * `io`: the loop closes through the simulated Firmata plant board, wired by an I/O map (default:
 * the shipped one for the plant, boards/firmata/PLANT-io.json; a path is relative to the scenario
 * file), with sensor faults and the board's vanishing on a schedule of host ticks.
 */
function readIo(r: Reader, top: Json, law: LoadedLaw, plant: PlantDefinition): ScenarioIo {
  const entry = r.object(top.io, 'io', ['kind', 'map', 'boardRateHz', 'boardWatchdogMs', 'sensorFaults', 'boardVanishAtTick', 'boardVanishAtS']);
  const kind = r.oneOf(entry.kind, 'io.kind', ['firmata-sim'] as const);
  if (!FIRMATA_SIM_PLANTS.includes(plant.name)) r.fail('io.kind', `the simulated Firmata board runs the ${FIRMATA_SIM_PLANTS.join(' and ')} plants, not ${plant.name}`);
  for (const [field, why] of Object.entries(NOT_WITH_IO)) if (top[field] !== undefined) r.fail(field, `not with io: ${why}`);
  if (typeof top.plant === 'object' && top.plant !== null) r.fail('plant', `not with io: the board's plant runs its own model (name the plant: "${plant.name}")`);
  const map = readIoMap(r, entry.map, law, plant);
  const boardRateHz = entry.boardRateHz === undefined ? null : r.integer(entry.boardRateHz, 'io.boardRateHz', 1, BOARD_RATE_HZ_MAX);
  const boardWatchdogMs = entry.boardWatchdogMs === undefined ? SIM_BOARD_DEAD_MAN_MS : r.integer(entry.boardWatchdogMs, 'io.boardWatchdogMs', 1, BOARD_WATCHDOG_MS_MAX);
  const hasVanish = entry.boardVanishAtTick !== undefined || entry.boardVanishAtS !== undefined;
  const boardVanishTick = hasVanish ? hostTick(r, entry, 'io', 'boardVanishAt') : null;
  const sensorFaults = readSensorFaults(r, entry.sensorFaults, map, law, boardVanishTick);
  let setpoint: MotorSetup['setpoint'] | null = null;
  if (top.setpoint !== undefined) {
    const binding = map.inputs[law.definition.inputs.findIndex((c) => c.name === plant.tracking.setpoint)];
    if (binding?.source !== 'profile') {
      r.fail('setpoint', `the I/O map ${map.source} binds ${plant.tracking.setpoint} to ${binding?.source ?? 'nothing'}, not to the host's profile: this setpoint would reach no replica`);
    }
    setpoint = readSetpoint(r, top.setpoint);
  }
  return { kind, map, boardRateHz, boardWatchdogMs, sensorFaults, boardVanishTick, setpoint };
}

/** The I/O map file, read and checked against the law as `tmr run --io-map` does; every problem names io.map. */
function readIoMap(r: Reader, value: unknown, law: LoadedLaw, plant: PlantDefinition): IoMap {
  const path = value === undefined ? (firmataSimIo.defaultMapPath?.(plant.name) ?? null) : resolve(dirname(r.file), r.string(value, 'io.map'));
  if (path === null) r.fail('io.map', `missing: no map is shipped for plant ${plant.name}`);
  let map: IoMap;
  try {
    map = checkIoMap(parseSettingsJson(readInputText(path, 'the I/O map', IO_MAP_BYTES_MAX), path), path, law);
  } catch (error) {
    if (error instanceof UsageError || error instanceof InputFileError) r.fail('io.map', error.message);
    throw error;
  }
  const profiled = map.inputs.findIndex((b) => b.source === 'profile');
  if (profiled >= 0 && plant.setpointProfile === undefined) {
    r.fail('io.map', `${path}: inputs.${law.definition.inputs[profiled]!.name}: plant '${plant.name}' has no setpoint profile to follow`);
  }
  return map;
}

/** `<stem>Tick` / `<stem>S`, from tick 1: the board is told from the loop's tick hook, after the tick before. */
function hostTick(r: Reader, entry: Json, path: string, stem: string): number {
  const tick = r.tickField(entry, path, stem);
  const field = `${path}.${entry[`${stem}Tick`] !== undefined ? `${stem}Tick` : `${stem}S`}`;
  if (tick < 1) r.fail(field, 'must be tick 1 or later: the board is told after the tick before, from the loop');
  return tick;
}

/** A sensor input's pin as the map and the board name it: A0..A5 or 0..13. */
function readPin(r: Reader, value: unknown, field: string): number {
  try {
    return pinNumber({ label: field, value });
  } catch (error) {
    if (error instanceof UsageError) r.fail(field, error.message.startsWith(`${field}: `) ? error.message.slice(field.length + 2) : error.message);
    throw error;
  }
}

function sensorPins(map: IoMap, law: LoadedLaw): string {
  return map.inputs.flatMap((b, c) => (b.source === 'analog' || b.source === 'digital' ? [`${pinName(b.pin)} (${law.definition.inputs[c]!.name})`] : [])).join(', ');
}

function readSensorFaults(r: Reader, value: unknown, map: IoMap, law: LoadedLaw, vanishTick: number | null): ScenarioSensorFault[] {
  if (value === undefined) return [];
  const faults = r.array(value, 'io.sensorFaults', SCENARIO_SENSOR_FAULTS_MAX).map((raw, i): ScenarioSensorFault => {
    const field = `io.sensorFaults[${i}]`;
    const f = r.object(raw, field, ['pin', 'fault', 'atTick', 'atS', 'durationTicks', 'durationS', 'amplitude', 'raw']);
    const fault = r.oneOf(f.fault, `${field}.fault`, SENSOR_FAULT_KINDS);
    const pin = readPin(r, f.pin, `${field}.pin`);
    const channelIndex = map.inputs.findIndex((b) => (b.source === 'analog' || b.source === 'digital') && b.pin === pin);
    if (channelIndex < 0) r.fail(`${field}.pin`, `pin ${pinName(pin)} is not a sensor input of the I/O map ${map.source} (its sensors: ${sensorPins(map, law)})`);
    const analog = map.inputs[channelIndex]!.source === 'analog';
    if (f.amplitude !== undefined && fault !== 'noise') r.fail(`${field}.amplitude`, `only a noise fault takes an amplitude (this one is ${fault})`);
    if (f.raw !== undefined && fault !== 'stuck') r.fail(`${field}.raw`, `only a stuck fault takes a raw reading (this one is ${fault})`);
    if (fault === 'noise' && !analog) r.fail(`${field}.fault`, `noise applies to analog inputs; pin ${pinName(pin)} (${law.definition.inputs[channelIndex]!.name}) is digital`);
    const amplitude = fault === 'noise' ? r.integer(f.amplitude, `${field}.amplitude`, 1, ANALOG_RAW_MAX) : null;
    const stuckRaw = fault === 'stuck' ? r.integer(f.raw, `${field}.raw`, 0, analog ? ANALOG_RAW_MAX : 1) : null;
    const atTick = hostTick(r, f, field, 'at');
    const durationTicks = r.durationField(f, field, atTick, true);
    if (vanishTick !== null && atTick >= vanishTick) r.fail(`${field}.${f.atTick !== undefined ? 'atTick' : 'atS'}`, `tick ${atTick} is not before the board vanishes (tick ${vanishTick})`);
    if (vanishTick !== null && durationTicks > 0 && atTick + durationTicks > vanishTick) {
      r.fail(`${field}.${f.durationTicks !== undefined ? 'durationTicks' : 'durationS'}`, `ends at tick ${atTick + durationTicks}, after the board vanishes (tick ${vanishTick}); leave the duration out to run to the vanishing`);
    }
    return { pin, channelIndex, fault, atTick, durationTicks, amplitude, raw: stuckRaw };
  });
  const endOf = (f: ScenarioSensorFault): number => (f.durationTicks === 0 ? Number.POSITIVE_INFINITY : f.atTick + f.durationTicks);
  faults.forEach((a, i) => {
    const j = faults.findIndex((b, k) => k < i && b.pin === a.pin && a.atTick < endOf(b) && b.atTick < endOf(a));
    if (j >= 0) r.fail(`io.sensorFaults[${i}]`, `overlaps io.sensorFaults[${j}] on pin ${pinName(a.pin)}: one fault per pin at a time`);
  });
  return faults;
}

function readSetpoint(r: Reader, value: unknown): MotorSetup['setpoint'] {
  const entry = r.object(value, 'setpoint', ['initialMilliDeg', 'segments']);
  const initialMilliDeg = entry.initialMilliDeg === undefined ? 0 : r.integer(entry.initialMilliDeg, 'setpoint.initialMilliDeg', -524_287, 524_287);
  const list = r.array(entry.segments, 'setpoint.segments', 1024);
  // Segment lengths are bounded by the profile, not the run: the profile holds its last value.
  const lengths = new Reader(r.file, r.rateHz, SCENARIO_TICKS_MAX + 1);
  const segments = list.map((raw, i): ProfileSegment => {
    const field = `setpoint.segments[${i}]`;
    const s = r.object(raw, field, ['kind', 'toMilliDeg', 'amplitudeMilliDeg', 'periodTicks', 'periodS', 'durationTicks', 'durationS']);
    const kind = r.oneOf(s.kind, `${field}.kind`, ['hold', 'step', 'ramp', 'triangle', 'sine'] as const);
    const durationTicks = lengths.durationField(s, field, 0, false);
    const allowed: Record<typeof kind, readonly string[]> = {
      hold: ['kind', 'durationTicks', 'durationS'],
      step: ['kind', 'toMilliDeg', 'durationTicks', 'durationS'],
      ramp: ['kind', 'toMilliDeg', 'durationTicks', 'durationS'],
      triangle: ['kind', 'amplitudeMilliDeg', 'periodTicks', 'periodS', 'durationTicks', 'durationS'],
      sine: ['kind', 'amplitudeMilliDeg', 'periodTicks', 'periodS', 'durationTicks', 'durationS'],
    };
    const extra = Object.keys(s).find((k) => !allowed[kind].includes(k));
    if (extra !== undefined) r.fail(`${field}.${extra}`, `not a field of a ${kind} segment (fields: ${allowed[kind].join(', ')})`);
    if (kind === 'hold') return { kind, durationTicks };
    if (kind === 'step' || kind === 'ramp') return { kind, toMilliDeg: r.integer(s.toMilliDeg, `${field}.toMilliDeg`, -524_287, 524_287), durationTicks };
    const periodTicks = lengths.durationField(s, field, 0, false, 'period');
    return { kind, amplitudeMilliDeg: r.integer(s.amplitudeMilliDeg, `${field}.amplitudeMilliDeg`, 0, 524_287), periodTicks, durationTicks };
  });
  const problem = validateProfile(segments, initialMilliDeg);
  if (problem !== null) r.fail(problem.segmentIndex < 0 ? `setpoint.${problem.field}` : `setpoint.segments[${problem.segmentIndex}].${problem.field}`, problem.message);
  return { initialMilliDeg, segments };
}

/** A partial model configuration over its defaults, checked field by field and then as a whole. */
function readModel<T extends object>(r: Reader, value: unknown, field: string, defaults: T, problemOf: (c: T) => string | null): T {
  if (value === undefined) return defaults;
  const entry = r.object(value, field, Object.keys(defaults));
  const merged: Record<string, unknown> = { ...(defaults as unknown as Record<string, unknown>) };
  for (const [key, v] of Object.entries(entry)) merged[key] = r.number(v, `${field}.${key}`, -1e9, 1e9);
  const problem = problemOf(merged as T);
  if (problem !== null) {
    const key = Object.keys(defaults).find((k) => problem.startsWith(k)) ?? '';
    r.fail(key === '' ? field : `${field}.${key}`, problem.startsWith(key) ? problem.slice(key.length).trim() : problem);
  }
  return merged as T;
}

function readSensor(r: Reader, value: unknown): { sensor: SensorConfig; sensorNoiseSeed: number | null } {
  if (value === undefined) return { sensor: DEFAULT_SENSOR, sensorNoiseSeed: null };
  const entry = r.object(value, 'sensor', ['resolutionMilliDeg', 'noiseMilliDeg', 'noiseSeed']);
  const { noiseSeed, ...model } = entry;
  const sensor = readModel(r, model, 'sensor', DEFAULT_SENSOR, sensorConfigProblem);
  return { sensor, sensorNoiseSeed: noiseSeed === undefined ? null : r.integer(noiseSeed, 'sensor.noiseSeed', 0, 0xffff_ffff) };
}

function readDisturbances(r: Reader, value: unknown): Disturbance[] {
  if (value === undefined) return [];
  return r.array(value, 'disturbances', SCENARIO_DISTURBANCES_MAX).map((raw, i): Disturbance => {
    const field = `disturbances[${i}]`;
    const kind = r.oneOf((raw as Json | null)?.kind, `${field}.kind`, ['loadTorque', 'sensorGlitch'] as const);
    const timing = ['kind', 'atTick', 'atS', 'durationTicks', 'durationS'];
    if (kind === 'loadTorque') {
      const d = r.object(raw, field, [...timing, 'torqueNm']);
      const atTick = r.tickField(d, field, 'at');
      return { kind, atTick, durationTicks: r.durationField(d, field, atTick, false), torqueNm: r.number(d.torqueNm, `${field}.torqueNm`, -100, 100) };
    }
    const d = r.object(raw, field, [...timing, 'mode', 'offsetMilliDeg']);
    const atTick = r.tickField(d, field, 'at');
    const mode = r.oneOf(d.mode, `${field}.mode`, ['offset', 'stuck'] as const);
    if (mode === 'stuck' && d.offsetMilliDeg !== undefined) r.fail(`${field}.offsetMilliDeg`, 'a stuck sensor repeats its last reading; it takes no offset');
    const offsetMilliDeg = mode === 'offset' ? r.integer(d.offsetMilliDeg, `${field}.offsetMilliDeg`, -524_287, 524_287) : 0;
    return { kind, atTick, durationTicks: r.durationField(d, field, atTick, false), mode, offsetMilliDeg };
  });
}

function readFaults(r: Reader, value: unknown, replicaCount: number): ScenarioFault[] {
  if (value === undefined) return [];
  return r.array(value, 'faults', SCENARIO_FAULTS_MAX).map((raw, i): ScenarioFault => {
    const field = `faults[${i}]`;
    const f = r.object(raw, field, ['kind', 'replica', 'atTick', 'atS', 'durationTicks', 'durationS']);
    const kind = r.oneOf(f.kind, `${field}.kind`, FAULT_KINDS);
    if (typeof f.replica !== 'number' || !Number.isInteger(f.replica) || f.replica < 0) r.fail(`${field}.replica`, `must be a replica index (an integer from 0), got ${show(f.replica)}`);
    if (f.replica >= replicaCount) r.fail(`${field}.replica`, `replica ${f.replica} does not exist (replicas has ${replicaCount} entries, 0..${replicaCount - 1})`);
    const atTick = r.tickField(f, field, 'at');
    return { kind, replicaIndex: f.replica, atTick, durationTicks: r.durationField(f, field, atTick, true) };
  });
}

function readActuatorPath(r: Reader, value: unknown): ActuatorPathSpec {
  if (value === undefined || value === 'sim') return { kind: 'sim' };
  const entry = r.object(value, 'actuatorPath', ['kind', 'path', 'baudRate', 'pwmRangeUs', 'readyTimeoutMs']);
  const kind = r.oneOf(entry.kind, 'actuatorPath.kind', ['sim', 'firmata'] as const);
  if (kind === 'sim') {
    if (Object.keys(entry).length > 1) r.fail('actuatorPath', "a 'sim' path takes no other fields");
    return { kind };
  }
  const range = entry.pwmRangeUs === undefined ? FIRMATA_DEFAULTS.pwmRangeUs : r.array(entry.pwmRangeUs, 'actuatorPath.pwmRangeUs', 2);
  const low = r.integer(range[0], 'actuatorPath.pwmRangeUs[0]', 400, 2_600);
  const high = r.integer(range[1], 'actuatorPath.pwmRangeUs[1]', low + 1, 2_600);
  return {
    kind,
    path: r.string(entry.path, 'actuatorPath.path'),
    baudRate: entry.baudRate === undefined ? FIRMATA_DEFAULTS.baudRate : r.integer(entry.baudRate, 'actuatorPath.baudRate', 300, 2_000_000),
    pwmRangeUs: [low, high],
    readyTimeoutMs: entry.readyTimeoutMs === undefined ? FIRMATA_DEFAULTS.readyTimeoutMs : r.integer(entry.readyTimeoutMs, 'actuatorPath.readyTimeoutMs', 100, 60_000),
  };
}

const CRITERIA_FIELDS = [
  'unsafeCommandsMax', 'trackingError', 'steps', 'detectionLatencyTicksMax', 'modesMustReach', 'modesMustNotReach', 'votedIdenticalToFaultFree',
  'actuatorSafeWithinTicks', 'deadlineMissesMax', 'readmissionsMin', 'probationFailuresMin', 'finalMode', 'finalCommands',
  'inputFault', 'killSwitch', 'boardSafeAtEnd', 'boardLostWithinTicks',
] as const;

/** What the criteria are checked against: the dead voter, recovery, and the law and plant of the run. */
interface CriteriaContext {
  readonly voterDeathTick: number | null;
  readonly recovery: boolean;
  readonly law: LoadedLaw;
  readonly plant: PlantDefinition;
  readonly io: ScenarioIo | null;
}

/** A bound in the plant's tracking unit: `<stem>` on any plant, or `<stem>MilliDeg` on the motor (the same number); one of them. */
function readTrackingBound(r: Reader, entry: Json, path: string, stem: string, ctx: CriteriaContext, min: number): { value: number; field: string } | null {
  const legacy = `${stem}MilliDeg`;
  if (entry[legacy] !== undefined && ctx.plant.name !== MOTOR_PLANT_NAME) r.fail(`${path}.${legacy}`, `${motorOnly(ctx.law, ctx.plant)}: give ${stem} in ${ctx.plant.tracking.unit}`);
  if (entry[legacy] !== undefined && entry[stem] !== undefined) r.fail(`${path}.${stem}`, `give ${stem} or ${legacy}, not both`);
  const field = entry[legacy] !== undefined ? legacy : stem;
  if (entry[field] === undefined) return null;
  return { value: r.integer(entry[field], `${path}.${field}`, min, 1_048_576), field };
}

function readCriteria(r: Reader, value: unknown, ctx: CriteriaContext): Criteria {
  const c = r.object(value, 'criteria', CRITERIA_FIELDS);
  const modes = (v: unknown, field: string): Mode[] =>
    v === undefined ? [] : r.array(v, field, MODES.length).map((m, i) => r.oneOf(m, `${field}[${i}]`, MODES));
  let trackingError: Criteria['trackingError'] = null;
  if (c.trackingError !== undefined) {
    const path = 'criteria.trackingError';
    const t = r.object(c.trackingError, path, ['maxAbs', 'maxAbsMilliDeg', 'fromTick', 'fromS', 'toTick', 'toS']);
    const fromTick = r.tickField(t, path, 'from', 0);
    const toTick = r.tickField(t, path, 'to', r.ticks - 1);
    if (toTick < fromTick) r.fail(`${path}.toTick`, `ends (tick ${toTick}) before it starts (tick ${fromTick})`);
    const bound = readTrackingBound(r, t, path, 'maxAbs', ctx, 0);
    if (bound === null) r.fail(`${path}.maxAbs`, `missing (the bound on |${ctx.plant.tracking.setpoint} − ${ctx.plant.tracking.measured}|, in ${ctx.plant.tracking.unit})`);
    trackingError = { maxAbs: bound.value, field: bound.field as 'maxAbs' | 'maxAbsMilliDeg', fromTick, toTick };
  }
  if (c.actuatorSafeWithinTicks !== undefined && ctx.plant.name !== MOTOR_PLANT_NAME) r.fail('criteria.actuatorSafeWithinTicks', motorOnly(ctx.law, ctx.plant));
  const actuatorSafeWithinTicks = c.actuatorSafeWithinTicks === undefined ? null : r.integer(c.actuatorSafeWithinTicks, 'criteria.actuatorSafeWithinTicks', 1, SCENARIO_TICKS_MAX);
  if (actuatorSafeWithinTicks !== null && ctx.voterDeathTick === null) r.fail('criteria.actuatorSafeWithinTicks', 'needs a voterDeath to measure from');
  const readmissionsMin = c.readmissionsMin === undefined ? null : r.integer(c.readmissionsMin, 'criteria.readmissionsMin', 1, SCENARIO_TICKS_MAX);
  if (readmissionsMin !== null && !ctx.recovery) r.fail('criteria.readmissionsMin', 'needs recovery (add "recovery": {})');
  const probationFailuresMin = c.probationFailuresMin === undefined ? null : r.integer(c.probationFailuresMin, 'criteria.probationFailuresMin', 1, SCENARIO_TICKS_MAX);
  if (probationFailuresMin !== null && !ctx.recovery) r.fail('criteria.probationFailuresMin', 'needs recovery (add "recovery": {})');
  if (c.votedIdenticalToFaultFree === true && ctx.io !== null) {
    r.fail('criteria.votedIdenticalToFaultFree', "cannot hold through real I/O: the board's plant runs on its own clock in real time, so no simulated fault-free run reads what it read");
  }
  return {
    unsafeCommandsMax: c.unsafeCommandsMax === undefined ? 0 : r.integer(c.unsafeCommandsMax, 'criteria.unsafeCommandsMax', 0, 0),
    trackingError,
    steps: c.steps === undefined ? [] : r.array(c.steps, 'criteria.steps', SCENARIO_STEPS_MAX).map((raw, i) => readStep(r, raw, `criteria.steps[${i}]`, ctx)),
    detectionLatencyTicksMax: c.detectionLatencyTicksMax === undefined ? null : r.integer(c.detectionLatencyTicksMax, 'criteria.detectionLatencyTicksMax', 0, SCENARIO_TICKS_MAX),
    modesMustReach: modes(c.modesMustReach, 'criteria.modesMustReach'),
    modesMustNotReach: modes(c.modesMustNotReach, 'criteria.modesMustNotReach'),
    votedIdenticalToFaultFree: c.votedIdenticalToFaultFree === undefined ? false : r.boolean(c.votedIdenticalToFaultFree, 'criteria.votedIdenticalToFaultFree'),
    actuatorSafeWithinTicks,
    deadlineMissesMax: c.deadlineMissesMax === undefined ? null : r.integer(c.deadlineMissesMax, 'criteria.deadlineMissesMax', 0, SCENARIO_TICKS_MAX),
    readmissionsMin,
    probationFailuresMin,
    finalMode: c.finalMode === undefined ? null : r.oneOf(c.finalMode, 'criteria.finalMode', MODES),
    finalCommands: readFinalCommands(r, c.finalCommands, ctx.law),
    ...readIoCriteria(r, c, ctx),
  };
}

const NEEDS_IO = 'needs io (real I/O through the simulated Firmata board: "io": { "kind": "firmata-sim" })';

/** The criteria of real I/O: the input fault the run ends on, the kill switch, the board's outputs and its loss. */
function readIoCriteria(r: Reader, c: Json, ctx: CriteriaContext): Pick<Criteria, 'inputFault' | 'killSwitch' | 'boardSafeAtEnd' | 'boardLostWithinTicks'> {
  const io = ctx.io;
  const inputFault = readInputFault(r, c.inputFault, ctx);
  const killSwitch = c.killSwitch === undefined ? null : r.oneOf(c.killSwitch, 'criteria.killSwitch', ['none', 'INPUT_FAULT'] as const);
  if (killSwitch === 'INPUT_FAULT' && io === null) r.fail('criteria.killSwitch', `INPUT_FAULT ${NEEDS_IO}`);
  if (killSwitch === 'none' && inputFault !== null) r.fail('criteria.killSwitch', "'none' contradicts criteria.inputFault, which expects the INPUT_FAULT trip");
  const boardSafeAtEnd = c.boardSafeAtEnd === undefined ? false : r.boolean(c.boardSafeAtEnd, 'criteria.boardSafeAtEnd');
  if (boardSafeAtEnd && io === null) r.fail('criteria.boardSafeAtEnd', NEEDS_IO);
  if (boardSafeAtEnd && io?.boardVanishTick != null) r.fail('criteria.boardSafeAtEnd', 'the board vanishes (io.boardVanishAt…): nothing can be read back from it');
  const boardLostWithinTicks = c.boardLostWithinTicks === undefined ? null : r.integer(c.boardLostWithinTicks, 'criteria.boardLostWithinTicks', 0, SCENARIO_TICKS_MAX);
  if (boardLostWithinTicks !== null && io?.boardVanishTick == null) r.fail('criteria.boardLostWithinTicks', `needs the board to vanish (io.boardVanishAtTick or io.boardVanishAtS)${io === null ? `, and ${NEEDS_IO}` : ''}`);
  return { inputFault, killSwitch, boardSafeAtEnd, boardLostWithinTicks };
}

function readInputFault(r: Reader, value: unknown, ctx: CriteriaContext): InputFaultCriterion | null {
  if (value === undefined) return null;
  const path = 'criteria.inputFault';
  const io = ctx.io;
  if (io === null) r.fail(path, `${NEEDS_IO}: an input fault comes from real I/O`);
  const e = r.object(value, path, ['reason', 'channel', 'safeWithinTicks']);
  const reason = r.oneOf(e.reason, `${path}.reason`, INPUT_FAULT_REASONS);
  const names = ctx.law.definition.inputs.map((x) => x.name);
  const channel = r.oneOf(e.channel, `${path}.channel`, names);
  const channelIndex = names.indexOf(channel);
  const binding = io.map.inputs[channelIndex]!;
  if (binding.source !== 'analog') {
    const why = binding.source === 'digital' ? 'a digital input is never stale or out of range once it has reported (Firmata reports a port when it changes)' : 'it never faults';
    r.fail(`${path}.channel`, `${channel} is a ${binding.source} input in ${io.map.source}: ${why}`);
  }
  const causes = [
    ...io.sensorFaults
      .filter((f) => f.channelIndex === channelIndex && (reason === 'SENSOR_STALE' ? f.fault === 'stale' : f.fault !== 'stale'))
      .map((f) => ({ tick: f.atTick, what: `${f.fault} on pin ${pinName(f.pin)}` })),
    ...(reason === 'SENSOR_STALE' && io.boardVanishTick !== null ? [{ tick: io.boardVanishTick, what: 'the board vanishing' }] : []),
  ].sort((a, b) => a.tick - b.tick);
  const kinds = reason === 'SENSOR_STALE' ? 'a stale fault on its pin or the board vanishing' : 'a stuck or noise fault on its pin';
  if (causes.length === 0) r.fail(path, `nothing in io makes ${channel} ${reason} (give ${kinds}: io.sensorFaults on pin ${pinName(binding.pin)}${reason === 'SENSOR_STALE' ? ' or io.boardVanishAtTick' : ''})`);
  const holdTicks = binding.onFault.holdTicks;
  const safeWithinTicks = r.integer(e.safeWithinTicks, `${path}.safeWithinTicks`, 1, SCENARIO_TICKS_MAX);
  if (safeWithinTicks <= holdTicks) {
    r.fail(`${path}.safeWithinTicks`, `${safeWithinTicks} ticks can never hold: the map's policy holds ${channel}'s last good value ${holdTicks} ticks before the loop goes safe`);
  }
  return { reason, channelIndex, channel, safeWithinTicks, holdTicks, causeTick: causes[0]!.tick, cause: causes[0]!.what };
}

/** `"safe"` (every output channel's safe value) or `{ channel: value, ... }` for some or all output channels. */
function readFinalCommands(r: Reader, value: unknown, law: LoadedLaw): FinalCommand[] | null {
  if (value === undefined) return null;
  const outputs = law.definition.outputs;
  if (value === 'safe') return outputs.map((c, channelIndex) => ({ channelIndex, name: c.name, value: c.safe }));
  const field = 'criteria.finalCommands';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) r.fail(field, `must be "safe" or an object of output channel values, got ${show(value)}`);
  const entry = r.object(value, field, outputs.map((c) => c.name));
  const commands = outputs.flatMap((c, channelIndex) =>
    entry[c.name] === undefined ? [] : [{ channelIndex, name: c.name, value: r.integer(entry[c.name], `${field}.${c.name}`, c.min, c.max) }]);
  if (commands.length === 0) r.fail(field, `names no output channel of law ${law.name} (${outputs.map((c) => c.name).join(', ')})`);
  return commands;
}

function readStep(r: Reader, raw: unknown, field: string, ctx: CriteriaContext): StepCriterion {
  const s = r.object(raw, field, ['atTick', 'atS', 'settleBand', 'settleBandMilliDeg', 'settleWithinTicks', 'settleWithinS', 'overshootPercentMax']);
  const atTick = r.tickField(s, field, 'at');
  const band = readTrackingBound(r, s, field, 'settleBand', ctx, 1);
  const hasSettle = s.settleWithinTicks !== undefined || s.settleWithinS !== undefined;
  if (hasSettle !== (band !== null)) r.fail(`${field}.${band?.field ?? 'settleBand'}`, 'settling needs both settleBand (settleBandMilliDeg on the motor) and settleWithinTicks (or settleWithinS)');
  if (!hasSettle && s.overshootPercentMax === undefined) r.fail(field, 'give settling (settleBand + settleWithinTicks/S), overshootPercentMax, or both');
  return {
    atTick,
    settleBand: band?.value ?? null,
    settleWithinTicks: hasSettle ? r.durationField(s, field, atTick, false, 'settleWithin') : null,
    overshootPercentMax: s.overshootPercentMax === undefined ? null : r.number(s.overshootPercentMax, `${field}.overshootPercentMax`, 0, 1_000),
  };
}
