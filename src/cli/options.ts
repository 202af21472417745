/**
 * Command-line options for `tmr run` and `tmr sim` (and which options every command takes):
 * parsed strictly, validated with limits, and every problem reported as a one-line UsageError
 * naming the flag and what is wrong.
 */
import { RECOVERY_LIMITS, restartWindowMsMin } from '../config/recovery-limits.js';
import { booleanSetting, keyValues, parseSettingsJson, show, textSetting, UsageError, wholeNumber, type Field } from '../config/fields.js';
import { parseArgs } from 'node:util';
import { assert } from '../core/assert.js';
import type { SimplexPolicy } from '../core/degradation.js';
import { REPLICA_COUNT_MAX } from '../core/voter.js';
import { FAULT_KINDS, type FaultKind } from '../protocol/messages.js';
import { DEFAULT_LAW, importLaw } from '../law/law-loader.js';
import { LawError } from '../law/law.js';
import { DEFAULT_LOOP_OPTIONS, importPlant } from '../sim/plants.js';
import { COMMON_MODE_LIMIT_MS_MAX, type FaultSpec, type LoopOptions, type StallSpec } from '../loop/loop-model.js';
import { KILL_WINDOW_TICKS_MAX, type KillSwitchConfig } from '../loop/kill-switch.js';
import type { ReplicaSpec, TcpReplicaSpec } from '../runtime/replica-kinds.js';
import { KeyFileError, readKeyFile } from '../transport/key-file.js';
import { endpointText } from '../transport/tcp-transport.js';
import { DEFAULT_RECOVERY, type RecoveryOptions } from '../loop/recovery.js';
import { InputFileError, readInputText } from '../loop/input-file.js';
import { defaultQuorumGraceUs, START_POLICIES, START_POLICY_DEFAULT, type StartPolicy } from '../runtime/realtime-runner.js';
import type { ActuatorExtension, ExtensionRegistry, ReplicaSettingsSource } from './extensions.js';
import { loadIoMap, selectIo, type IoMapRef, type SelectedIo } from '../io/open-io.js';
import type { IoMap } from '../io/io-map.js';

export { UsageError } from '../config/fields.js';
export { BAUD_RATE_MAX, BAUD_RATE_MIN } from './extensions.js';

export const RATE_HZ_MIN = 1;
export const RATE_HZ_MAX = 2_000;
export const TICKS_MAX_RUN = 10_000_000;
export const TICKS_MAX_SIM = 100_000_000;
export const INJECTS_MAX = 64;
/** Faults that happen once and have no duration. */
const ONE_SHOT_FAULTS: readonly FaultKind[] = ['crash', 'state'];

export const CONFIG_BYTES_MAX = 64 * 1024;
/** The quorum grace is at most this many tick periods: past that the loop is not keeping time. */
export const QUORUM_GRACE_PERIODS_MAX = 4;

export interface CliRunOptions extends LoopOptions {
  readonly json: boolean;
  readonly deadlineUs: number;
  /** Quorum grace after the deadline, µs (see RealtimeOptions.quorumGraceUs); tmr run only. */
  readonly quorumGraceUs: number;
  /** Whether tmr run starts without every replica (see RealtimeOptions.startPolicy); tmr run only. */
  readonly startPolicy: StartPolicy;
  readonly traceFile: string | null;
  /** Black-box log to write (see src/loop/black-box.ts); null: none. */
  readonly logFile: string | null;
  /** Kill-switch triggers (see src/loop/kill-switch.ts); null: none armed. */
  readonly killSwitch: KillSwitchConfig | null;
  /** What each replica is (tmr run); null: all Node processes. */
  readonly replicas: readonly ReplicaSpec[] | null;
  /** tmr run: an actuator an extension adds (hil/: a drive board over Firmata), driven besides the model; null: none. */
  readonly actuator: SelectedActuator | null;
  /**
   * tmr run: real I/O the loop closes through instead of the plant model (`--io`, config `io`),
   * and its I/O map as given (`--io-map`, config `ioMap`; null: the scheme's default for the plant)
   * and as read and checked against the law by withLawAndPlant (null until then, or without --io).
   */
  readonly io: SelectedIo | null;
  readonly ioMapRef: IoMapRef | null;
  readonly ioMap: IoMap | null;
  /** --law NAME|PATH as given (loaded into `law` by withLawAndPlant), and --plant (null: the law's default). */
  readonly lawRef: string;
  readonly plantRef: string | null;
  /** Where they came from, for errors: '--law' or 'run.json: law'. */
  readonly lawLabel: string;
  readonly plantLabel: string;
}

/** `--actuator SCHEME:TEXT`: the extension that drives it and what it read from TEXT. */
export interface SelectedActuator {
  readonly actuator: ActuatorExtension;
  readonly target: unknown;
}

function actuatorFrom(text: string | undefined, extensions: ExtensionRegistry, label = '--actuator'): SelectedActuator | null {
  if (text === undefined) return null;
  const colon = text.indexOf(':');
  const actuator = colon < 0 ? undefined : extensions.actuator(text.slice(0, colon));
  if (actuator === undefined) {
    const usages = extensions.actuators.map((a) => a.usage);
    throw new UsageError(`${label} '${text}': ${usages.length === 0 ? 'no actuator is available (an extension adds one)' : `expected ${usages.join(' or ')}`}`);
  }
  return { actuator, target: actuator.parse(text.slice(colon + 1), label) };
}

/**
 * The commands that share an option grammar, the options each takes, and why the others do not:
 * an option given to a command that does not take it is an error naming the command, never
 * ignored. One table per family of commands; each command parses its family's options and asks
 * refuseUnusedOptions.
 */
export interface OptionFamily<Command extends string> {
  /** The options (without --) each command takes. */
  readonly takes: Readonly<Record<Command, readonly string[]>>;
  /** Why a command that does not take an option does not (said after "tmr OTHER only: "). */
  readonly why: Readonly<Record<string, string>>;
}

