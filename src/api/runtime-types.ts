/**
 * The library's public types (README "Library"): what createRuntime takes, what a Runtime does,
 * and the events it emits. Types only: importing them loads nothing.
 */
import type { CommandSource, ReplicaStatus } from '../core/tmr-core.js';
import type { Mode } from '../core/degradation.js';
import type { ExclusionReason } from '../core/failure-detector.js';
import type { FaultKind } from '../protocol/messages.js';
import type { FaultRecord, RunSummary } from '../loop/loop-model.js';
import type { KillSwitchConfig, KillSwitchTrip } from '../loop/kill-switch.js';
import type { InputEvent } from '../loop/world.js';
import type { BlackBoxWriteFailure } from '../loop/black-box.js';
import type { RealtimeSummary, StartPolicy } from '../runtime/realtime-runner.js';
import type { TmrExtension } from '../cli/extensions.js';

/**
 * 'realtime': real replica processes (or boards) against the wall clock, what `tmr run` does.
 * 'simulation': in-process replicas in simulated time, as fast as the machine goes, what `tmr sim`
 * does: a pure function of the configuration (the seed included).
 */
export type RuntimeMode = 'realtime' | 'simulation';

/**
 * One replica of `replicas`: `{ kind: 'node' }`, `{ kind: 'serial', path: '/dev/ttyACM0', baudRate:
 * 115200 }`, a kind an extension adds with its settings, or the text `--replica` takes ('node',
 * 'serial:/dev/ttyACM0@115200').
 */
export type ReplicaConfig = string | { readonly kind: string; readonly [setting: string]: unknown };

/** Recovery settings (`recovery: true` takes every default); README "Recovery" says what each does. */
export interface RecoveryConfig {
  /** Agreeing ticks before a returning replica counts (default 50). */
  readonly probationTicks?: number;
  /** At most restartsMax restarts in any restartWindowMs, else out for good (3 in 5000 ms). */
  readonly restartsMax?: number;
  readonly restartWindowMs?: number;
  /** Back-off after a quick failure, ms, doubling to backoffMsMax (100, 2000). */
  readonly backoffMsBase?: number;
  readonly backoffMsMax?: number;
  /** With every replica out, restart the law from its initial state (default false). */
  readonly coldRestart?: boolean;
}

/**
 * A run's configuration: the keys of `tmr run --config FILE` / `tmr sim --config FILE`, checked
 * by the same code with the same limits. Every key is optional (the CLI's defaults); numbers are
 * numbers and booleans booleans, never text. A key the mode does not use is refused, as its flag
 * would be: deadlineUs, quorumGraceUs, startPolicy, replicas, io and ioMap are realtime only.
 */
export interface RuntimeConfig {
  /** A shipped law ('pid-q16', the default; 'tank') or the path of your module (.js or .ts). */
  readonly law?: string;
  /** The world it controls: the law's own by default; 'motor', 'tank' or a module's path. */
  readonly plant?: string;
  /** Odd, 3..15 (default 3); equal to replicas.length when both are given. */
  readonly replicaCount?: number;
  /** What each replica is (realtime only; default: Node processes). */
  readonly replicas?: readonly ReplicaConfig[];
  /** Tick rate, Hz, 1..2000 (default 200). */
  readonly rateHz?: number;
  /** Run length, ticks (default 2000). */
  readonly ticks?: number;
  /** Seed for sensor noise and fault details, 0..4294967295 (default 1). */
  readonly seed?: number;
  /** Faults to inject, as `--inject` writes them: 'crash:1@500', 'wrong:2@800+200', 'stall@200+40'. */
  readonly inject?: readonly string[];
  /** With one replica left: 'safe' (default) or 'simplex'. */
  readonly simplexPolicy?: 'safe' | 'simplex';
  /** Reply deadline after a tick is sent, µs (default 75% of the period); realtime only. */
  readonly deadlineUs?: number;
  /** Quorum grace after the deadline, µs (default two periods); realtime only. */
  readonly quorumGraceUs?: number;
  /** Longest common-mode episode ridden through, ms (0: none). */
  readonly commonModeLimitMs?: number;
  /** 'full' (default): every replica must start; 'degraded': start with enough of them. Realtime only. */
  readonly startPolicy?: StartPolicy;
  /** Restart, re-synchronise and re-admit excluded replicas (off unless given). */
  readonly recovery?: boolean | RecoveryConfig;
  /** Real I/O instead of the plant model, as `--io` writes it ('firmata:/dev/ttyACM0'); realtime only. */
  readonly io?: string;
  /**
   * Its I/O map (boards/firmata/README.md): a file's path (`--io-map`), or the map itself as an
   * object (not for 'firmata-sim', whose board reads its wiring from the file); default: the
   * scheme's for the plant.
   */
  readonly ioMap?: string | Readonly<Record<string, unknown>>;
}

