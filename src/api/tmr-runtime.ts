/**
 * The runtime behind createRuntime (src/api/runtime.ts), and the CLI's `tmr run`, `tmr sim` and
 * `tmr demo` (src/cli/tmr.ts, which prints from its events). It owns one run: the black-box log,
 * the actuator and the real I/O opened before the replicas start and closed after, the kill
 * switch, and the events. It writes nothing to stdout or stderr, installs no signal handler and
 * never exits the process: the CLI does those.
 */
import { assert } from '../core/assert.js';
import type { StepResult } from '../core/tmr-core.js';
import type { LoopModel } from '../loop/loop-model.js';
import { KillSwitch, type KillSwitchConfig, type KillSwitchTrip } from '../loop/kill-switch.js';
import { runRealtime, type RealtimeOptions } from '../runtime/realtime-runner.js';
import { runSimulation } from '../sim/simulator.js';
import { openIo, type OpenedIo } from '../io/open-io.js';
import { INJECTS_MAX, parseInjects, settleConfig, withLawAndPlant, type CliRunOptions } from '../cli/options.js';
import { ExtensionRegistry, type OpenedActuator } from '../cli/extensions.js';
import { show, UsageError, wholeNumber } from '../config/fields.js';
import { ConfigError } from './config-error.js';
import { RunLog } from './run-log.js';
import type {
  FaultInjection,
  RealtimeRunSummary,
  Runtime,
  RuntimeConfig,
  RuntimeEventName,
  RuntimeEvents,
  RuntimeListener,
  RuntimeMode,
  RuntimeOptions,
  RuntimeSummary,
  SimulationSummary,
  TickEvent,
} from './runtime-types.js';

/** Listeners per event: a bound, so a listener added in a loop by mistake fails loudly instead of growing without end. */
export const LISTENERS_MAX = 64;
/** How long a replica has to answer each handshake before tick 0 (`tmr run`'s). */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Names the library in its errors. */
const LABEL = 'createRuntime';
const MODES: readonly RuntimeMode[] = ['realtime', 'simulation'];
const OPTION_KEYS: readonly (keyof RuntimeOptions)[] = ['mode', 'logFile', 'killSwitch', 'actuator', 'extensions'];

/** createRuntime's work: every check, the law and plant loaded; a refusal is a ConfigError naming the field. */
export async function openRuntime(config: RuntimeConfig, options: RuntimeOptions): Promise<Runtime> {
  try {
    const prototype: unknown = typeof options === 'object' && options !== null ? Object.getPrototypeOf(options) : undefined;
    if (prototype !== Object.prototype && prototype !== null) throw new UsageError(`${LABEL}: options must be a plain object, got ${show(options)}`);
    const unknown = Object.keys(options).find((k) => !(OPTION_KEYS as readonly string[]).includes(k));
    if (unknown !== undefined) throw new UsageError(`${LABEL}: options.${unknown} is not an option (options: ${OPTION_KEYS.join(', ')})`);
    const mode = options.mode ?? 'realtime';
    if (!MODES.includes(mode)) throw new UsageError(`${LABEL}: options.mode must be ${MODES.map((m) => `'${m}'`).join(' or ')}, got ${show(mode)}`);
    const extensions = new ExtensionRegistry();
    if (options.extensions !== undefined && !Array.isArray(options.extensions)) throw new UsageError(`${LABEL}: options.extensions must be an array of extensions, got ${show(options.extensions)}`);
    (options.extensions ?? []).forEach((extension, i) => extensions.register(extension, `${LABEL}: options.extensions[${i}]`));
    const command = mode === 'realtime' ? 'run' : 'sim';
    const settled = settleConfig(config, LABEL, command, `mode '${mode}'`, extensions, {
      logFile: { label: `${LABEL}: options.logFile`, value: options.logFile },
      killSwitch: { label: `${LABEL}: options.killSwitch`, value: options.killSwitch },
      actuator: { label: `${LABEL}: options.actuator`, value: options.actuator },
    });
    return new TmrRuntime(await withLawAndPlant(settled), mode, extensions, `${LABEL}: options.logFile`);
  } catch (error) {
    throw asConfigError(error);
  }
}

/** The library's refusals are ConfigErrors (still UsageErrors: the CLI's exit 2, one line). */
function asConfigError(error: unknown): unknown {
  return error instanceof UsageError && !(error instanceof ConfigError) ? new ConfigError(error.message) : error;
}