/** Refuses the first option in `given` (parseArgs values) that `command` does not take, naming the command and those that do. */
export function refuseUnusedOptions<Command extends string>(family: OptionFamily<Command>, command: Command, given: Readonly<Record<string, unknown>>): void {
  for (const [option, value] of Object.entries(given)) {
    if (value !== undefined && !family.takes[command].includes(option)) throw new UsageError(`tmr ${command} does not take --${option} (${whoTakes(family, command, option)})`);
  }
}

/** "tmr run only: why", or what `command` takes when no command of the family takes `option`. */
function whoTakes<Command extends string>(family: OptionFamily<Command>, command: Command, option: string): string {
  const others = (Object.keys(family.takes) as Command[]).filter((c) => family.takes[c].includes(option));
  if (others.length === 0) return `it takes ${family.takes[command].map((o) => `--${o}`).join(', ') || 'no options'}`;
  const why = family.why[option];
  return `${others.map((c) => `tmr ${c}`).join(', ')} only${why === undefined ? '' : `: ${why}`}`;
}

/** Checked once at load, by each family's parser: its table names exactly the options it parses. */
export function assertFamilyParses(family: OptionFamily<string>, parsed: Readonly<Record<string, unknown>>, name: string): void {
  const taken = new Set(Object.values<readonly string[]>(family.takes).flat());
  const missing = Object.keys(parsed).filter((o) => !taken.has(o));
  const unknown = [...taken].filter((o) => !(o in parsed));
  assert(missing.length === 0 && unknown.length === 0, `${name}: options no command takes: ${missing.join(', ') || 'none'}; options in the table but not parsed: ${unknown.join(', ') || 'none'}`);
}

/** Every option `tmr run` and `tmr sim` know (parseArgs types), and the config-file key that says the same, if any. */
const FLAGS = {
  law: { type: 'string', configKey: 'law' },
  plant: { type: 'string', configKey: 'plant' },
  replicas: { type: 'string', configKey: 'replicaCount' },
  replica: { type: 'string', multiple: true, configKey: 'replicas' },
  'rate-hz': { type: 'string', configKey: 'rateHz' },
  ticks: { type: 'string', configKey: 'ticks' },
  seed: { type: 'string', configKey: 'seed' },
  inject: { type: 'string', multiple: true, configKey: 'inject' },
  'simplex-policy': { type: 'string', configKey: 'simplexPolicy' },
  'deadline-us': { type: 'string', configKey: 'deadlineUs' },
  'quorum-grace-us': { type: 'string', configKey: 'quorumGraceUs' },
  'common-mode-limit-ms': { type: 'string', configKey: 'commonModeLimitMs' },
  'start-policy': { type: 'string', configKey: 'startPolicy' },
  recover: { type: 'boolean', configKey: 'recovery' },
  'cold-restart': { type: 'boolean', configKey: 'recovery' },
  'probation-ticks': { type: 'string', configKey: 'recovery' },
  'restart-limit': { type: 'string', configKey: 'recovery' },
  'restart-backoff-ms': { type: 'string', configKey: 'recovery' },
  config: { type: 'string' },
  trace: { type: 'string' },
  log: { type: 'string' },
  'kill-error-rate': { type: 'string' },
  'kill-quorum-loss': { type: 'string' },
  'kill-after-ticks': { type: 'string' },
  'kill-after-ms': { type: 'string' },
  actuator: { type: 'string' },
  io: { type: 'string', configKey: 'io' },
  'io-map': { type: 'string', configKey: 'ioMap' },
  'key-file': { type: 'string', configKey: 'keyFile' },
  json: { type: 'boolean' },
} as const satisfies Record<string, { type: 'string' | 'boolean'; multiple?: boolean; configKey?: string }>;

type RunFlag = keyof typeof FLAGS;
const NO_WALL_CLOCK = 'the simulator has no wall clock';
const RUN_AND_SIM: readonly RunFlag[] = [
  'law', 'plant', 'replicas', 'rate-hz', 'ticks', 'seed', 'inject', 'simplex-policy', 'common-mode-limit-ms',
  'recover', 'cold-restart', 'probation-ticks', 'restart-limit', 'restart-backoff-ms',
  'config', 'log', 'kill-error-rate', 'kill-quorum-loss', 'kill-after-ticks', 'json',
];

export const RUN_OPTIONS: OptionFamily<'run' | 'sim'> = {
  takes: {
    run: [...RUN_AND_SIM, 'replica', 'deadline-us', 'quorum-grace-us', 'kill-after-ms', 'actuator', 'start-policy', 'io', 'io-map', 'key-file'],
    sim: [...RUN_AND_SIM, 'trace'],
  },
  why: {
    replica: 'the simulator runs its replicas in-process; their number is --replicas, or replicaCount in a file',
    'deadline-us': NO_WALL_CLOCK,
    'quorum-grace-us': NO_WALL_CLOCK,
    'kill-after-ms': NO_WALL_CLOCK,
    actuator: 'the simulator drives its actuator model directly',
    trace: 'tmr run writes the black-box log: --log FILE',
    'start-policy': "the simulator's replicas always start",
    io: 'the simulator closes the loop through its plant model; real I/O is tmr run --io',
    'io-map': 'the simulator closes the loop through its plant model; real I/O is tmr run --io',
    'key-file': "the simulator's replicas are in-process: no link leaves the host",
  },
};

/** `tmr demo [--law NAME]`. */
export const DEMO_OPTIONS: OptionFamily<'demo'> = { takes: { demo: ['law'] }, why: {} };