/** What the run is wired to besides its configuration: none of it changes what the loop computes. */
export interface RuntimeOptions {
  /** 'realtime' (the default) or 'simulation'. */
  readonly mode?: RuntimeMode;
  /** Write the black-box log of every tick here (`--log FILE`); read it with `tmr log` and `tmr replay`. */
  readonly logFile?: string;
  /** Kill-switch triggers (the `--kill-*` flags); wallBudgetMs is realtime only. */
  readonly killSwitch?: KillSwitchConfig;
  /** An actuator an extension adds, as `--actuator` writes it (realtime only). */
  readonly actuator?: string;
  /** Extensions beyond the built-ins (replica kinds, actuators, real I/O): what `TMR_EXTENSIONS` names for the CLI. */
  readonly extensions?: readonly TmrExtension[];
}

/** A fault to inject, the object form of an `inject` entry. */
export interface FaultInjection {
  /** A replica fault, or 'stall': every replica stopped at once (durationTicks required). */
  readonly kind: FaultKind | 'stall';
  /** The replica's index (not for a stall). */
  readonly replica?: number;
  /** The tick it starts at. */
  readonly atTick: number;
  /** How long, ticks; absent: until the end of the run (crash and state take none). */
  readonly durationTicks?: number;
}

/** Where the black-box log is and whether it is whole (`blackBox` in the summary). */
export interface BlackBoxStatus {
  readonly path: string;
  readonly complete: boolean;
  /** Why it stopped short: the first failed write. */
  readonly failure?: BlackBoxWriteFailure;
}

/** A simulated run's summary (`tmr sim --json`'s, plus interrupted). */
export interface SimulationSummary extends RunSummary {
  /** stop() ended the run before its last tick. */
  interrupted: boolean;
  blackBox?: BlackBoxStatus;
}

/** A real-time run's summary (`tmr run --json`'s): timing, replica processes, links. */
export interface RealtimeRunSummary extends RealtimeSummary {
  blackBox?: BlackBoxStatus;
}

export type RuntimeSummary = SimulationSummary | RealtimeRunSummary;

/**
 * One tick, after the vote and the actuator. The same object every tick, its arrays the loop's
 * own: read it in the listener and copy what you keep (a tick allocates nothing for it).
 */
export interface TickEvent {
  readonly tick: number;
  /** The command on every output channel, in the law's order. */
  readonly commands: Int32Array;
  /** Where it came from: 'voted', 'held' (the last one, briefly, without a quorum), 'simplex' or 'safe'. */
  readonly commandSource: CommandSource;
  /** The mode this tick's command was decided in. */
  readonly mode: Mode;
  /** This tick's input channels, in the law's order. */
  readonly inputs: Int32Array;
  /** Per replica: what it did wrong this tick (TICK_FLAG bits, PROTOCOL.md; 0: nothing). */
  readonly flags: Uint8Array;
  /** Per replica, after this tick: 'inService', 'excluded' or 'probation'. */
  readonly replicaStatus: readonly ReplicaStatus[];
  /** Commands without a majority behind them so far (0 unless something is badly wrong). */
  readonly unsafeCommands: number;
  /** The injected faults' records so far (outcome, detection). */
  readonly faults: readonly FaultRecord[];
  /** This tick as a canonical trace line (`tmr sim --trace`'s); allocates, so call it only when wanted. */
  traceLine(): string;
}

/** The replicas are up and have answered, just before tick 0. */
export interface ReadyEvent {
  readonly replicaCount: number;
  /** How many are in service (fewer than replicaCount only under startPolicy 'degraded'). */
  readonly inService: number;
  /** Per replica: what it is (its port, `pid N`, an emulator) and whether it starts in service. */
  readonly replicas: readonly { readonly index: number; readonly name: string; readonly inService: boolean }[];
  readonly ticks: number;
  readonly rateHz: number;
}

/** The mode changed: decided at `tick`, in force for commands from `inForceFromTick` (the summary's modeHistory tick). */
export interface ModeChangeEvent {
  readonly tick: number;
  readonly from: Mode;
  readonly to: Mode;
  /** The reason code: 'replica 1 OUTPUT_DISAGREE', 'QUORUM_LOST', 'REPLICA_READMITTED', … */
  readonly reason: string;
  readonly inForceFromTick: number;
}

