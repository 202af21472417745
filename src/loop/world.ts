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