/** `tmr campaign`: a campaign of many seeds, or one seed replayed with its trace. */
export const CAMPAIGN_OPTIONS: OptionFamily<'campaign --seeds' | 'campaign --seed'> = {
  takes: {
    'campaign --seeds': ['seeds', 'from', 'workers', 'faults', 'ticks', 'stack', 'law', 'plant', 'json'],
    'campaign --seed': ['seed', 'trace', 'faults', 'ticks', 'stack', 'law', 'plant', 'json'],
  },
  why: {
    seeds: '--seed replays one seed; --seeds applies to a campaign',
    from: 'the first seed of a campaign; --seed names the one to replay',
    workers: 'one seed replayed runs on one process',
    trace: '--trace replays one seed with its per-tick trace',
  },
};

/** `tmr law info|check|vectors`. */
export const LAW_OPTIONS: OptionFamily<'law info' | 'law check' | 'law vectors'> = {
  takes: { 'law info': ['json'], 'law check': ['steps', 'seed', 'json'], 'law vectors': ['steps', 'seed', 'out'] },
  why: {},
};

/** The config-file keys each of run and sim uses: those of the flags it takes. */
const CONFIG_KEYS: readonly string[] = [...new Set(Object.values(FLAGS).flatMap((f) => ('configKey' in f ? [f.configKey] : [])))];
function configKeysOf(command: 'run' | 'sim'): readonly string[] {
  return RUN_OPTIONS.takes[command].flatMap((flag) => {
    const f = FLAGS[flag as RunFlag];
    return 'configKey' in f ? [f.configKey] : [];
  });
}

/** The flag a config key stands for, to say why a command does not use it. */
function flagOfConfigKey(key: string): RunFlag | undefined {
  return (Object.keys(FLAGS) as RunFlag[]).find((flag) => (FLAGS[flag] as { configKey?: string }).configKey === key);
}

assertFamilyParses(RUN_OPTIONS, FLAGS, 'tmr run and sim');

/**
 * `--replica KIND[:TEXT]`: KIND is a registered replica kind (src/cli/extensions.ts), TEXT its
 * settings (`key=value,…`, or the kind's own grammar, as serial:PATH@BAUD).
 */
export function parseReplicaSpec(text: string, label: string, extensions: ExtensionRegistry): ReplicaSpec {
  const colon = text.indexOf(':');
  const kind = extensions.replicaKind(colon < 0 ? text : text.slice(0, colon));
  if (kind === undefined) {
    // Kinds a user can name bare first, then those that need more (serial:PATH@BAUD).
    const usages = [...extensions.replicaKinds].sort((a, b) => Number(a.usage.includes(':')) - Number(b.usage.includes(':'))).map((k) => k.usage);
    throw new UsageError(`${label} '${text}': unknown replica kind (one of ${usages.join(', ')})`);
  }
  const where: ReplicaSettingsSource = { label: `${label} '${text}'`, fromText: true };
  const settingsText = colon < 0 ? undefined : text.slice(colon + 1);
  if (kind.readText !== undefined) return kind.spec(kind.readText(settingsText, where), where);
  const typed = keyValues(settingsText, kind.settings.map((s) => s.key), where.label);
  const settings: Record<string, unknown> = {};
  for (const { key, field } of kind.settings) if (typed[key] !== undefined) settings[field] = typed[key];
  return kind.spec(settings, where);
}

/** One replica from a config file's "replicas" array (or a HIL scenario's): an object with a "kind", or the flag's text. */
export function replicaFromConfig(value: unknown, label: string, extensions: ExtensionRegistry): ReplicaSpec {
  if (typeof value === 'string') return parseReplicaSpec(value, label, extensions);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`${label} must be an object with a "kind" (or a string such as "node"), got ${show(value)}`);
  const { kind: name, ...settings } = value as Record<string, unknown>;
  const kind = typeof name === 'string' ? extensions.replicaKind(name) : undefined;
  if (kind === undefined) throw new UsageError(`${label}.kind must be one of ${extensions.replicaKinds.map((k) => k.kind).join(', ')}, got ${show(name)}`);
  const fields = ['kind', ...kind.settings.map((s) => s.field)];
  const unknown = Object.keys(settings).find((k) => !fields.includes(k));
  if (unknown !== undefined) throw new UsageError(`${label}.${unknown} is not a field of a ${kind.kind} replica (fields: ${fields.join(', ')})`);
  return kind.spec(settings, { label, fromText: false });
}

const RECOVERY_KEYS = ['probationTicks', 'restartsMax', 'restartWindowMs', 'backoffMsBase', 'backoffMsMax', 'coldRestart'] as const;

/**
 * Reads and checks a JSON run configuration for `command`; every problem names the file and the
 * field. The file must be a regular file of at most CONFIG_BYTES_MAX (checked before reading: a
 * device or a FIFO is an error, not an endless read or a hang); a key the command does not use is
 * an error, as its flag would be.
 */
function readConfig(path: string, command: 'run' | 'sim'): Record<string, unknown> {
  let text: string;
  try {
    text = readInputText(path, '--config', CONFIG_BYTES_MAX);
  } catch (error) {
    if (error instanceof InputFileError) throw new UsageError(error.message);
    throw error;
  }
  const parsed = parseSettingsJson(text, path);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`${path}: must hold one JSON object`);
  return checkConfigKeys(parsed as Record<string, unknown>, path, command, `tmr ${command}`);
}

/**
 * Refuses a key that is not a setting, or one `command` does not use, naming `label` (the file, or
 * createRuntime) and `user` (who does not use it: 'tmr sim', "mode 'simulation'").
 */
function checkConfigKeys(config: Record<string, unknown>, label: string, command: 'run' | 'sim', user: string): Record<string, unknown> {
  const used = configKeysOf(command);
  for (const key of Object.keys(config)) {
    if (!CONFIG_KEYS.includes(key)) throw new UsageError(`${label}: ${key} is not a setting (settings: ${CONFIG_KEYS.join(', ')})`);
    if (!used.includes(key)) throw new UsageError(`${label}: ${user} does not use ${key} (${whoTakes(RUN_OPTIONS, command, flagOfConfigKey(key) ?? key)})`);
  }
  return config;
}