/** A replica was taken out of the vote (and, in real time, isolated: its process stopped). */
export interface ReplicaExcludedEvent {
  readonly tick: number;
  readonly replicaIndex: number;
  /** The named reason: DEADLINE_MISSED, OUTPUT_DISAGREE, LINK_DOWN, … */
  readonly reason: ExclusionReason;
  /** What the replica is at the time (its port, its process). */
  readonly name: string;
}

/** An excluded replica was restarted, given the majority's state, and is compared but not yet counted (recovery). */
export interface ProbationStartedEvent {
  readonly tick: number;
  readonly replicaIndex: number;
  readonly name: string;
}

/** A replica passed probation: decided at `tick`, counted in the vote from `countedFromTick`. */
export interface ReplicaReadmittedEvent {
  readonly tick: number;
  readonly replicaIndex: number;
  readonly countedFromTick: number;
  readonly name: string;
}

/**
 * Everything a Runtime emits, by name, with its payload. Listeners run synchronously inside the
 * loop, in this order within a tick: inputFault, then the tick's modeChange, replicaExcluded,
 * probationStarted and replicaReadmitted as they happened, then tick, then killSwitch if it
 * tripped. A listener that throws ends the run (the actuator safe, the replicas stopped) and
 * start() rejects with its error.
 */
export interface RuntimeEvents {
  /** An actuator (`actuator`) or real I/O (`io`) was opened, before the replicas start. */
  attached: { readonly kind: 'actuator' | 'io'; readonly description: string };
  ready: ReadyEvent;
  /**
   * Real I/O only: a sensor's reading went bad (kind 'inputFault': the channel holds its last good
   * value), came back ('inputRecovered'), or was held too long ('inputHoldExpired': the run stops
   * safe, killSwitch INPUT_FAULT).
   */
  inputFault: InputEvent;
  modeChange: ModeChangeEvent;
  replicaExcluded: ReplicaExcludedEvent;
  probationStarted: ProbationStartedEvent;
  replicaReadmitted: ReplicaReadmittedEvent;
  tick: TickEvent;
  /** A replica refused an injected fault (a build without test hooks): the fault never ran. */
  injectionRefused: FaultRecord;
  /** The kill switch stopped the run (a trigger, killSwitch(), or an input held too long): the actuator is safe. */
  killSwitch: KillSwitchTrip;
  /** A black-box log write failed: the run goes on without the log (said once). */
  logFailure: BlackBoxWriteFailure;
  /** The run is over, everything closed: its summary (what start() resolves with). */
  end: RuntimeSummary;
}

export type RuntimeEventName = keyof RuntimeEvents;
export type RuntimeListener<E extends RuntimeEventName> = (payload: RuntimeEvents[E]) => void;

/**
 * One run of the loop. Configured by createRuntime; listen with on(); start() runs it once. The
 * runtime writes nothing to stdout or stderr, installs no signal handlers and never exits the
 * process: map signals to stop() and killSwitch() yourself.
 */
export interface Runtime {
  readonly mode: RuntimeMode;
  /** Adds a listener (at most LISTENERS_MAX per event); returns a function that removes it. */
  on<E extends RuntimeEventName>(event: E, listener: RuntimeListener<E>): () => void;
  off<E extends RuntimeEventName>(event: E, listener: RuntimeListener<E>): void;
  /** Adds a fault to inject, checked as an `inject` entry is; before start() only. */
  injectFault(fault: FaultInjection): void;
  /**
   * Runs the loop: opens the log, the actuator and the I/O, starts the replicas, ticks, and closes
   * everything, the actuator safe. Resolves with the summary when the run ends (completed,
   * stopped, or the kill switch); rejects when it cannot start (StartRefusedError naming each
   * replica that did not), when an assertion fails (TmrAssertionError: the actuator was sent
   * safe), or with a listener's error. Once per runtime.
   */
  start(): Promise<RuntimeSummary>;
  /**
   * An orderly stop, as Ctrl-C is to `tmr run`: no tick after the current one, the actuator safe,
   * the replicas stopped, the log's end record written; the summary says interrupted. Called
   * before start(), the run stops before its first tick. In simulation the run never yields, so
   * stop() comes from a listener. Idempotent.
   */
  stop(): void;
  /** Trips the kill switch (trigger EXTERNAL, with `reason`) after the current tick, as SIGUSR2 does to `tmr run`. */
  killSwitch(reason: string): void;
  /** The summary once the run has ended; null before. */
  readonly summary: RuntimeSummary | null;
}
