/**
 * What a module outside src/ adds to the `tmr` command: replica kinds (`--replica KIND[:…]` and a
 * config file's `replicas`), actuators (`--actuator SCHEME:…`) and commands (`tmr NAME …`).
 *
 * src/ never imports firmware-sim/ or hil/ (test/loop/layers.test.ts). Each declares what it adds
 * (`export default defineExtension({...})` in its extension.ts), and the composition root,
 * bin/tmr.ts, registers them, as it registers the modules the environment variable TMR_EXTENSIONS
 * names (a user's own replica kinds; the test suite's test hooks). The built-in kinds node and
 * serial come in by the same path. An extension keeps its heavy modules behind a loader, so a run
 * that does not use a kind, an actuator or a command does not load it.
 */
import { statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { TmrAssertionError } from '../core/assert.js';
import { settingTypeProblem, show, typedSetting, UsageError, type SettingType } from '../config/fields.js';
import { importModule } from '../law/law-loader.js';
import { nodeProvider, serialProvider, tcpProvider, type ReplicaProvider, type ReplicaSpec } from '../runtime/replica-kinds.js';
import { parseHostPort } from './host-port.js';
import type { LoadedLaw } from '../law/law-runtime.js';
import type { PlantDefinition } from '../loop/world.js';
import type { IoMap } from '../io/io-map.js';
import type { OpenedIo } from '../io/open-io.js';
import { firmataIo } from '../io/firmata-io.js';

/** A line of `tmr help`: what to type, then what it does (the CLI aligns them). */
export interface HelpEntry {
  readonly syntax: string;
  readonly lines: readonly string[];
}

/** Where a replica's settings came from, for errors: a flag's text or a config file's object. */
export interface ReplicaSettingsSource {
  /** Names the replica in errors: `--replica 'sim-board:ber=x'` or `run.json: replicas[1]`. */
  readonly label: string;
  /** True for a flag's text (every value a string, read as typed); false for a file's JSON values. */
  readonly fromText: boolean;
}

/**
 * One setting of a replica kind: its key in `--replica KIND:key=value,…`, its field in a config
 * file's object, and its type. The CLI reads the typed text or checks the file's JSON value as
 * that type, so a kind's `spec` is handed booleans, numbers within their limits and texts, never
 * text to interpret ('false' is false from a flag, and refused from a file).
 */
export type ReplicaSetting = { readonly key: string; readonly field: string } & SettingType;

export interface ReplicaKindExtension {
  /** The name in `--replica KIND[:…]` and a config file's `"kind"`: lower case, digits and '-'. */
  readonly kind: string;
  /** One line naming it in the unknown-kind error: `node`, `serial:PATH@BAUD`. */
  readonly usage: string;
  /** Its entry under --replica in `tmr help`. */
  readonly help: HelpEntry;
  /** Its settings, in the order errors list them; a config file's object may have these fields and "kind". */
  readonly settings: readonly ReplicaSetting[];
  /**
   * For a kind whose text is not `key=value,…` (serial:PATH@BAUD): reads the text after `KIND:`
   * (undefined when there is no colon) into settings keyed by field. Absent: `key=value,…`.
   */
  readText?(text: string | undefined, where: ReplicaSettingsSource): Readonly<Record<string, unknown>>;
  /**
   * Builds the spec from the settings, keyed by field, each already read as its declared type
   * (absent ones are not there); checks between settings are its own, a bad one a UsageError of
   * one line naming `where.label`.
   */
  spec(settings: Readonly<Record<string, unknown>>, where: ReplicaSettingsSource): ReplicaSpec;
  /**
   * What starts replicas of the kind `spec` builds; a loader is called only when a run has one.
   * Absent when `spec` builds a kind registered elsewhere (the test hooks' node-test builds node).
   */
  readonly provider?: ReplicaProvider | (() => Promise<ReplicaProvider>);
}

/** An actuator a run drives besides the actuator model: what `open` returns. */
export interface OpenedActuator {
  /** One line for stderr: where the commands go. */
  readonly description: string;
  /** This tick's voted commands. */
  deliver(commands: Int32Array): void;
  close(): Promise<void>;
}

export interface ActuatorExtension<Target = unknown> {
  /** `--actuator SCHEME:…` */
  readonly scheme: string;
  /** One line: how to write it (`firmata:PATH[@BAUD]`); the error for an unknown scheme lists these. */
  readonly usage: string;
  /** What it does, under `--actuator USAGE` in `tmr help`. */
  readonly help: readonly string[];
  /** Reads the text after `SCHEME:`; a bad one is a UsageError of one line naming `label`. */
  parse(text: string, label: string): Target;
  /** Why it cannot drive the run's plant (one line), or null. */
  plantProblem?(plantName: string): string | null;
  /** Opens it before the replicas start (heavy modules are loaded here). */
  open(target: Target): Promise<OpenedActuator>;
}

/** What a run's real I/O is opened with (`--io`): the law and plant it serves, the run's numbers, the checked I/O map. */
export interface IoContext {
  readonly law: LoadedLaw;
  readonly plant: PlantDefinition;
  readonly rateHz: number;
  readonly ticks: number;
  readonly seed: number;
  /** The I/O map (`--io-map`, or the scheme's default for the plant), checked against the law. */
  readonly map: IoMap;
}

/** Real I/O the loop closes through instead of the plant model: `--io SCHEME[:TARGET]`. */
export interface IoExtension<Target = unknown> {
  /** `--io SCHEME:…` */
  readonly scheme: string;
  /** One line: how to write it (`firmata:PATH[@BAUD]`). */
  readonly usage: string;
  readonly help: readonly string[];
  /** Reads the text after `SCHEME:` ('' when there is none); a bad one is a UsageError naming `label`. */
  parse(text: string, label: string): Target;
  /** The I/O map it uses for a plant when `--io-map` is not given (a file path), or null: then `--io-map` is required. */
  defaultMapPath?(plantName: string): string | null;
  /** Opens it before the replicas start: a world ready to sense (every sensor has reported once). */
  open(target: Target, context: IoContext): Promise<OpenedIo>;
}

export interface CommandExtension {
  /** `tmr NAME …`: lower case, not one of the built-in commands. */
  readonly name: string;
  readonly help: HelpEntry;
  /** Runs it; resolves with the exit code. Bad usage is a UsageError (exit 2). */
  run(argv: readonly string[]): Promise<number>;
}

export interface TmrExtension {
  /** Names it in errors: 'firmware-sim'. */
  readonly name: string;
  readonly replicaKinds?: readonly ReplicaKindExtension[];
  readonly actuators?: readonly ActuatorExtension[];
  readonly ios?: readonly IoExtension[];
  readonly commands?: readonly CommandExtension[];
}

/** An extension module's default export: `export default defineExtension({ name, replicaKinds, … })`. */
export function defineExtension(extension: TmrExtension): TmrExtension {
  return extension;
}

/** The environment variable naming extension modules to load (comma-separated paths, .js or .ts). */
export const EXTENSIONS_ENV = 'TMR_EXTENSIONS';
export const EXTENSION_MODULES_MAX = 16;
/** Commands of src/cli/tmr.ts an extension may not take. */
export const BUILT_IN_COMMANDS = ['run', 'sim', 'demo', 'log', 'replay', 'campaign', 'law', 'ports', 'replica', 'key', 'actuator', 'voter', 'help'] as const;

export const BAUD_RATE_MIN = 50;
export const BAUD_RATE_MAX = 4_000_000;
const SERIAL_BAUD_DEFAULT = 115_200;

/**
 * `settings` (keyed by field, as typed in a flag or as a file's JSON values) read as the types
 * `declared` gives them; each error names the setting as its source spells it: `LABEL: key` for a
 * flag, `LABEL.field` for a file.
 */
export function typedSettings(declared: readonly ReplicaSetting[], settings: Readonly<Record<string, unknown>>, where: ReplicaSettingsSource): Record<string, unknown> {
  const typed: Record<string, unknown> = {};
  for (const setting of declared) {
    const label = where.fromText ? `${where.label}: ${setting.key}` : `${where.label}.${setting.field}`;
    const value = typedSetting({ label, value: settings[setting.field], fromText: where.fromText }, setting);
    if (value !== undefined) typed[setting.field] = value;
  }
  return typed;
}

const NAME = /^[a-z][a-z0-9-]*$/;

/** The built-in kinds, registered like any other. */
const BUILT_IN: TmrExtension = {
  name: 'tmr',
  ios: [firmataIo],
  replicaKinds: [
    {
      kind: 'node',
      usage: 'node',
      help: { syntax: 'node', lines: ['a Node replica process (the default)'] },
      settings: [],
      spec: () => ({ kind: 'node' }),
      provider: nodeProvider,
    },
    {
      kind: 'serial',
      usage: 'serial:PATH@BAUD',
      help: { syntax: 'serial:PATH[@BAUD]', lines: [`a board on a serial port (default ${SERIAL_BAUD_DEFAULT})`] },
      settings: [
        { key: 'path', field: 'path', type: 'text' },
        { key: 'baud', field: 'baudRate', type: 'whole', min: BAUD_RATE_MIN, max: BAUD_RATE_MAX },
      ],
      readText(text, where) {
        const match = /^([^@]+)(?:@(.*))?$/.exec(text ?? '');
        if (match === null) throw new UsageError(`${where.label}: expected serial:PATH or serial:PATH@BAUD`);
        return { path: match[1], baudRate: match[2] };
      },
      spec(settings, { label }) {
        const { path, baudRate } = settings;
        if (typeof path !== 'string') throw new UsageError(`${label}.path must be the serial port's path, got ${show(path)}`);
        return { kind: 'serial', path, baudRate: (baudRate as number | undefined) ?? SERIAL_BAUD_DEFAULT };
      },
      provider: serialProvider,
    },
    {
      kind: 'tcp',
      usage: 'tcp:HOST:PORT',
      help: { syntax: 'tcp:HOST:PORT', lines: ['a replica served by `tmr replica --listen` on this host or another,', 'over authenticated TCP (the key: --key-file, or keyFile in its config entry)'] },
      settings: [
        { key: 'host', field: 'host', type: 'text' },
        { key: 'port', field: 'port', type: 'whole', min: 1, max: 65_535 },
        { key: 'key', field: 'keyFile', type: 'text' },
      ],
      readText(text, where) {
        const { host, port } = parseHostPort(text ?? '', where.label, 1);
        return { host, port: String(port) };
      },
      spec(settings, { label }) {
        const { host, port, keyFile } = settings;
        if (typeof host !== 'string' || host === '') throw new UsageError(`${label}.host must be the replica server's host name or address, got ${show(host)}`);
        if (typeof port !== 'number') throw new UsageError(`${label}.port must be the replica server's port (1..65535), got ${show(port)}`);
        // An empty keyFile is filled from --key-file (keyFile) when the run's options are settled.
        return { kind: 'tcp', host, port, keyFile: typeof keyFile === 'string' ? keyFile : '' };
      },
      provider: tcpProvider,
    },
  ],
};

/**
 * An extension loaded from TypeScript source carries its own copy of src/ (tsx loads the .ts files
 * it imports), so its UsageError is another class with the same name: it is recognised by name
 * here, at the boundary, and the rest of the CLI sees ours (exit 2, one line).
 */
function ours(error: unknown): unknown {
  if (error instanceof UsageError || error instanceof TmrAssertionError || !(error instanceof Error)) return error;
  if (error.name === 'UsageError') return new UsageError(error.message);
  if (error.name === 'TmrAssertionError') return new TmrAssertionError(error.message);
  return error;
}

function guarded<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  return (...args) => {
    try {
      return fn(...args);
    } catch (error) {
      throw ours(error);
    }
  };
}