/** What a run configuration object may come with that a config file may not hold: where to log, the kill switch, an actuator. */
export interface ConfigExtras {
  readonly logFile: Field;
  readonly killSwitch: Field;
  readonly actuator: Field;
}

/**
 * A run configuration as an object (the library's createRuntime, src/api/): the keys and checks of
 * a --config file, every problem one line naming `label` and the field (`createRuntime: rateHz must
 * be between 1 and 2000, got 0`); `user` names the mode in errors about a key it does not use.
 * The law and plant are named, not loaded: withLawAndPlant loads them.
 */
export function settleConfig(config: unknown, label: string, command: 'run' | 'sim', user: string, extensions: ExtensionRegistry, extras: ConfigExtras): CliRunOptions {
  const prototype: unknown = typeof config === 'object' && config !== null ? Object.getPrototypeOf(config) : undefined;
  if (prototype !== Object.prototype && prototype !== null) throw new UsageError(`${label}: the configuration must be a plain object, got ${show(config)}`);
  const c = checkConfigKeys(config as Record<string, unknown>, label, command, user);
  const logFile = textSetting(extras.logFile) ?? null;
  if (command === 'sim' && extras.actuator.value !== undefined) throw new UsageError(`${extras.actuator.label}: ${user} takes no actuator (${whoTakes(RUN_OPTIONS, command, 'actuator')})`);
  const actuatorText = textSetting(extras.actuator);
  const settled = settle(configSettings(c, label, extensions), command, false, null, logFile);
  return withIo({ ...settled, killSwitch: killSwitchFromObject(extras.killSwitch, command, user), actuator: actuatorFrom(actuatorText, extensions, extras.actuator.label) }, extensions);
}


/** stall@TICK+TICKS: every replica stopped at once (a machine-wide stall), e.g. stall@200+40. */
export function parseStall(text: string, ticks: number, label = '--inject'): StallSpec {
  const match = /^stall@(\d+)\+(\d+)$/.exec(text);
  if (!match) throw new UsageError(`${label} '${text}' is not stall@TICK+TICKS (every replica stopped at once for TICKS ticks, e.g. stall@200+40)`);
  const startTick = Number(match[1]);
  const durationTicks = Number(match[2]);
  if (startTick >= ticks) throw new UsageError(`${label} '${text}': tick ${startTick} is past the end of the run (${ticks} ticks)`);
  if (durationTicks < 1 || durationTicks > ticks) throw new UsageError(`${label} '${text}': duration must be between 1 and ${ticks} ticks`);
  return { startTick, durationTicks };
}

/** A fault (KIND:REPLICA@TICK[+TICKS]) or a machine-wide stall (stall@TICK+TICKS), split into their lists; stalls may not overlap. */
export function parseInjects(texts: readonly string[], replicaCount: number, ticks: number, label = '--inject'): { injects: FaultSpec[]; stalls: StallSpec[] } {
  const injects: FaultSpec[] = [];
  const stalls: StallSpec[] = [];
  for (const text of texts) {
    if (text.startsWith('stall')) stalls.push(parseStall(text, ticks, label));
    else injects.push(parseInject(text, replicaCount, ticks, label));
  }
  const sorted = [...stalls].sort((a, b) => a.startTick - b.startTick);
  for (let k = 1; k < sorted.length; k++) {
    const before = sorted[k - 1]!;
    if (sorted[k]!.startTick < before.startTick + before.durationTicks) {
      throw new UsageError(`${label}: stall@${sorted[k]!.startTick} starts before stall@${before.startTick}+${before.durationTicks} ends (stalls may not overlap)`);
    }
  }
  return { injects, stalls };
}

/** KIND:REPLICA@TICK[+TICKS], e.g. crash:1@500 or wrong:2@800+200. */
export function parseInject(text: string, replicaCount: number, ticks: number, label = '--inject'): FaultSpec {
  const match = /^([a-z]+):(\d+)@(\d+)(?:\+(\d+))?$/.exec(text);
  if (!match) throw new UsageError(`${label} '${text}' is not KIND:REPLICA@TICK[+TICKS] (e.g. crash:1@500, wrong:2@800+200)`);
  const [, kindText, replicaText, tickText, durationText] = match;
  if (!(FAULT_KINDS as readonly string[]).includes(kindText!)) {
    throw new UsageError(`${label} '${text}': unknown fault kind '${kindText}' (one of ${FAULT_KINDS.join(', ')}; or stall@TICK+TICKS)`);
  }
  const kind = kindText as FaultKind;
  const replicaIndex = Number(replicaText);
  if (replicaIndex >= replicaCount) throw new UsageError(`${label} '${text}': replica ${replicaIndex} does not exist (replicas are 0..${replicaCount - 1})`);
  const startTick = Number(tickText);
  if (startTick >= ticks) throw new UsageError(`${label} '${text}': tick ${startTick} is past the end of the run (${ticks} ticks)`);
  if (durationText !== undefined && ONE_SHOT_FAULTS.includes(kind)) throw new UsageError(`${label} '${text}': a ${kind} fault takes no +TICKS duration`);
  const durationTicks = durationText === undefined ? 0 : Number(durationText);
  if (durationText !== undefined && (durationTicks < 1 || durationTicks > ticks)) {
    throw new UsageError(`${label} '${text}': duration must be between 1 and ${ticks} ticks`);
  }
  return { kind, replicaIndex, startTick, durationTicks };
}

/** node:util parseArgs errors, said in one short line. */
function parseArgsProblem(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  const flag = /'(--?[a-z-]+)/.exec(message)?.[1] ?? 'an option';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option '${flag}' (try: tmr help)`;
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `unexpected argument ${/'[^']*'/.exec(message)?.[0] ?? ''} (options start with --)`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (/ambiguous/.test(message)) return `${flag} needs a value; for a value that starts with '-', write ${flag}=VALUE`;
    return `${flag} needs a value`;
  }
  return message.split('\n')[0]!;
}

