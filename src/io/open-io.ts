/**
 * The run's real I/O (`--io SCHEME[:TARGET] --io-map FILE`): its map read and checked against the
 * law and plant before anything starts, then opened before the replicas start. The world it gives
 * the loop senses and actuates through the board, in place of the plant model.
 */
import { parseSettingsJson, UsageError } from '../config/fields.js';
import type { IoExtension } from '../cli/extensions.js';
import type { LoadedLaw } from '../law/law-runtime.js';
import { InputFileError, readInputText } from '../loop/input-file.js';
import type { LoopWorld, PlantDefinition } from '../loop/world.js';
import { checkIoMap, IO_MAP_BYTES_MAX, type IoMap } from './io-map.js';

export interface OpenedIo {
  /** One line for stderr: what the loop is wired to. */
  readonly description: string;
  readonly world: LoopWorld;
  /** Closes the port (every actuator was sent its safe value by the loop first). */
  close(): Promise<void>;
}

/** `--io SCHEME[:TARGET]`: the extension that opens it and what it read from TARGET. */
export interface SelectedIo {
  readonly io: IoExtension;
  readonly target: unknown;
  /** As typed, for messages. */
  readonly text: string;
}

/** Reads `--io TEXT` against the registered schemes; a bad one is one line naming the flag. */
export function selectIo(text: string, label: string, find: (scheme: string) => IoExtension | undefined, usages: readonly string[]): SelectedIo {
  const colon = text.indexOf(':');
  const scheme = colon < 0 ? text : text.slice(0, colon);
  const io = find(scheme);
  if (io === undefined) throw new UsageError(`${label} '${text}': expected ${usages.join(' or ')}`);
  return { io, target: io.parse(colon < 0 ? '' : text.slice(colon + 1), label), text };
}

/** The I/O map as given: a file's path, or (a config file's or the library's ioMap) the map itself; `label` names where. */
export type IoMapRef = { readonly path: string; readonly label: string } | { readonly map: object; readonly label: string };

/**
 * The I/O map for a run: `ref` (from `--io-map`, a config file's or the library's ioMap), else the
 * scheme's default for the plant. A file is read as an input file and parsed as settings JSON;
 * either way the map is checked against the law, every problem one line naming the file (or the
 * setting) and the field.
 */
export function loadIoMap(selected: SelectedIo, ref: IoMapRef | null, law: LoadedLaw, plant: PlantDefinition): IoMap {
  let map: IoMap;
  if (ref !== null && 'map' in ref) map = checkIoMap(ref.map, ref.label, law);
  else {
    const path = ref?.path ?? selected.io.defaultMapPath?.(plant.name) ?? null;
    if (path === null) throw new UsageError(`--io ${selected.text} needs an I/O map: --io-map FILE (see boards/firmata/README.md)`);
    let text: string;
    try {
      text = readInputText(path, ref?.label ?? '--io-map', IO_MAP_BYTES_MAX);
    } catch (error) {
      if (error instanceof InputFileError) throw new UsageError(error.message);
      throw error;
    }
    map = checkIoMap(parseSettingsJson(text, path), path, law);
  }
  const profiled = map.inputs.findIndex((b) => b.source === 'profile');
  if (profiled >= 0 && plant.setpointProfile === undefined) {
    throw new UsageError(`${map.source}: inputs.${law.definition.inputs[profiled]!.name}: plant '${plant.name}' has no setpoint profile to follow (bind it to an analog pin or a constant)`);
  }
  return map;
}

/** What openIo needs of a run's options (CliRunOptions has all of it once withLawAndPlant has read the map). */
export interface IoRunOptions {
  readonly io: SelectedIo | null;
  readonly ioMap: IoMap | null;
  readonly law: LoadedLaw;
  readonly plant: PlantDefinition;
  readonly rateHz: number;
  readonly ticks: number;
  readonly seed: number;
}

/**
 * Opens the run's real I/O, or null without `--io`. Call before the replicas start and pass the
 * world to the loop (runRealtime's LoopBench); close it after the run. A board that is not there
 * or does not answer is an IoError (the world's fault, one line), nothing started.
 */
export async function openIo(options: IoRunOptions): Promise<OpenedIo | null> {
  if (options.io === null) return null;
  if (options.ioMap === null) throw new Error('openIo: the I/O map was not read (withLawAndPlant reads it)');
  return options.io.io.open(options.io.target, { law: options.law, plant: options.plant, rateHz: options.rateHz, ticks: options.ticks, seed: options.seed, map: options.ioMap });
}