function guardedAsync<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (error) {
      throw ours(error);
    }
  };
}

const isText = (value: unknown): value is string => typeof value === 'string';
const isLines = (value: unknown): value is readonly string[] => Array.isArray(value) && value.every(isText);
const isHelp = (value: unknown): value is HelpEntry =>
  typeof value === 'object' && value !== null && isText((value as HelpEntry).syntax) && isLines((value as HelpEntry).lines);
const isFunction = (value: unknown): value is (...args: never[]) => unknown => typeof value === 'function';

/** The kinds, actuators and commands the CLI knows: the built-ins, then each registered extension's. */
export class ExtensionRegistry {
  readonly #kinds: ReplicaKindExtension[] = [];
  readonly #actuators: ActuatorExtension[] = [];
  readonly #ios: IoExtension[] = [];
  readonly #commands: CommandExtension[] = [];
  readonly #registered = new Set<TmrExtension>();

  constructor() {
    this.register(BUILT_IN);
  }

  get replicaKinds(): readonly ReplicaKindExtension[] {
    return this.#kinds;
  }

  get actuators(): readonly ActuatorExtension[] {
    return this.#actuators;
  }

  get ios(): readonly IoExtension[] {
    return this.#ios;
  }

  io(scheme: string): IoExtension | undefined {
    return this.#ios.find((a) => a.scheme === scheme);
  }