/** `tmr demo [--law NAME]`: the law, one of `laws` (those the demo explains; the first by default). */
export function parseDemoLaw(argv: readonly string[], laws: readonly string[]): string {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError(parseArgsProblem(error));
  }
  refuseUnusedOptions(DEMO_OPTIONS, 'demo', parsed.values);
  const law = parsed.values.law ?? laws[0]!;
  if (!laws.includes(law)) throw new UsageError(`tmr demo --law must be ${laws.join(' or ')} (the laws the demo explains), got '${law}'`);
  return law;
}

/** --kill-error-rate N/W, --kill-quorum-loss K, --kill-after-ticks N, --kill-after-ms MS; null when none is given. */
function killSwitchFrom(v: Record<string, unknown>): KillSwitchConfig | null {
  const text = (key: string): string | undefined => v[key] as string | undefined;
  const rate = text('kill-error-rate');
  const m = rate === undefined ? null : /^(\d+)\/(\d+)$/.exec(rate);
  if (rate !== undefined && m === null) throw new UsageError(`--kill-error-rate must be ERRORS/TICKS (e.g. 20/200: more than 20 replica errors in 200 ticks), got ${show(rate)}`);
  return settleKillSwitch({
    errorRate: m === null ? null : { errorsMax: { label: '--kill-error-rate errors', value: m[1], fromText: true }, windowTicks: { label: '--kill-error-rate window', value: m[2], fromText: true } },
    quorumLossTicksMax: { label: '--kill-quorum-loss', value: text('kill-quorum-loss'), fromText: true },
    tickBudget: { label: '--kill-after-ticks', value: text('kill-after-ticks'), fromText: true },
    wallBudgetMs: { label: '--kill-after-ms', value: text('kill-after-ms'), fromText: true },
  });
}

const KILL_SWITCH_KEYS = ['errorRate', 'quorumLossTicksMax', 'tickBudget', 'wallBudgetMs'] as const;

/** A KillSwitchConfig object (the library's killSwitch option), checked as the --kill-* flags are; null when absent or empty. */
function killSwitchFromObject(field: Field, command: 'run' | 'sim', user: string): KillSwitchConfig | null {
  const { label, value } = field;
  if (value === undefined) return null;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`${label} must be an object with ${KILL_SWITCH_KEYS.join(', ')}, got ${show(value)}`);
  const entry = value as Record<string, unknown>;
  const unknown = Object.keys(entry).find((k) => !(KILL_SWITCH_KEYS as readonly string[]).includes(k));
  if (unknown !== undefined) throw new UsageError(`${label}.${unknown} is not a trigger (triggers: ${KILL_SWITCH_KEYS.join(', ')})`);
  if (command === 'sim' && entry.wallBudgetMs !== undefined) throw new UsageError(`${label}.wallBudgetMs: ${user} does not use it (${whoTakes(RUN_OPTIONS, command, 'kill-after-ms')})`);
  const rate = entry.errorRate as Record<string, unknown> | undefined;
  if (rate !== undefined && (typeof rate !== 'object' || rate === null || Object.keys(rate).sort().join() !== 'errorsMax,windowTicks')) {
    throw new UsageError(`${label}.errorRate must be { errorsMax, windowTicks } (more than errorsMax replica errors in windowTicks ticks), got ${show(rate)}`);
  }
  const at = (key: string, value: unknown): Field => ({ label: `${label}.${key}`, value });
  return settleKillSwitch({
    errorRate: rate === undefined ? null : { errorsMax: at('errorRate.errorsMax', rate.errorsMax), windowTicks: at('errorRate.windowTicks', rate.windowTicks) },
    quorumLossTicksMax: at('quorumLossTicksMax', entry.quorumLossTicksMax),
    tickBudget: at('tickBudget', entry.tickBudget),
    wallBudgetMs: at('wallBudgetMs', entry.wallBudgetMs),
  });
}

/** Kill-switch triggers from flags or an object, each named by its source; absent ones are not armed. */
interface RawKillSwitch {
  readonly errorRate: { readonly errorsMax: Field; readonly windowTicks: Field } | null;
  readonly quorumLossTicksMax: Field;
  readonly tickBudget: Field;
  readonly wallBudgetMs: Field;
}

/** Largest wall-clock budget, ms (a week). */
const WALL_BUDGET_MS_MAX = 7 * 24 * 3_600_000;

function settleKillSwitch(raw: RawKillSwitch): KillSwitchConfig | null {
  const config: { -readonly [K in keyof KillSwitchConfig]: KillSwitchConfig[K] } = {};
  if (raw.errorRate !== null) {
    config.errorRate = {
      errorsMax: wholeNumber(raw.errorRate.errorsMax, 0, 0, 1_000_000),
      windowTicks: wholeNumber(raw.errorRate.windowTicks, 1, 1, KILL_WINDOW_TICKS_MAX),
    };
  }
  if (raw.quorumLossTicksMax.value !== undefined) config.quorumLossTicksMax = wholeNumber(raw.quorumLossTicksMax, 0, 0, 1_000_000);
  if (raw.tickBudget.value !== undefined) config.tickBudget = wholeNumber(raw.tickBudget, 1, 1, TICKS_MAX_SIM);
  if (raw.wallBudgetMs.value !== undefined) config.wallBudgetMs = wholeNumber(raw.wallBudgetMs, 1, 1, WALL_BUDGET_MS_MAX);
  return Object.keys(config).length === 0 ? null : config;
}

/** Recovery settings, from flags or a config file's "recovery" object; null when recovery is off. */
interface RawRecovery {
  readonly label: string;
  readonly probationTicks: Field;
  readonly restartsMax: Field;
  readonly restartWindowMs: Field;
  readonly backoffMsBase: Field;
  readonly backoffMsMax: Field;
  readonly coldRestart: Field;
}

