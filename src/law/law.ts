/**
 * A control law as a module: what a user writes to bring their own loop to tmr. A law declares
 * its channels, parameters and state size and supplies four functions; the runtime derives the
 * rest (state digest, self-test hash, range checks: see law-runtime.ts), so no law writes them by
 * hand and no two laws can compute them differently. The C twin is boards/common/tmr_law.h.
 *
 * Every value a law sees or produces is an int32 in a declared range, and the law must be
 * deterministic integer arithmetic (no floats, no clock, no randomness): a Node replica and a
 * board running the C twin must compute bit-identical outputs and state bytes.
 *
 * ```ts
 * import { defineLaw } from 'tmr';
 * export default defineLaw({ name: 'my-law', version: 1, inputs: [...], outputs: [...], params: [...],
 *   stateSizeBytes: 4, init, step, serialize, deserialize });
 * ```
 */
import { isInt32 } from '../core/assert.js';

/** How the voter combines one output channel across replicas. */
export type VotePolicy = 'exact' | 'mid-value';

export interface InputChannel {
  /** An identifier: letters, digits and underscores, starting with a letter (e.g. `levelMm`). */
  readonly name: string;
  /** The unit, for people and plots (e.g. `mm`, `mdeg`, `permille`, `bool`). */
  readonly unit: string;
  /** Inclusive int32 range; the host never sends a value outside it. */
  readonly min: number;
  readonly max: number;
}

export interface OutputChannel {
  readonly name: string;
  readonly unit: string;
  /** Inclusive int32 range; a replica writing outside it is out of range (and a law doing so at load is refused). */
  readonly min: number;
  readonly max: number;
  /** What the actuator is given on this channel when no majority backs a command. Within [min, max]. */
  readonly safe: number;
  /** `exact`: a strict majority must agree bit for bit. `mid-value`: the median wins when a strict majority lies within `tolerance` of it. */
  readonly vote: VotePolicy;
  /** Counts in the channel's unit; `mid-value` only (0 or absent for `exact`). */
  readonly tolerance?: number;
}

export interface LawParam {
  readonly name: string;
  /** Inclusive int32 range. The law must accept every combination of values within the ranges. */
  readonly min: number;
  readonly max: number;
  readonly default: number;
}

/** What a law module supplies. `S` is the law's own state object (it may hold its parameters). */
export interface LawSpec<S> {
  /** 1..24 characters of a-z, 0-9 and '-', starting with a letter (e.g. `tank`). */
  readonly name: string;
  /** uint16; change it whenever outputs or state bytes change for the same inputs. */
  readonly version: number;
  readonly inputs: readonly InputChannel[];
  readonly outputs: readonly OutputChannel[];
  readonly params: readonly LawParam[];
  /** Bytes serialize() writes, 1..LAW_STATE_BYTES_MAX. The state digest is the CRC-32 of them. */
  readonly stateSizeBytes: number;
  /** A fresh state for these parameters (one int32 per declared parameter, in order, within range). */
  init(params: Int32Array): S;
  /** One control step, in place: read `inputs` (within range), write every output, advance `state`. Must not allocate. */
  step(state: S, inputs: Int32Array, outputs: Int32Array): void;
  /** Writes exactly stateSizeBytes bytes: everything step() depends on except the parameters. */
  serialize(state: S, out: Uint8Array): void;
  /** Replaces the state's dynamic part from bytes serialize() wrote; returns why bytes are malformed, leaving `state` unchanged, or null. */
  deserialize(state: S, bytes: Uint8Array): string | null;
  /**
   * Optional: the default parameters for a tick rate, for laws whose gains are per tick (pid-q16).
   * Without it the declared defaults apply at every rate.
   */
  paramsForRate?(rateHz: number): readonly number[];
}

/** A declared law: the spec, checked for shape. Load it (law-runtime.ts) before running it. */
export interface LawDefinition<S = unknown> extends LawSpec<S> {
  readonly kind: 'tmr-law';
}

export const LAW_CHANNELS_MAX = 8;
export const LAW_PARAMS_MAX = 8;
export const LAW_STATE_BYTES_MAX = 64;
export const LAW_NAME_PATTERN = /^[a-z][a-z0-9-]{0,23}$/;
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
const UNIT_CHARACTERS_MAX = 16;

/** A law whose declaration is malformed, or that failed its checks at load: one line naming the law and what is wrong. */
export class LawError extends Error {
  override readonly name = 'LawError';
}