  get commands(): readonly CommandExtension[] {
    return this.#commands;
  }

  replicaKind(kind: string): ReplicaKindExtension | undefined {
    return this.#kinds.find((k) => k.kind === kind);
  }

  actuator(scheme: string): ActuatorExtension | undefined {
    return this.#actuators.find((a) => a.scheme === scheme);
  }

  command(name: string): CommandExtension | undefined {
    return this.#commands.find((c) => c.name === name);
  }

  /**
   * Adds what `extension` declares, checked first (nothing is added if one part is wrong); the
   * same extension twice is a no-op. `source` names it in errors (`TMR_EXTENSIONS: ./x.ts`).
   */
  register(extension: TmrExtension, source = `extension ${show(extension?.name)}`): this {
    if (this.#registered.has(extension)) return this;
    const problem: (what: string) => never = (what) => {
      throw new UsageError(`${source}: ${what}`);
    };
    if (typeof extension !== 'object' || extension === null || !isText(extension.name)) problem('not an extension (export default defineExtension({ name, replicaKinds, actuators, commands }))');
    const list = <T>(value: readonly T[] | undefined, what: string): readonly T[] => {
      if (value === undefined) return [];
      if (!Array.isArray(value)) problem(`${what} must be an array`);
      return value;
    };
    const kinds = list(extension.replicaKinds, 'replicaKinds').map((k, i) => this.#checkedKind(k, `replicaKinds[${i}]`, problem));
    const actuators = list(extension.actuators, 'actuators').map((a, i) => this.#checkedActuator(a, `actuators[${i}]`, problem));
    const ios = list(extension.ios, 'ios').map((a, i) => this.#checkedIo(a, `ios[${i}]`, problem));
    const commands = list(extension.commands, 'commands').map((c, i) => this.#checkedCommand(c, `commands[${i}]`, problem));
    const unique = (names: readonly string[], what: string): void => {
      const twice = names.find((name, i) => names.indexOf(name) !== i);
      if (twice !== undefined) problem(`${what} '${twice}' is declared twice`);
    };
    unique(kinds.map((k) => k.kind), 'replica kind');
    unique(actuators.map((a) => a.scheme), 'actuator');
    unique(ios.map((a) => a.scheme), 'io');
    unique(commands.map((c) => c.name), 'command');
    this.#registered.add(extension);
    this.#kinds.push(...kinds);
    this.#actuators.push(...actuators);
    this.#ios.push(...ios);
    this.#commands.push(...commands);
    return this;
  }

  #checkedKind(k: ReplicaKindExtension, at: string, problem: (what: string) => never): ReplicaKindExtension {
    if (typeof k !== 'object' || k === null || !isText(k.kind) || !NAME.test(k.kind)) problem(`${at}.kind must be a name in lower case (letters, digits, '-'), got ${show(k?.kind)}`);
    if (this.replicaKind(k.kind) !== undefined) problem(`replica kind '${k.kind}' is already registered`);
    if (!isText(k.usage) || !isHelp(k.help) || !isFunction(k.spec) || (k.readText !== undefined && !isFunction(k.readText))) {
      problem(`${at} (${k.kind}) needs usage (text), help ({ syntax, lines }), spec(settings, where) and optionally readText(text, where)`);
    }
    if (!Array.isArray(k.settings) || !k.settings.every((s) => typeof s === 'object' && s !== null && isText(s.key) && isText(s.field) && s.field !== 'kind')) {
      problem(`${at} (${k.kind}).settings must be a list of { key, field, type } (field not 'kind')`);
    }
    k.settings.forEach((s, i) => {
      const typeProblem = settingTypeProblem(s);
      if (typeProblem !== null) problem(`${at} (${k.kind}).settings[${i}] (${s.key}): ${typeProblem}`);
    });
    const provider = k.provider;
    if (provider !== undefined && !isFunction(provider) && !(typeof provider === 'object' && provider !== null && isFunction(provider.start))) {
      problem(`${at} (${k.kind}).provider must be a ReplicaProvider or a function that loads one`);
    }
    const spec = k.spec.bind(k);
    return {
      ...k,
      // The one place a kind's settings are read: every caller hands the spec typed values.
      spec: guarded((settings, where) => spec(typedSettings(k.settings, settings, where), where)),
      ...(k.readText === undefined ? {} : { readText: guarded(k.readText.bind(k)) }),
      ...(isFunction(provider) ? { provider: guardedAsync(provider) } : {}),
    };
  }

  #checkedActuator(a: ActuatorExtension, at: string, problem: (what: string) => never): ActuatorExtension {
    if (typeof a !== 'object' || a === null || !isText(a.scheme) || !NAME.test(a.scheme)) problem(`${at}.scheme must be a name in lower case, got ${show(a?.scheme)}`);
    if (this.actuator(a.scheme) !== undefined) problem(`actuator '${a.scheme}' is already registered`);
    if (!isText(a.usage) || !isLines(a.help) || !isFunction(a.parse) || !isFunction(a.open) || (a.plantProblem !== undefined && !isFunction(a.plantProblem))) {
      problem(`${at} (${a.scheme}) needs usage (text), help (lines), parse(text, label), open(target) and optionally plantProblem(plant)`);
    }
    return {
      ...a,
      parse: guarded(a.parse.bind(a)),
      open: guardedAsync(a.open.bind(a)),
      ...(a.plantProblem === undefined ? {} : { plantProblem: guarded(a.plantProblem.bind(a)) }),
    };
  }

  #checkedIo(a: IoExtension, at: string, problem: (what: string) => never): IoExtension {
    if (typeof a !== 'object' || a === null || !isText(a.scheme) || !NAME.test(a.scheme)) problem(`${at}.scheme must be a name in lower case, got ${show(a?.scheme)}`);
    if (this.io(a.scheme) !== undefined) problem(`io '${a.scheme}' is already registered`);
    if (!isText(a.usage) || !isLines(a.help) || !isFunction(a.parse) || !isFunction(a.open) || (a.defaultMapPath !== undefined && !isFunction(a.defaultMapPath))) {
      problem(`${at} (${a.scheme}) needs usage (text), help (lines), parse(text, label), open(target, context) and optionally defaultMapPath(plant)`);
    }
    return {
      ...a,
      parse: guarded(a.parse.bind(a)),
      open: guardedAsync(a.open.bind(a)),
      ...(a.defaultMapPath === undefined ? {} : { defaultMapPath: guarded(a.defaultMapPath.bind(a)) }),
    };
  }

  #checkedCommand(c: CommandExtension, at: string, problem: (what: string) => never): CommandExtension {
    if (typeof c !== 'object' || c === null || !isText(c.name) || !NAME.test(c.name)) problem(`${at}.name must be a name in lower case, got ${show(c?.name)}`);
    if ((BUILT_IN_COMMANDS as readonly string[]).includes(c.name) || this.command(c.name) !== undefined) problem(`command '${c.name}' is already taken`);
    if (!isHelp(c.help) || !isFunction(c.run)) problem(`${at} (${c.name}) needs help ({ syntax, lines }) and run(argv)`);
    return { ...c, run: guardedAsync(c.run.bind(c)) };
  }

  /** The providers of the kinds `specs` use, loaded now (a kind's heavy modules load only here). */
  async providersFor(specs: readonly ReplicaSpec[] | null): Promise<ReplicaProvider[]> {
    const providers: ReplicaProvider[] = [];
    for (const kind of new Set((specs ?? []).map((spec) => spec.kind))) {
      const provider = this.replicaKind(kind)?.provider;
      if (provider === undefined) continue;
      providers.push(typeof provider === 'function' ? await provider() : provider);
    }
    return providers;
  }
}

/**
 * Imports the extension modules `list` names (TMR_EXTENSIONS: comma-separated paths, relative to
 * `cwd`; .js, .mjs, .ts or .mts, TypeScript loaded as a user's law is). Each must export an
 * extension as its default (or as `extension`). Every problem is one line naming the variable and
 * the path.
 */
export async function importExtensions(list: string | undefined, cwd: string): Promise<{ extension: TmrExtension; source: string }[]> {
  if (list === undefined || list.trim() === '') return [];
  const paths = list.split(',').map((p) => p.trim());
  if (paths.length > EXTENSION_MODULES_MAX) throw new UsageError(`${EXTENSIONS_ENV}: at most ${EXTENSION_MODULES_MAX} modules, got ${paths.length}`);
  const loaded: { extension: TmrExtension; source: string }[] = [];
  for (const path of paths) {
    const source = `${EXTENSIONS_ENV}: ${path}`;
    if (path === '') throw new UsageError(`${EXTENSIONS_ENV}: an empty path between commas`);
    if (!['.js', '.mjs', '.ts', '.mts'].includes(extname(path))) throw new UsageError(`${source}: not a .js or .ts module`);
    const file = resolve(cwd, path);
    let isFile: boolean;
    try {
      isFile = statSync(file).isFile();
    } catch {
      throw new UsageError(`${source}: no such file`);
    }
    // A FIFO or a device would block the import (or never end): a module is a regular file.
    if (!isFile) throw new UsageError(`${source}: not a regular file`);
    let module: Record<string, unknown>;
    try {
      module = await importModule(file);
    } catch (error) {
      throw new UsageError(`${source}: the module failed to load: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    }
    const extension = module.default ?? module.extension;
    if (extension === undefined) throw new UsageError(`${source}: exports no extension (export default defineExtension({...}))`);
    loaded.push({ extension: extension as TmrExtension, source });
  }
  return loaded;
}