function settleRecovery(raw: RawRecovery | null, rateHz: number): RecoveryOptions {
  if (raw === null) return DEFAULT_RECOVERY;
  const d = DEFAULT_RECOVERY;
  const L = RECOVERY_LIMITS;
  const backoffMsBase = wholeNumber(raw.backoffMsBase, d.backoffMsBase, L.backoffMsBase.min, L.backoffMsBase.max);
  const recovery: RecoveryOptions = {
    ...d,
    enabled: true,
    probationTicks: wholeNumber(raw.probationTicks, d.probationTicks, L.probationTicks.min, L.probationTicks.max),
    restartsMax: wholeNumber(raw.restartsMax, d.restartsMax, L.restartsMax.min, L.restartsMax.max),
    restartWindowMs: wholeNumber(raw.restartWindowMs, d.restartWindowMs, restartWindowMsMin(rateHz), L.restartWindowMs.max),
    backoffMsBase,
    backoffMsMax: wholeNumber(raw.backoffMsMax, Math.max(d.backoffMsMax, backoffMsBase), backoffMsBase, L.backoffMsMax.max),
    coldRestart: booleanSetting(raw.coldRestart) ?? d.coldRestart,
  };
  return recovery;
}

/** --recover [--probation-ticks P] [--restart-limit R/MS] [--restart-backoff-ms BASE[/MAX]] */
function recoveryFlags(v: Record<string, unknown>): RawRecovery | null {
  const given = ['probation-ticks', 'restart-limit', 'restart-backoff-ms', 'cold-restart'].find((k) => v[k] !== undefined);
  if (v.recover !== true) {
    if (given !== undefined) throw new UsageError(`--${given} needs --recover (recovery is off unless asked for)`);
    return null;
  }
  const limit = v['restart-limit'] as string | undefined;
  const limitMatch = limit === undefined ? null : /^(\d+)\/(\d+)$/.exec(limit);
  if (limit !== undefined && limitMatch === null) throw new UsageError(`--restart-limit must be RESTARTS/MS (e.g. 3/5000: at most 3 restarts in any 5 s), got ${show(limit)}`);
  const backoff = v['restart-backoff-ms'] as string | undefined;
  const backoffMatch = backoff === undefined ? null : /^(\d+)(?:\/(\d+))?$/.exec(backoff);
  if (backoff !== undefined && backoffMatch === null) throw new UsageError(`--restart-backoff-ms must be BASE or BASE/MAX in ms (e.g. 100/2000), got ${show(backoff)}`);
  return {
    label: '--recover',
    probationTicks: { label: '--probation-ticks', value: v['probation-ticks'], fromText: true },
    restartsMax: { label: '--restart-limit restarts', value: limitMatch?.[1], fromText: true },
    restartWindowMs: { label: '--restart-limit window (ms)', value: limitMatch?.[2], fromText: true },
    backoffMsBase: { label: '--restart-backoff-ms base', value: backoffMatch?.[1], fromText: true },
    backoffMsMax: { label: '--restart-backoff-ms max', value: backoffMatch?.[2], fromText: true },
    coldRestart: { label: '--cold-restart', value: v['cold-restart'], fromText: false },
  };
}

function recoveryFromConfig(path: string, value: unknown): RawRecovery | null {
  if (value === undefined || value === false) return null;
  if (value === true) value = {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`${path}: recovery must be true, false or an object with ${RECOVERY_KEYS.join(', ')}, got ${show(value)}`);
  const entry = value as Record<string, unknown>;
  const unknown = Object.keys(entry).find((k) => !(RECOVERY_KEYS as readonly string[]).includes(k));
  if (unknown !== undefined) throw new UsageError(`${path}: recovery.${unknown} is not a setting (settings: ${RECOVERY_KEYS.join(', ')})`);
  const field = (key: string): Field => ({ label: `${path}: recovery.${key}`, value: entry[key] });
  return {
    label: `${path}: recovery`,
    probationTicks: field('probationTicks'),
    restartsMax: field('restartsMax'),
    restartWindowMs: field('restartWindowMs'),
    backoffMsBase: field('backoffMsBase'),
    backoffMsMax: field('backoffMsMax'),
    coldRestart: field('coldRestart'),
  };
}

export function parseRunOptions(argv: readonly string[], mode: 'run' | 'sim', extensions: ExtensionRegistry): CliRunOptions {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError(parseArgsProblem(error));
  }
  const v = parsed.values;
  refuseUnusedOptions(RUN_OPTIONS, mode, v);
  if (v.config !== undefined) {
    // A flag that says what a config key says belongs in the file; output and kill-switch flags may be added.
    const inFile = (Object.keys(v) as RunFlag[]).find((flag) => v[flag] !== undefined && 'configKey' in FLAGS[flag]);
    if (inFile !== undefined) throw new UsageError(`--config cannot be combined with --${inFile} (put ${(FLAGS[inFile] as { configKey: string }).configKey} in the file)`);
    const settled = settle(configSettings(readConfig(v.config, mode), v.config, extensions), mode, v.json ?? false, v.trace ?? null, v.log ?? null);
    return withIo({ ...settled, killSwitch: killSwitchFrom(v), actuator: actuatorFrom(v.actuator, extensions) }, extensions);
  }
  const settled = settle(
    {
      replicaCount: { label: '--replicas', value: v.replicas, fromText: true },
      rateHz: { label: '--rate-hz', value: v['rate-hz'], fromText: true },
      ticks: { label: '--ticks', value: v.ticks, fromText: true },
      seed: { label: '--seed', value: v.seed, fromText: true },
      deadlineUs: { label: '--deadline-us', value: v['deadline-us'], fromText: true },
      quorumGraceUs: { label: '--quorum-grace-us', value: v['quorum-grace-us'], fromText: true },
      commonModeLimitMs: { label: '--common-mode-limit-ms', value: v['common-mode-limit-ms'], fromText: true },
      startPolicy: { label: '--start-policy', value: v['start-policy'], fromText: true },
      simplexPolicy: { label: '--simplex-policy', value: v['simplex-policy'], fromText: true },
      injects: { label: '--inject', value: v.inject, fromText: true },
      replicas: v.replica?.map((text) => parseReplicaSpec(text, '--replica', extensions)) ?? null,
      recovery: recoveryFlags(v),
      law: { label: '--law', value: v.law, fromText: true },
      plant: { label: '--plant', value: v.plant, fromText: true },
      io: { label: '--io', value: v.io, fromText: true },
      ioMap: { label: '--io-map', value: v['io-map'], fromText: true },
      keyFile: { label: '--key-file', value: v['key-file'], fromText: true },
    },
    mode,
    v.json ?? false,
    v.trace ?? null,
    v.log ?? null,
  );
  return withIo({ ...settled, killSwitch: killSwitchFrom(v), actuator: actuatorFrom(v.actuator, extensions) }, extensions);
}