/** Checks a declaration's shape; returns every problem found (empty when it is well formed). */
export function declarationProblems(spec: LawSpec<unknown>): string[] {
  const problems: string[] = [];
  if (typeof spec.name !== 'string' || !LAW_NAME_PATTERN.test(spec.name)) problems.push(`name ${JSON.stringify(spec.name)} must be 1..24 of a-z, 0-9, '-', starting with a letter`);
  if (!(Number.isInteger(spec.version) && spec.version >= 0 && spec.version <= 0xffff)) problems.push(`version ${String(spec.version)} is not a uint16`);
  checkList(problems, 'inputs', spec.inputs, 1, LAW_CHANNELS_MAX);
  checkList(problems, 'outputs', spec.outputs, 1, LAW_CHANNELS_MAX);
  checkList(problems, 'params', spec.params, 0, LAW_PARAMS_MAX);
  if (!(Number.isInteger(spec.stateSizeBytes) && spec.stateSizeBytes >= 1 && spec.stateSizeBytes <= LAW_STATE_BYTES_MAX)) {
    problems.push(`stateSizeBytes ${String(spec.stateSizeBytes)} must be 1..${LAW_STATE_BYTES_MAX}`);
  }
  for (const fn of ['init', 'step', 'serialize', 'deserialize'] as const) {
    if (typeof spec[fn] !== 'function') problems.push(`${fn} is not a function`);
  }
  if (spec.paramsForRate !== undefined && typeof spec.paramsForRate !== 'function') problems.push('paramsForRate is not a function');
  if (problems.length > 0) return problems;
  const names = new Set<string>();
  const channel = (where: string, c: InputChannel): void => {
    if (typeof c.name !== 'string' || !IDENTIFIER.test(c.name)) problems.push(`${where}.name ${JSON.stringify(c.name)} is not an identifier`);
    else if (names.has(c.name)) problems.push(`${where}.name '${c.name}' is declared twice`);
    else names.add(c.name);
    if (typeof c.unit !== 'string' || c.unit.length > UNIT_CHARACTERS_MAX || /["\\\u0000-\u001f]/.test(c.unit)) problems.push(`${where}.unit must be text of at most ${UNIT_CHARACTERS_MAX} characters`);
    rangeProblems(problems, where, c.min, c.max);
  };
  spec.inputs.forEach((c, i) => channel(`inputs[${i}]`, c));
  spec.outputs.forEach((c, i) => {
    const where = `outputs[${i}]`;
    channel(where, c);
    if (!isInt32(c.safe) || !(c.safe >= c.min && c.safe <= c.max)) problems.push(`${where}.safe ${String(c.safe)} must be an int32 within [min, max]`);
    if (c.vote !== 'exact' && c.vote !== 'mid-value') problems.push(`${where}.vote must be 'exact' or 'mid-value'`);
    const tolerance = c.tolerance ?? 0;
    if (!(isInt32(tolerance) && tolerance >= 0)) problems.push(`${where}.tolerance must be an int32 >= 0`);
    else if (c.vote === 'exact' && tolerance !== 0) problems.push(`${where}.tolerance must be 0 for an exact channel`);
  });
  const paramNames = new Set<string>();
  spec.params.forEach((p, i) => {
    const where = `params[${i}]`;
    if (typeof p.name !== 'string' || !IDENTIFIER.test(p.name)) problems.push(`${where}.name ${JSON.stringify(p.name)} is not an identifier`);
    else if (paramNames.has(p.name)) problems.push(`${where}.name '${p.name}' is declared twice`);
    else paramNames.add(p.name);
    rangeProblems(problems, where, p.min, p.max);
    if (!isInt32(p.default) || !(p.default >= p.min && p.default <= p.max)) problems.push(`${where}.default ${String(p.default)} must be an int32 within [min, max]`);
  });
  return problems;
}

function checkList(problems: string[], field: string, list: unknown, countMin: number, countMax: number): void {
  if (!Array.isArray(list)) problems.push(`${field} is not an array`);
  else if (list.length < countMin || list.length > countMax) problems.push(`${field} has ${list.length} entries, must have ${countMin}..${countMax}`);
  else if (!list.every((item) => typeof item === 'object' && item !== null)) problems.push(`${field} has an entry that is not an object`);
}

function rangeProblems(problems: string[], where: string, min: number, max: number): void {
  if (!isInt32(min) || !isInt32(max)) problems.push(`${where}: min and max must be int32`);
  else if (min > max) problems.push(`${where}: min ${min} is above max ${max}`);
}

/**
 * Declares a law. Checks the declaration's shape and throws a LawError naming every problem;
 * the behavioural checks (determinism, ranges, state round trip) run when the law is loaded.
 */
export function defineLaw<S>(spec: LawSpec<S>): LawDefinition<S> {
  if (typeof spec !== 'object' || spec === null) throw new LawError('defineLaw takes an object');
  const problems = declarationProblems(spec as LawSpec<unknown>);
  const label = typeof spec.name === 'string' ? `law '${spec.name}'` : 'law';
  if (problems.length > 0) throw new LawError(`${label}: ${problems.join('; ')}`);
  const definition: LawDefinition<S> = {
    ...spec,
    kind: 'tmr-law',
    inputs: Object.freeze(spec.inputs.map((c) => Object.freeze({ ...c }))),
    outputs: Object.freeze(spec.outputs.map((c) => Object.freeze({ ...c }))),
    params: Object.freeze(spec.params.map((p) => Object.freeze({ ...p }))),
  };
  return Object.freeze(definition);
}

export function isLawDefinition(value: unknown): value is LawDefinition {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'tmr-law';
}

/** Writes an int32 (or uint32) as four little-endian bytes: for a law's serialize(). */
export function writeI32Le(out: Uint8Array, at: number, value: number): void {
  out[at] = value & 0xff;
  out[at + 1] = (value >>> 8) & 0xff;
  out[at + 2] = (value >>> 16) & 0xff;
  out[at + 3] = (value >>> 24) & 0xff;
}

/** Reads four little-endian bytes as an int32: for a law's deserialize(). */
export function readI32Le(bytes: Uint8Array, at: number): number {
  return (bytes[at] as number) | ((bytes[at + 1] as number) << 8) | ((bytes[at + 2] as number) << 16) | ((bytes[at + 3] as number) << 24);
}
