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
  // A string, not the literal: ConfigError (src/api) is a UsageError by another name.
  override readonly name: string = 'UsageError';
}

export function show(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : (JSON.stringify(value) ?? String(value));
}

/** A whole number as typed: decimal digits, a '-' before them where the range allows one. */
const WHOLE = /^-?\d+$/;

/** A whole number within [min, max]: a JSON number, or decimal digits typed in a flag. */
export function wholeNumber(field: Field, fallback: number, min: number, max: number): number {
  const { label, value } = field;
  if (value === undefined) return fallback;
  const number = field.fromText === true && typeof value === 'string' && WHOLE.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number)) {
    const hint = typeof value === 'string' && field.fromText !== true && WHOLE.test(value) ? ' (a number, not a string)' : '';
    throw new UsageError(`${label} must be a whole number${hint}, got ${show(value)}`);
  }
  if (number < min || number > max) throw new UsageError(`${label} must be between ${min} and ${max}, got ${number}`);
  return number;
}

/** A number as typed: decimal, with an optional '-', fraction and exponent (0.001, -2, .5, 1e-3); no hex, no '+', no empty text. */
const DECIMAL = /^-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?$/;

/** A number within [min, max]: a JSON number, or a plain decimal typed in a flag (no hex, no empty text). */
export function decimalNumber(field: Field, min: number, max: number): number | undefined {
  const { label, value } = field;
  if (value === undefined) return undefined;
  const number = field.fromText === true && typeof value === 'string' && DECIMAL.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number) || number < min || number > max) {
    const hint = typeof value === 'string' && field.fromText !== true && DECIMAL.test(value) ? ' (a number, not a string)' : '';
    throw new UsageError(`${label} must be a number from ${min} to ${max}${hint}, got ${show(value)}`);
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

/** A text setting: a non-empty string (a JSON string in a file), one of `choices` when given. */
export function textSetting(field: Field, choices?: readonly string[]): string | undefined {
  const { label, value } = field;
  if (value === undefined) return undefined;
  if (choices !== undefined) {
    if (typeof value !== 'string' || !choices.includes(value)) throw new UsageError(`${label} must be one of ${choices.join(', ')}, got ${show(value)}`);
  } else if (typeof value !== 'string' || value === '') {
    throw new UsageError(`${label} must be text, got ${show(value)}`);
  }
  return value;
}

/**
 * What a setting is (a replica kind declares one per setting): a flag's text is read as this, and
 * a file's JSON value must already be this, so whoever receives the value never reads text.
 */
export type SettingType =
  | { readonly type: 'boolean' }
  | { readonly type: 'whole'; readonly min: number; readonly max: number }
  | { readonly type: 'decimal'; readonly min: number; readonly max: number }
  | { readonly type: 'text'; readonly choices?: readonly string[] };

export const SETTING_TYPES = ['boolean', 'whole', 'decimal', 'text'] as const;

/** Why `type` is not a SettingType (one line), or null. Checked when a kind is registered. */
export function settingTypeProblem(type: SettingType): string | null {
  const t = type as Partial<{ type: unknown; min: unknown; max: unknown; choices: unknown }>;
  if (!(SETTING_TYPES as readonly unknown[]).includes(t.type)) return `type must be ${SETTING_TYPES.slice(0, -1).join(', ')} or ${SETTING_TYPES.at(-1)}, got ${show(t.type)}`;
  if (t.type === 'whole' || t.type === 'decimal') {
    const { min, max } = t;
    const isLimit = (x: unknown): x is number => typeof x === 'number' && (t.type === 'whole' ? Number.isSafeInteger(x) : Number.isFinite(x));
    if (!isLimit(min) || !isLimit(max) || min > max) return `a ${t.type} setting needs min <= max (${t.type === 'whole' ? 'whole numbers' : 'finite numbers'}), got min ${show(min)}, max ${show(max)}`;
  }
  if (t.type === 'text' && t.choices !== undefined) {
    if (!Array.isArray(t.choices) || t.choices.length === 0 || !t.choices.every((c) => typeof c === 'string' && c !== '')) return 'choices must be a non-empty list of non-empty strings';
  }
  return null;
}

/** A setting read as its declared type: a boolean, a number within its limits or a text; undefined when absent. */
export function typedSetting(field: Field, type: SettingType): boolean | number | string | undefined {
  switch (type.type) {
    case 'boolean':
      return booleanSetting(field);
    case 'whole':
      return field.value === undefined ? undefined : wholeNumber(field, 0, type.min, type.max);
    case 'decimal':
      return decimalNumber(field, type.min, type.max);
    case 'text':
      return textSetting(field, type.choices);
  }
}

/**
 * `key=value,key=value` settings (a replica spec's options): each key one of `keys`, given once,
 * with one '=' and a non-empty value. With no `keys`, any setting is refused. The values are text
 * as typed; typedSetting reads them.
 */
export function keyValues(text: string | undefined, keys: readonly string[], label: string): Record<string, string> {
  const settings: Record<string, string> = {};
  if (text === undefined || text === '') return settings;
  for (const pair of text.split(',')) {
    if (pair === '') throw new UsageError(`${label}: an empty setting between commas`);
    const [key = '', value, ...more] = pair.split('=');
    if (keys.length === 0) throw new UsageError(`${label}: '${key}' is not a setting (it takes none)`);
    if (more.length > 0) throw new UsageError(`${label}: '${pair}' has more than one '=' (settings are KEY=VALUE, separated by commas)`);
    if (!keys.includes(key)) throw new UsageError(`${label}: '${pair}' is not one of ${keys.map((k) => `${k}=VALUE`).join(', ')}`);
    if (value === undefined || value === '') throw new UsageError(`${label}: ${key} has no value`);
    if (Object.hasOwn(settings, key)) throw new UsageError(`${label}: ${key} is given twice`);
    settings[key] = value;
  }
  return settings;
}

/** Deepest nesting of arrays and objects a settings file may have (a config needs 3, a scenario 4). */
export const JSON_DEPTH_MAX = 16;

/** An array or object open at the scanner's position: where inside it the scan is. */
interface OpenValue {
  /** An object's keys so far; null for an array. */
  readonly keys: Set<string> | null;
  /** The object's current key, or the array's current index. */
  at: string | number | null;
  /** In an object: the next string is a key. */
  expectKey: boolean;
}

function pathOf(open: readonly OpenValue[]): string {
  let path = '';
  for (const value of open) {
    if (value.at === null) continue;
    path += typeof value.at === 'number' ? `[${value.at}]` : path === '' ? value.at : `.${value.at}`;
  }
  return path;
}

/**
 * Checks JSON text before JSON.parse, in one pass with no recursion: nesting deeper than
 * JSON_DEPTH_MAX (JSON.parse recurses, and a deep enough value overflows its stack, naming
 * nothing) and a key given twice in one object (JSON.parse keeps the last, silently). Errors name
 * `label`, the field (`replicas[1].bootNoise`) and the line and column. Text that is not JSON is
 * left to JSON.parse to report.
 */
export function checkJsonShape(text: string, label: string): void {
  const open: OpenValue[] = [];
  let line = 1;
  let lineStart = 0;
  const where = (i: number): string => `(line ${line}, column ${i - lineStart + 1})`;
  // Bounded: i only grows, and every branch moves it forward.
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const top = open.at(-1);
    if (c === 0x0a) {
      line++;
      lineStart = i + 1;
    } else if (c === 0x22) {
      let end = i + 1;
      while (end < text.length && text.charCodeAt(end) !== 0x22) end += text.charCodeAt(end) === 0x5c ? 2 : 1;
      if (top?.keys != null && top.expectKey) {
        const key = decodedKey(text.slice(i, end + 1));
        if (top.keys.has(key)) {
          top.at = key;
          throw new UsageError(`${label}: ${pathOf(open)} is given twice ${where(i)}`);
        }
        top.keys.add(key);
        top.at = key;
        top.expectKey = false;
      }
      i = end;
    } else if (c === 0x7b || c === 0x5b) {
      if (open.length >= JSON_DEPTH_MAX) throw new UsageError(`${label}: ${pathOf(open)} is nested deeper than ${JSON_DEPTH_MAX} levels ${where(i)}`);
      open.push(c === 0x7b ? { keys: new Set(), at: null, expectKey: true } : { keys: null, at: 0, expectKey: false });
    } else if (c === 0x7d || c === 0x5d) {
      open.pop();
    } else if (c === 0x2c && top !== undefined) {
      if (top.keys === null) top.at = (top.at as number) + 1;
      else top.expectKey = true;
    }
  }
}

/** A key's text as JSON.parse would give it ("s\u0065ed" is "seed"); as written if it is not valid. */
function decodedKey(quoted: string): string {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    return quoted;
  }
}

/** JSON.parse, after checkJsonShape; every problem one line naming `label`. */
export function parseSettingsJson(text: string, label: string): unknown {
  checkJsonShape(text, label);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`${label}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
}
