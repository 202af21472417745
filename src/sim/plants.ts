/**
 * The shipped plants and which one each shipped law runs against by default, so that `--law tank`
 * alone runs; a user's plant is a module exporting a PlantDefinition (default export or `plant`).
 * DEFAULT_LOOP_OPTIONS, the default run (the default law on its plant), lives here too: the loop
 * model takes a plant and knows none.
 */
import { existsSync, statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { LawError } from '../law/law.js';
import { DEFAULT_LAW, importModule, shippedLaw } from '../law/law-loader.js';
import type { LoadedLaw } from '../law/law-runtime.js';
import { TANK_PLANT } from '../laws/tank/plant.js';
import type { LoopOptions } from '../loop/loop-model.js';
import { DEFAULT_RECOVERY } from '../loop/recovery.js';
import { checkPlantFitsLaw, type PlantDefinition } from '../loop/world.js';
import { MOTOR_PLANT } from './plant-world.js';

export const SHIPPED_PLANTS: Readonly<Record<string, PlantDefinition>> = { motor: MOTOR_PLANT, tank: TANK_PLANT };
/** The plant a shipped law runs against when none is named. */
export const DEFAULT_PLANT_FOR_LAW: Readonly<Record<string, string>> = { 'pid-q16': 'motor', tank: 'tank' };

export const DEFAULT_LOOP_OPTIONS: LoopOptions = {
  law: shippedLaw(DEFAULT_LAW),
  plant: MOTOR_PLANT,
  replicaCount: 3,
  rateHz: 200,
  ticks: 2_000,
  seed: 1,
  injects: [],
  stalls: [],
  simplexPolicy: 'safe',
  deadlineMissLimit: 3,
  errorDensityLimit: 3,
  quorumLossTicksMax: 2,
  commonModeLimitMs: 2_000,
  recovery: DEFAULT_RECOVERY,
};

function isPlant(value: unknown): value is PlantDefinition {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'tmr-plant';
}

/** A shipped plant by name, checked against the law. */
export function shippedPlantFor(law: LoadedLaw, name?: string, label = '--plant'): PlantDefinition {
  const plantName = name ?? DEFAULT_PLANT_FOR_LAW[law.name];
  if (plantName === undefined) throw new LawError(`law '${law.name}' has no default plant: name one with --plant (${Object.keys(SHIPPED_PLANTS).join(', ')} or a .js/.ts file), or export it as 'plant' from the law's module`);
  const plant = SHIPPED_PLANTS[plantName];
  if (plant === undefined) throw new LawError(`${label} ${plantName}: no such shipped plant (${Object.keys(SHIPPED_PLANTS).join(', ')})`);
  checkPlantFitsLaw(plant, law);
  return plant;
}

/**
 * A plant by name or path (a module file), checked against the law. Without one: the plant the
 * law's own module exports as `plant`, else the shipped law's default.
 */
export async function importPlant(law: LoadedLaw, ref: string | undefined, cwd = process.cwd(), label = '--plant'): Promise<PlantDefinition> {
  const carried = law.moduleExports?.plant;
  if (ref === undefined && carried !== undefined) {
    if (!isPlant(carried)) throw new LawError(`law '${law.name}': its module exports a 'plant' that is not a plant ({ kind: 'tmr-plant', name, inputs, outputs, tracking, create })`);
    checkPlantFitsLaw(carried, law);
    return carried;
  }
  if (ref === undefined || SHIPPED_PLANTS[ref] !== undefined) return shippedPlantFor(law, ref, label);
  const path = resolve(cwd, ref);
  if (!['.js', '.mjs', '.ts', '.mts'].includes(extname(path)) || !existsSync(path)) {
    throw new LawError(`${label} ${ref}: neither a shipped plant (${Object.keys(SHIPPED_PLANTS).join(', ')}) nor an existing .js or .ts file`);
  }
  // A FIFO or a device named plant.ts would hang the import or read without end.
  if (!statSync(path).isFile()) throw new LawError(`${label} ${ref}: not a regular file (${path})`);
  let module: Record<string, unknown>;
  try {
    module = await importModule(path);
  } catch (error) {
    throw new LawError(`${label} ${ref}: the module failed to load: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
  }
  const plant = module.default ?? module.plant;
  if (!isPlant(plant)) throw new LawError(`${label} ${ref}: does not export a plant ({ kind: 'tmr-plant', name, inputs, outputs, tracking, create })`);
  checkPlantFitsLaw(plant, law);
  return plant;
}
