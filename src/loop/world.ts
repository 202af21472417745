/**
 * The world a loop controls, behind one interface: each tick it supplies the law's input channels
 * (sensor readings, setpoints) and takes the command on every output channel. A plant module
 * (motor, tank, a user's) builds a world for a run; the HIL bench wraps one with its own command
 * path. Worlds are deterministic: a pure function of their options, the seed and the commands.
 *
 * Loop layer (src/loop/): imports only core, protocol, law and src/loop.
 */
import { LawError } from '../law/law.js';
import type { LoadedLaw } from '../law/law-runtime.js';

export interface LoopWorld {
  /** This tick's input channels, in the law's order. Called once per tick, before actuate. */
  sense(tick: number, inputs: Int32Array): void;
  /** This tick's command on every output channel (voted, held or safe): deliver it and advance one tick. */
  actuate(tick: number, commands: Int32Array): void;
  /** The runtime's emergency stop: every actuator to its safe state now (an assertion failed, the run ended). */
  enterSafeState(): void;
  readonly actuatorCounters: { readonly watchdogTrips: number; readonly commandsRejected: number };
  /**
   * Real I/O only (src/io/): what the sensors did this tick, read once right after `sense`. A
   * simulated world has none: its readings are always fresh and in range.
   */
  inputHealth?(): InputHealth;
  /** Real I/O only: what went over the wire, for the summary's `io` object. */
  ioSummary?(): IoSummary;
}

/** Why an input channel's reading was not used as it came. */
export type InputFaultReason = 'SENSOR_STALE' | 'SENSOR_OUT_OF_RANGE';
export const INPUT_FAULT_REASONS: readonly InputFaultReason[] = ['SENSOR_STALE', 'SENSOR_OUT_OF_RANGE'];

/** What happened to a law input channel's sensor this tick (events, as data). */
export type InputEvent =
  /** The reading went bad: from this tick the channel holds its last good value (up to its policy's holdTicks). */
  | { readonly kind: 'inputFault'; readonly channel: number; readonly reason: InputFaultReason; readonly tick: number; readonly detail: string }
  /** Good readings again before the hold ran out: the channel follows its sensor again. */
  | { readonly kind: 'inputRecovered'; readonly channel: number; readonly tick: number; readonly heldTicks: number }
  /** The hold ran out: the loop goes to its safe state (the kill switch's INPUT_FAULT). */
  | { readonly kind: 'inputHoldExpired'; readonly channel: number; readonly reason: InputFaultReason; readonly tick: number; readonly heldTicks: number };

/** One line for people: what happened to the input channel named `channel` (the tick is the caller's to add). */
export function inputEventText(event: InputEvent, channel: string): string {
  switch (event.kind) {
    case 'inputFault':
      return `input ${channel}: ${event.reason} (${event.detail}); holding its last good value`;
    case 'inputRecovered':
      return `input ${channel}: readings good again after ${event.heldTicks} ticks held`;
    case 'inputHoldExpired':
      return `input ${channel}: ${event.reason} outlasted its hold (${event.heldTicks} ticks): safe state`;
  }
}

export interface InputHealth {
  /** This tick's events, in channel order (empty on most ticks). */
  readonly events: readonly InputEvent[];
  /** Channels currently holding a value instead of their sensor's. */
  readonly holding: number;
}

/** Counts over a run of real I/O (the summary's `io`). */
export interface IoSummary {
  /** What it is: `firmata:/dev/ttyACM0@57600 (map motor-io.json)`. */
  readonly description: string;
  /** Sensor samples that arrived from the board, all input channels. */
  readonly sensorSamples: number;
  /** Writes made to actuators (johnny-five calls that reached the board), all output channels. */
  readonly actuatorWrites: number;
  /** Heartbeat edges sent to the drive's dead-man input. */
  readonly heartbeatEdges: number;
  /** Age of the sample each analog input used at the tick, ms, over the run (p50, p99, max). */
  readonly sampleAgeMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Ticks on which some input was faulted, by reason. */
  readonly inputFaultTicks: Readonly<Record<InputFaultReason, number>>;
  /** Per input channel: samples received, faults begun. */
  readonly inputs: readonly { readonly channel: string; readonly samples: number; readonly faults: number }[];
  /** Per output channel: writes made. */
  readonly outputs: readonly { readonly channel: string; readonly writes: number }[];
  /** The board went away during the run (its port closed or errored), with when. */
  readonly boardLost: { readonly tick: number; readonly detail: string } | null;
}

export interface PlantOptions {
  readonly rateHz: number;
  /** The run's seed: noise is drawn from streams derived from it. */
  readonly seed: number;
  /** The run's length: a plant's default setpoint profile spans it. */
  readonly ticks: number;
}

/** A plant model as a module: which law channels it supplies and takes, and how to build a world. */
export interface PlantDefinition {
  readonly kind: 'tmr-plant';
  /** 1..24 of a-z, 0-9, '-'. */
  readonly name: string;
  /** The law's input channels it supplies, by name, in the law's order. */
  readonly inputs: readonly string[];
  /** The law's output channels it takes, by name, in the law's order. */
  readonly outputs: readonly string[];
  /** The input that is a setpoint and the one that measures what should follow it (the summary's tracking). */
  readonly tracking: { readonly setpoint: string; readonly measured: string; readonly unit: string };
  create(options: PlantOptions): LoopWorld;
  /**
   * The setpoint its world follows over a run (what `create`'s world senses on its setpoint
   * input): real I/O (`--io`) uses it for an input the I/O map binds to `profile`.
   */
  setpointProfile?(options: PlantOptions): { setpointAt(tick: number): number };
}

/** Refuses a plant built for other channels than the law's, naming both lists. */
export function checkPlantFitsLaw(plant: PlantDefinition, law: LoadedLaw): void {
  const lawInputs = law.definition.inputs.map((c) => c.name);
  const lawOutputs = law.definition.outputs.map((c) => c.name);
  const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
  if (!same(plant.inputs, lawInputs)) {
    throw new LawError(`plant '${plant.name}' supplies inputs ${plant.inputs.join(', ')}; law '${law.name}' takes ${lawInputs.join(', ')}`);
  }
  if (!same(plant.outputs, lawOutputs)) {
    throw new LawError(`plant '${plant.name}' takes outputs ${plant.outputs.join(', ')}; law '${law.name}' writes ${lawOutputs.join(', ')}`);
  }
  if (!lawInputs.includes(plant.tracking.setpoint) || !lawInputs.includes(plant.tracking.measured)) {
    throw new LawError(`plant '${plant.name}' tracks ${plant.tracking.measured} against ${plant.tracking.setpoint}, which are not both inputs of law '${law.name}'`);
  }
}