/** The kill switch, saying when it trips (it trips once; afterTick keeps returning the trip). */
class ReportingKillSwitch extends KillSwitch {
  constructor(
    config: KillSwitchConfig,
    private readonly onTrip: (trip: KillSwitchTrip) => void,
  ) {
    super(config);
  }

  override afterTick(result: StepResult, nowMs: number): KillSwitchTrip | null {
    const before = this.tripped;
    const trip = super.afterTick(result, nowMs);
    if (trip !== null && before === null) this.onTrip(trip);
    return trip;
  }
}

type ListenerTable = { [E in RuntimeEventName]?: readonly RuntimeListener<E>[] };

/** The tick event's fields, written in place every tick (TickEvent's promise: no allocation for it). */
type MutableTickEvent = { -readonly [K in keyof TickEvent]: TickEvent[K] };

export class TmrRuntime implements Runtime {
  #options: CliRunOptions;
  readonly #extensions: ExtensionRegistry;
  readonly #logLabel: string;
  readonly #controller = new AbortController();
  readonly #killSwitch: ReportingKillSwitch;
  readonly #listeners: ListenerTable = {};
  #started = false;
  #summary: RuntimeSummary | null = null;
  #killSwitchReported = false;
  /** Who replica i is now (real time: its port or process, which a restart replaces). */
  #nameOf: (replicaIndex: number) => string = (i) => `replica ${i}`;
  #model: LoopModel | null = null;
  #result: StepResult | null = null;
  readonly #tick: MutableTickEvent;

  /**
   * The CLI's way in: options parsed from flags or a --config file and settled, law and plant
   * loaded (withLawAndPlant). `logLabel` names the log in errors ('--log').
   */
  constructor(
    options: CliRunOptions,
    readonly mode: RuntimeMode,
    extensions: ExtensionRegistry,
    logLabel: string,
  ) {
    this.#options = options;
    this.#extensions = extensions;
    this.#logLabel = logLabel;
    this.#killSwitch = new ReportingKillSwitch(options.killSwitch ?? {}, (trip) => this.#reportTrip(trip));
    const traceLine = (): string => this.#model!.traceLine(this.#result!);
    this.#tick = { tick: -1, commands: new Int32Array(0), commandSource: 'safe', mode: 'safe', inputs: new Int32Array(0), flags: new Uint8Array(0), replicaStatus: [], unsafeCommands: 0, faults: [], traceLine };
  }

  get summary(): RuntimeSummary | null {
    return this.#summary;
  }