/** Resolves the --io scheme (settle kept it as text: the registry is not at hand there). */
function withIo(options: SettledOptions, extensions: ExtensionRegistry): CliRunOptions {
  const { ioText, ...rest } = options;
  if (ioText === null) {
    if (rest.ioMapRef !== null) throw new UsageError(`${rest.ioMapRef.label} needs --io (the I/O map wires real I/O; without --io the loop runs on the plant model)`);
    return rest;
  }
  if (rest.actuator !== null) throw new UsageError(`${ioText.label} and --actuator cannot be combined (the I/O map's outputs drive the actuators)`);
  return { ...rest, io: selectIo(ioText.text, ioText.label, (scheme) => extensions.io(scheme), extensions.ios.map((i) => i.usage)) };
}

interface RawSettings {
  readonly replicaCount: Field;
  readonly rateHz: Field;
  readonly ticks: Field;
  readonly seed: Field;
  readonly deadlineUs: Field;
  readonly quorumGraceUs: Field;
  readonly commonModeLimitMs: Field;
  readonly startPolicy: Field;
  readonly simplexPolicy: Field;
  readonly injects: Field;
  readonly replicas: readonly ReplicaSpec[] | null;
  readonly recovery: RawRecovery | null;
  readonly law: Field;
  readonly plant: Field;
  readonly io: Field;
  readonly ioMap: Field;
  readonly keyFile: Field;
}

/** A configuration object's settings (a --config file's, or createRuntime's); `path` names it in errors. */
function configSettings(c: Record<string, unknown>, path: string, extensions: ExtensionRegistry): RawSettings {
  const field = (key: string): Field => ({ label: `${path}: ${key}`, value: c[key] });
  let replicas: ReplicaSpec[] | null = null;
  if (c.replicas !== undefined) {
    if (!Array.isArray(c.replicas)) throw new UsageError(`${path}: replicas must be an array, got ${show(c.replicas)}`);
    replicas = c.replicas.map((entry, i) => replicaFromConfig(entry, `${path}: replicas[${i}]`, extensions));
  }
  if (c.inject !== undefined && (!Array.isArray(c.inject) || !c.inject.every((x) => typeof x === 'string'))) {
    throw new UsageError(`${path}: inject must be an array of strings such as "crash:1@500", got ${show(c.inject)}`);
  }
  return {
    replicaCount: field('replicaCount'),
    rateHz: field('rateHz'),
    ticks: field('ticks'),
    seed: field('seed'),
    deadlineUs: field('deadlineUs'),
    quorumGraceUs: field('quorumGraceUs'),
    commonModeLimitMs: field('commonModeLimitMs'),
    startPolicy: field('startPolicy'),
    simplexPolicy: field('simplexPolicy'),
    injects: field('inject'),
    replicas,
    recovery: recoveryFromConfig(path, c.recovery),
    law: field('law'),
    plant: field('plant'),
    io: field('io'),
    ioMap: field('ioMap'),
    keyFile: field('keyFile'),
  };
}

/** Validates settings from either source into run options; the messages name the source. */
/** Settled options, with --io still as text (withIo resolves it against the registry). */
type SettledOptions = CliRunOptions & { readonly ioText: { readonly text: string; readonly label: string } | null };

