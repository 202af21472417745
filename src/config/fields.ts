/**
 * Reading settings from people: flags (text), JSON config files and scenario files (JSON values).
 * Every reader takes a Field, which names where the value came from ("--rate-hz", "run.json:
 * rateHz", "--replica 'sim-board:ber=x': ber"), so every error is one line naming it. Text is
 * accepted only where a person typed text (a flag): a config file that says "ticks": "20" is
 * refused, not guessed at. Limits are passed in by the caller from the constants of the layer that
 * would otherwise assert on them, so a value read here never trips an assertion later.
 */

/** A value to check and the words that name it in an error. `fromText`: it was typed on a command line. */
export interface Field {
  readonly label: string;
  readonly value: unknown;
  readonly fromText?: boolean;
}

/** Bad usage or a bad setting: one line naming the flag, or the file and field; exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function show(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : (JSON.stringify(value) ?? String(value));
}

/** A whole number within [min, max]: a JSON number, or decimal digits typed in a flag. */
export function wholeNumber(field: Field, fallback: number, min: number, max: number): number {
  const { label, value } = field;
  if (value === undefined) return fallback;
  const number = field.fromText === true && typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number)) {
    const hint = typeof value === 'string' && field.fromText !== true && /^\d+$/.test(value) ? ' (a number, not a string)' : '';
    throw new UsageError(`${label} must be a whole number${hint}, got ${show(value)}`);
  }
  if (number < min || number > max) throw new UsageError(`${label} must be between ${min} and ${max}, got ${number}`);
  return number;
}

const DECIMAL = /^(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?$/;

/** A number within [min, max]: a JSON number, or a plain decimal typed in a flag (no hex, no empty text). */
export function decimalNumber(field: Field, min: number, max: number): number | undefined {
  const { label, value } = field;
  if (value === undefined) return undefined;
  const number = field.fromText === true && typeof value === 'string' && DECIMAL.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number) || number < min || number > max) {
    throw new UsageError(`${label} must be a number from ${min} to ${max}, got ${show(value)}`);
  }
  return number;
}

/** true or false: a JSON boolean, or true|false|1|0 typed in a flag. Anything else is an error, never a guess. */
export function booleanSetting(field: Field): boolean | undefined {
  const { label, value } = field;
  if (value === undefined) return undefined;
  if (typeof value === 'boolean') return value;
  if (field.fromText === true) {
    if (value === 'true' || value === '1') return true;
    if (value === 'false' || value === '0') return false;
  }
  throw new UsageError(`${label} must be ${field.fromText === true ? 'true, false, 1 or 0' : 'true or false'}, got ${show(value)}`);
}

/**
 * `key=value,key=value` settings (a replica spec's options), each key one of `keys`, each given
 * once, each with a non-empty value; the value is everything after the first '='. With no `keys`,
 * any setting is refused.
 */
export function keyValues(text: string | undefined, keys: readonly string[], label: string): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const pair of (text ?? '').split(',')) {
    if (pair === '' && text !== undefined && text !== '') throw new UsageError(`${label}: an empty setting between commas`);
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const key = equals < 0 ? pair : pair.slice(0, equals);
    const value = equals < 0 ? '' : pair.slice(equals + 1);
    if (keys.length === 0) throw new UsageError(`${label}: '${key}' is not a setting (it takes none)`);
    if (!keys.includes(key) || value === '') throw new UsageError(`${label}: '${pair}' is not one of ${keys.map((k) => `${k}=VALUE`).join(', ')}`);
    if (key in settings) throw new UsageError(`${label}: ${key} is given twice`);
    settings[key] = value;
  }
  return settings;
}

/** Deepest nesting of arrays and objects a settings file may have (a config needs 3). */
export const JSON_DEPTH_MAX = 16;

/**
 * JSON.parse, after checking the nesting depth without recursion (JSON.parse itself recurses and
 * a deeply nested file would overflow its stack with no file or field named).
 */
export function parseSettingsJson(text: string, label: string): unknown {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > JSON_DEPTH_MAX) throw new UsageError(`${label}: nested deeper than ${JSON_DEPTH_MAX} levels at byte ${i}`);
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`${label}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
}
