/**
 * What one scenario run produces: the verdict, every criterion's outcome, the per-tick series and
 * the markers a plot needs. This is the shape of the JSON result file (`<name>.json`) and the
 * only input of the plot, the JUnit file and the verdict table, so a report can be redrawn from
 * the JSON alone.
 *
 * Units are in the names (a law's channels carry theirs beside the name); ticks are the bench's ticks (tick 0 is the first controlled tick);
 * time on a plot is tick / rateHz seconds.
 */
import type { Mode } from '../src/core/degradation.js';
import type { KillSwitchTrip } from '../src/loop/kill-switch.js';
import type { InputEvent, IoSummary } from '../src/loop/world.js';

export type Verdict = 'pass' | 'fail' | 'error';

/** One criterion, checked after the run. */
export interface CriterionOutcome {
  /** The criterion's field name in the scenario file, e.g. 'trackingError.maxAbs'. */
  readonly name: string;
  readonly passed: boolean;
  /** What was measured, in the criterion's unit (a number) or a short text. */
  readonly measured: number | string;
  /** The bound or expectation from the scenario file. */
  readonly bound: number | string;
  /** Where the measured value was found (the worst tick, the first violating tick), if any. */
  readonly tick: number | null;
  /** One line a reader understands without the scenario file: what, by how much, where. */
  readonly message: string;
}

export type MarkerKind =
  /** A fault was injected into a replica. */
  | 'faultInjected'
  /** A fault with a duration ended. */
  | 'faultEnded'
  /** The failure detector excluded a replica. */
  | 'replicaExcluded'
  /** A restarted replica passed its probation and is back in service (recovery on). */
  | 'replicaReadmitted'
  /** A disturbance started or ended (load torque, sensor glitch). */
  | 'disturbance'
  /** The voter died: no commands after this tick. */
  | 'voterDeath'
  /** The actuator entered its safe state (watchdog or commanded; with real I/O, the kill switch's INPUT_FAULT). */
  | 'actuatorSafe'
  /** Real I/O: an input channel's sensor was faulted (stale, out of range), from the tick the loop saw it until it recovered or the run ended. */
  | 'inputFault';

export interface Marker {
  readonly tick: number;
  readonly kind: MarkerKind;
  /** The replica concerned, for fault and exclusion markers. */
  readonly replicaIndex: number | null;
  /** Short label for the plot, e.g. 'wrong → r1', 'r1 out: OUTPUT_DISAGREE'. */
  readonly label: string;
  /** Last tick of an interval marker (a fault with a duration, a disturbance); null for a point. */
  readonly endTick: number | null;
}

/** A run of ticks in one mode: [fromTick, toTick) . */
export interface ModeBand {
  readonly fromTick: number;
  readonly toTick: number;
  readonly mode: Mode;
}

/** One input channel of the law, per tick: what every replica was sent (noise and glitches included). */
export interface InputSeries {
  /** The channel's name in the law, e.g. 'levelMm'. */
  readonly name: string;
  /** Its unit as the law declares it, e.g. 'mm', 'mdeg', 'bool'. */
  readonly unit: string;
  /** Its declared range, inclusive. */
  readonly min: number;
  readonly max: number;
  readonly values: number[];
}

/** One output channel of the law, per tick: the voter's command and each replica's own output. */
export interface OutputSeries {
  readonly name: string;
  readonly unit: string;
  /** Its declared range, inclusive. */
  readonly min: number;
  readonly max: number;
  /** The command the voter sent (voted, held or safe); null where none was sent (the voter was dead). */
  readonly values: (number | null)[];
  /** Per replica (outer index), its on-time output on this channel; null when none (missing, late, excluded). */
  readonly replicas: (number | null)[][];
}

/**
 * Per-tick series, columnar (index = tick). Every array has `ticks` entries. Values are integers
 * in the channel's unit.
 */
export interface TickSeries {
  /** Every input channel, in the law's order. */
  readonly inputs: readonly InputSeries[];
  /** Every output channel, in the law's order. */
  readonly outputs: readonly OutputSeries[];
  /** The motor plant's own (pid-q16 on the motor): absent on another plant. */
  readonly motor?: {
    /** The shaft's true position, rounded to m° (what the motor's tracking criteria measure). */
    readonly truePositionMilliDeg: number[];
    /** The voltage the actuator applied, mV (after latency, deadband, slew, watchdog). */
    readonly appliedMv: number[];
  };
}