function settle(raw: RawSettings, mode: 'run' | 'sim', json: boolean, traceFile: string | null, logFile: string | null): SettledOptions {
  let replicaCount = wholeNumber(raw.replicaCount, DEFAULT_LOOP_OPTIONS.replicaCount, 0, REPLICA_COUNT_MAX);
  if (raw.replicas !== null) {
    if (raw.replicaCount.value !== undefined && replicaCount !== raw.replicas.length) {
      throw new UsageError(`${raw.replicaCount.label} says ${replicaCount} but ${raw.replicas.length} replicas are described`);
    }
    replicaCount = raw.replicas.length;
  }
  if (replicaCount < 3 || replicaCount % 2 === 0) throw new UsageError(`${raw.replicaCount.label} must be odd and at least 3 (at most ${REPLICA_COUNT_MAX}), got ${replicaCount}`);
  const rateHz = wholeNumber(raw.rateHz, DEFAULT_LOOP_OPTIONS.rateHz, RATE_HZ_MIN, RATE_HZ_MAX);
  const ticks = wholeNumber(raw.ticks, DEFAULT_LOOP_OPTIONS.ticks, 1, mode === 'run' ? TICKS_MAX_RUN : TICKS_MAX_SIM);
  const seed = wholeNumber(raw.seed, DEFAULT_LOOP_OPTIONS.seed, 0, 0xffff_ffff);
  const periodUs = Math.floor(1e6 / rateHz);
  const deadlineUs = wholeNumber(raw.deadlineUs, Math.floor(periodUs * 0.75), 100, periodUs - 1);
  const quorumGraceUs = wholeNumber(raw.quorumGraceUs, defaultQuorumGraceUs(rateHz), 0, QUORUM_GRACE_PERIODS_MAX * periodUs);
  const policy = raw.simplexPolicy.value ?? DEFAULT_LOOP_OPTIONS.simplexPolicy;
  if (policy !== 'safe' && policy !== 'simplex') throw new UsageError(`${raw.simplexPolicy.label} must be 'safe' or 'simplex', got ${show(policy)}`);
  const injectTexts = (raw.injects.value ?? []) as string[];
  if (injectTexts.length > INJECTS_MAX) throw new UsageError(`at most ${INJECTS_MAX} ${raw.injects.label} entries, got ${injectTexts.length}`);
  const { injects, stalls } = parseInjects(injectTexts, replicaCount, ticks, raw.injects.label);
  const commonModeLimitMs = wholeNumber(raw.commonModeLimitMs, DEFAULT_LOOP_OPTIONS.commonModeLimitMs, 0, COMMON_MODE_LIMIT_MS_MAX);
  const startPolicy = raw.startPolicy.value ?? START_POLICY_DEFAULT;
  if (!(START_POLICIES as readonly unknown[]).includes(startPolicy)) throw new UsageError(`${raw.startPolicy.label} must be ${START_POLICIES.map((p) => `'${p}'`).join(' or ')}, got ${show(startPolicy)}`);
  const lawRef = textOrDefault(raw.law, DEFAULT_LAW);
  const plantRef = raw.plant.value === undefined ? null : textOrDefault(raw.plant, '');
  const ioText = raw.io.value === undefined ? null : { text: textOrDefault(raw.io, ''), label: raw.io.label };
  const ioMapRef = ioMapRefOf(raw.ioMap);
  return {
    ...DEFAULT_LOOP_OPTIONS,
    lawRef,
    plantRef,
    lawLabel: raw.law.label,
    plantLabel: raw.plant.label,
    replicaCount,
    rateHz,
    ticks,
    seed,
    injects,
    stalls,
    commonModeLimitMs,
    simplexPolicy: policy as SimplexPolicy,
    json,
    deadlineUs,
    quorumGraceUs,
    startPolicy: startPolicy as StartPolicy,
    traceFile,
    logFile,
    killSwitch: null,
    actuator: null,
    io: null,
    ioText,
    ioMapRef,
    ioMap: null,
    replicas: withKeyFile(raw.replicas, raw.keyFile),
    recovery: settleRecovery(raw.recovery, rateHz),
  };
}

/**
 * TCP replicas with the run's key file (--key-file, keyFile) where their own entry names none;
 * every one must end up with a key that reads as one (frames on TCP are always authenticated).
 */
function withKeyFile(replicas: readonly ReplicaSpec[] | null, keyFile: Field): readonly ReplicaSpec[] | null {
  const tcp = (replicas ?? []).filter((spec) => spec.kind === 'tcp');
  if (keyFile.value !== undefined && (typeof keyFile.value !== 'string' || keyFile.value === '')) throw new UsageError(`${keyFile.label} must be a key file's path, got ${show(keyFile.value)}`);
  if (keyFile.value !== undefined && tcp.length === 0) throw new UsageError(`${keyFile.label} is the key of tcp replicas, and none is given (--replica tcp:HOST:PORT)`);
  if (replicas === null || tcp.length === 0) return replicas;
  return replicas.map((spec, i) => {
    if (spec.kind !== 'tcp') return spec;
    const own = (spec as TcpReplicaSpec).keyFile;
    const path = own !== '' ? own : (keyFile.value as string | undefined);
    const where = own !== '' ? `replica ${i}'s keyFile` : keyFile.label;
    if (path === undefined) throw new UsageError(`replica ${i} (tcp:${endpointText((spec as TcpReplicaSpec).host, (spec as TcpReplicaSpec).port)}) needs a key: --key-file FILE (frames on TCP are authenticated; tmr key FILE writes one)`);
    try {
      readKeyFile(path, where);
    } catch (error) {
      if (error instanceof KeyFileError) throw new UsageError(error.message);
      throw error;
    }
    return { ...spec, keyFile: path };
  });
}

/**
 * The I/O map as given: a file's path (`--io-map`, a config file's or the library's `ioMap`), or,
 * in a config file or from the library, the map itself as a JSON object.
 */
function ioMapRefOf(field: Field): IoMapRef | null {
  if (field.value === undefined) return null;
  if (field.fromText !== true && typeof field.value === 'object' && field.value !== null && !Array.isArray(field.value)) return { map: field.value, label: field.label };
  if (typeof field.value !== 'string' || field.value === '') throw new UsageError(`${field.label} must be an I/O map file's path${field.fromText === true ? '' : ' or the map as an object'}, got ${show(field.value)}`);
  return { path: field.value, label: field.label };
}

/** A non-empty text setting (a law or plant name or path). */
function textOrDefault(field: Field, fallback: string): string {
  if (field.value === undefined) return fallback;
  if (typeof field.value !== 'string' || field.value === '') throw new UsageError(`${field.label} must be a law or plant name or a file path, got ${show(field.value)}`);
  return field.value;
}

/**
 * Loads the law and plant the options name (a user's file is imported, shipped ones are looked
 * up) and checks them against each other. A law or plant that cannot be loaded is a usage error
 * naming it: nothing has started yet.
 */
export async function withLawAndPlant(options: CliRunOptions): Promise<CliRunOptions> {
  try {
    const law = await importLaw(options.lawRef, process.cwd(), options.lawLabel);
    const plant = await importPlant(law, options.plantRef ?? undefined, process.cwd(), options.plantLabel);
    const actuatorProblem = options.actuator?.actuator.plantProblem?.(plant.name) ?? null;
    if (actuatorProblem !== null) throw new UsageError(actuatorProblem);
    const ioMap = options.io === null ? null : loadIoMap(options.io, options.ioMapRef, law, plant);
    return { ...options, law, plant, ioMap };
  } catch (error) {
    if (error instanceof LawError) throw new UsageError(error.message);
    throw error;
  }
}