  on<E extends RuntimeEventName>(event: E, listener: RuntimeListener<E>): () => void {
    assert(typeof listener === 'function', `on('${event}'): the listener must be a function`);
    const list = (this.#listeners[event] ?? []) as readonly RuntimeListener<E>[];
    if (list.length >= LISTENERS_MAX) throw new Error(`on('${event}'): at most ${LISTENERS_MAX} listeners per event`);
    (this.#listeners as Record<string, readonly RuntimeListener<E>[]>)[event] = [...list, listener];
    return () => this.off(event, listener);
  }

  off<E extends RuntimeEventName>(event: E, listener: RuntimeListener<E>): void {
    const list = this.#listeners[event] as readonly RuntimeListener<E>[] | undefined;
    const index = list?.indexOf(listener) ?? -1;
    if (index >= 0) (this.#listeners as Record<string, readonly RuntimeListener<E>[]>)[event] = list!.filter((_, i) => i !== index);
  }

  injectFault(fault: FaultInjection): void {
    if (this.#started) throw new ConfigError('injectFault: the run has started (inject faults before start())');
    const label = 'injectFault';
    const o = this.#options;
    if (typeof fault !== 'object' || fault === null) throw new ConfigError(`${label}: expected { kind, replica, atTick, durationTicks }, got ${show(fault)}`);
    if (o.injects.length + o.stalls.length >= INJECTS_MAX) throw new ConfigError(`${label}: at most ${INJECTS_MAX} faults and stalls in a run`);
    try {
      const atTick = wholeNumber({ label: `${label}: atTick`, value: fault.atTick }, 0, 0, o.ticks - 1);
      const duration = fault.durationTicks === undefined ? '' : `+${wholeNumber({ label: `${label}: durationTicks`, value: fault.durationTicks }, 0, 0, o.ticks)}`;
      let text: string;
      if (fault.kind === 'stall') {
        if (fault.replica !== undefined) throw new UsageError(`${label}: a stall stops every replica; it takes no replica`);
        text = `stall@${atTick}${duration}`;
      } else {
        if (typeof fault.kind !== 'string' || !/^[a-z]+$/.test(fault.kind)) throw new UsageError(`${label}: kind must be a fault kind or 'stall', got ${show(fault.kind)}`);
        const replica = wholeNumber({ label: `${label}: replica`, value: fault.replica ?? null }, 0, 0, o.replicaCount - 1);
        text = `${fault.kind}:${replica}@${atTick}${duration}`;
      }
      // The same checks as an inject entry's (kinds, one-shot faults, overlapping stalls), over the whole list.
      const { injects, stalls } = parseInjects([text], o.replicaCount, o.ticks, label);
      const all = parseInjects([...o.stalls.map((s) => `stall@${s.startTick}+${s.durationTicks}`), ...stalls.map((s) => `stall@${s.startTick}+${s.durationTicks}`)], o.replicaCount, o.ticks, label);
      this.#options = { ...o, injects: [...o.injects, ...injects], stalls: all.stalls };
    } catch (error) {
      throw asConfigError(error);
    }
  }

  stop(): void {
    this.#controller.abort();
  }

  killSwitch(reason: string): void {
    this.#killSwitch.trip(reason);
  }

  async start(): Promise<RuntimeSummary> {
    if (this.#started) throw new Error('start(): this runtime has run already (one run per runtime)');
    this.#started = true;
    const summary = this.mode === 'simulation' ? await this.#simulate() : await this.#runRealtime();
    this.#summary = summary;
    this.#emit('end', summary);
    return summary;
  }

  #emit<E extends RuntimeEventName>(event: E, payload: RuntimeEvents[E]): void {
    const list = this.#listeners[event] as readonly RuntimeListener<E>[] | undefined;
    if (list === undefined) return;
    // Bounded by LISTENERS_MAX. Lists are replaced, never changed, by on() and off(): a listener
    // that adds or removes one does not disturb this loop, and a tick copies nothing.
    for (const listener of list) listener(payload);
  }

  #has(event: RuntimeEventName): boolean {
    return (this.#listeners[event]?.length ?? 0) > 0;
  }

  #reportTrip(trip: KillSwitchTrip): void {
    this.#killSwitchReported = true;
    this.#emit('killSwitch', trip);
  }

  #openLog(): RunLog | null {
    const path = this.#options.logFile;
    return path === null ? null : new RunLog(path, this.#logLabel, (failure) => this.#emit('logFailure', failure));
  }

  /** Every tick, after the vote and the actuator: the log, then the events (RuntimeEvents says in which order). */
  #afterTick(model: LoopModel, result: StepResult, log: RunLog | null): void {
    log?.tick(model, result);
    for (const event of model.inputEvents) this.#emit('inputFault', event);
    for (const event of result.events) {
      switch (event.kind) {
        case 'modeChanged':
          this.#emit('modeChange', { tick: event.tick, from: event.from, to: event.to, reason: event.reason, inForceFromTick: event.to === result.mode ? result.tick : result.tick + 1 });
          break;
        case 'replicaExcluded':
          this.#emit('replicaExcluded', { tick: event.tick, replicaIndex: event.replicaIndex, reason: event.reason, name: this.#nameOf(event.replicaIndex) });
          break;
        case 'probationStarted':
          this.#emit('probationStarted', { tick: event.tick, replicaIndex: event.replicaIndex, name: this.#nameOf(event.replicaIndex) });
          break;
        case 'replicaReadmitted':
          // Decided at the end of this tick; counted from the next (the summary's readmittedTick, the log's in-service mask).
          this.#emit('replicaReadmitted', { tick: event.tick, replicaIndex: event.replicaIndex, countedFromTick: event.tick + 1, name: this.#nameOf(event.replicaIndex) });
          break;
        default:
          break;
      }
    }
    if (!this.#has('tick')) return;
    this.#model = model;
    this.#result = result;
    const t = this.#tick;
    t.tick = result.tick;
    t.commands = result.commands;
    t.commandSource = result.commandSource;
    t.mode = result.mode;
    t.inputs = model.inputs;
    t.flags = result.flags;
    t.replicaStatus = model.core.status;
    t.unsafeCommands = model.unsafeCommands;
    t.faults = model.faults;
    this.#emit('tick', t);
  }

  /**
   * After the loop: what it did not report as it went. A run the loop halted itself (an input
   * held too long) stopped after sensing a tick it never ran: that tick's input events and the
   * trip are said now.
   */
  #afterLoop(model: LoopModel | null): void {
    const trip = model?.killSwitchTrip ?? null;
    if (model === null || trip === null || this.#killSwitchReported) return;
    if (trip.trigger === 'INPUT_FAULT') for (const event of model.inputEvents) this.#emit('inputFault', event);
    this.#reportTrip(trip);
  }

  /**
   * `tmr sim`: the whole run in one go (runSimulation never yields, so stop() and killSwitch()
   * come from listeners: no tick after the one they were called in).
   */
  async #simulate(): Promise<SimulationSummary> {
    const options = this.#options;
    const log = this.#openLog();
    const seen: { model: LoopModel | null } = { model: null };
    try {
      const run = runSimulation(options, {
        onTick: (model, result) => {
          if (result.tick === 0) {
            seen.model = model;
            log?.start(options, model);
            this.#emit('ready', {
              replicaCount: options.replicaCount,
              inService: options.replicaCount,
              replicas: Array.from({ length: options.replicaCount }, (_, index) => ({ index, name: `in-process replica ${index}`, inService: true })),
              ticks: options.ticks,
              rateHz: options.rateHz,
            });
          }
          this.#afterTick(model, result, log);
        },
        killSwitch: this.#killSwitch,
        signal: this.#controller.signal,
      });
      const interrupted = this.#controller.signal.aborted && run.killSwitch === null && run.ticks < options.ticks;
      this.#afterLoop(seen.model);
      // Stopped before tick 0: no header to end.
      if (log?.started === true) log.end(run, interrupted ? 'interrupted' : run.killSwitch === null ? 'completed' : `killSwitch:${run.killSwitch.trigger}`);
      log?.close();
      return { ...run, interrupted, ...(log === null ? {} : { blackBox: log.status() }) };
    } finally {
      log?.close();
    }
  }