/** One scheduled action on the simulated Firmata board (a sensor fault, its end, the board vanishing) and what became of it. */
export interface IoActionResult {
  /** 'stale on pin A0', 'none on pin A0 (the stale fault ends)', 'the board vanishes'. */
  readonly what: string;
  /** The host tick it was for: sent once the tick before was done. */
  readonly tick: number;
  /** 'applied', 'refused: …', 'no answer', 'failed: …' or 'not sent' (the run had ended). */
  readonly outcome: string;
  /** The last host tick done when it was sent; null: never sent. */
  readonly sentAfterTick: number | null;
  /** The last host tick done when the board's answer came (or it was gone); null: none. */
  readonly answeredAfterTick: number | null;
}

/** What the board said once the loop stopped. */
export interface IoBoardEnd {
  /** Its drive dead-man tripping (the first time: after the loop stopped its heartbeat, or mid-run on a stall), and its outputs' commands then. */
  readonly watchdogTrip: { readonly boardTick: number; readonly msWithoutHeartbeat: number; readonly commands: Readonly<Record<string, number | null>> } | null;
  /** Its status line at exit (counters, every output's last command by channel name, its plant); null: none (it vanished). */
  readonly status: ({ readonly commands: Readonly<Record<string, number | null>>; readonly watchdogTrips: number } & Readonly<Record<string, unknown>>) | null;
}

/** Real I/O (an io scenario): the loop closed through the simulated Firmata board. */
export interface IoResult {
  /** The host's port and I/O map, and the board process behind it. */
  readonly description: string;
  /** The Firmata world's counts (samples, writes, sample age, input fault ticks, the board's loss). */
  readonly summary: IoSummary | null;
  readonly actions: readonly IoActionResult[];
  /** Every input event of the run in tick order (channel: the law's input index; name: its name). */
  readonly inputEvents: readonly (InputEvent & { readonly name: string })[];
  readonly inputEventsDropped: number;
  readonly board: IoBoardEnd;
}

export interface ScenarioResult {
  /** The scenario's `name` field (also the stem of the result and plot files). */
  readonly name: string;
  readonly description: string;
  /** The scenario file, as given on the command line. */
  readonly file: string;
  readonly verdict: Verdict;
  /** For verdict 'error': why the run could not be made (start-up failure, timeout); else null. */
  readonly error: string | null;
  readonly seed: number;
  /** The law every replica ran. */
  readonly law: { readonly name: string; readonly version: number };
  /** The plant it controlled (its name), e.g. 'motor', 'tank'. */
  readonly plant: string;
  /** The plant's tracking pair: input channel names and their unit. */
  readonly tracking: { readonly setpoint: string; readonly measured: string; readonly unit: string };
  readonly rateHz: number;
  readonly ticks: number;
  /** Replica kinds in order, e.g. ['node', 'sim-board', 'avr-sim']. */
  readonly replicaKinds: readonly string[];
  /** 'simulated': in-process replicas, simulated time; 'realtime': real processes or emulators. */
  readonly timeBase: 'simulated' | 'realtime';
  readonly wallMs: number;
  /** Plant time over wall time (ticks / rateHz s divided by wallMs); > 1 is faster than real time. */
  readonly realTimeFactor: number;
  readonly criteria: readonly CriterionOutcome[];
  readonly modeBands: readonly ModeBand[];
  readonly markers: readonly Marker[];
  readonly series: TickSeries;
  /** Counts from the run: unsafe commands, deadline misses, voted/held/safe commands, … */
  readonly counters: Readonly<Record<string, number>>;
  /** The scenario's fault-free reference run's voted-trace hash, when a criterion needed one. */
  readonly referenceTraceHash: string | null;
  readonly votedTraceHash: string;
  /** What the actuator path was: 'johnny-five Servo → tmr sim-drive IO plugin', the Firmata port, or the plant module's own world. */
  readonly actuatorPath: string;
  /**
   * Earlier attempts of a real-time scenario that failed only on timing (the voter held a command
   * because no majority answered on time, so the plant and the voted trace then differed
   * from the fault-free run): why each was run again. Empty or absent: the first attempt counted.
   */
  readonly retries?: readonly string[];
  /** One line that runs this scenario again (exactly, in simulated time; the same schedule in real time). */
  readonly replayCommand: string;
  /** Why the kill switch stopped the run (with real I/O: an input held past its policy, INPUT_FAULT); null: it did not. Absent: the run did not get that far. */
  readonly killSwitch?: KillSwitchTrip | null;
  /** Real I/O through the simulated Firmata board; absent for the in-process world. */
  readonly io?: IoResult;
}