  async #runRealtime(): Promise<RealtimeRunSummary> {
    const options = this.#options;
    const log = this.#openLog();
    let drive: OpenedActuator | null = null;
    let io: OpenedIo | null = null;
    const seen: { model: LoopModel | null } = { model: null };
    try {
      if (options.actuator !== null) {
        // Opened before the replicas start (its heavy modules load only now).
        drive = await options.actuator.actuator.open(options.actuator.target);
        this.#emit('attached', { kind: 'actuator', description: drive.description });
      }
      io = await openIo(options);
      if (io !== null) this.#emit('attached', { kind: 'io', description: io.description });
      const actuator = drive;
      const { replicas, ...rest } = options;
      const realtime: RealtimeOptions = { ...rest, handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS, ...(replicas === null ? {} : { replicas }), providers: await this.#extensions.providersFor(replicas) };
      const run = await runRealtime(
        realtime,
        {
          signal: this.#controller.signal,
          killSwitch: this.#killSwitch,
          ...(actuator === null ? {} : { actuatorOut: (commands: Int32Array) => actuator.deliver(commands) }),
          onInjectionRefused: (fault) => this.#emit('injectionRefused', fault),
          onReady: (inService, _pids, m, _pidOf, nameOf) => {
            seen.model = m;
            this.#nameOf = nameOf;
            log?.start(options, m);
            this.#emit('ready', {
              replicaCount: options.replicaCount,
              inService,
              replicas: m.core.status.map((status, index) => ({ index, name: nameOf(index), inService: status === 'inService' })),
              ticks: options.ticks,
              rateHz: options.rateHz,
            });
          },
          onTick: (m, result) => this.#afterTick(m, result, log),
        },
        io === null ? {} : { world: io.world },
      );
      this.#afterLoop(seen.model);
      // A run interrupted while its replicas started has no header to end (and ran no tick).
      if (log?.started === true) log.end(run, run.interrupted ? 'interrupted' : run.killSwitch !== null ? `killSwitch:${run.killSwitch.trigger}` : 'completed');
      log?.close();
      return { ...run, ...(log === null ? {} : { blackBox: log.status() }) };
    } finally {
      log?.close();
      await drive?.close();
      await io?.close();
    }
  }
}
