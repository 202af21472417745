/**
 * What one scenario run produces: the verdict, every criterion's outcome, the per-tick series and
 * the markers a plot needs. This is the shape of the JSON result file (`<name>.json`) and the
 * only input of the plot, the JUnit file and the verdict table, so a report can be redrawn from
 * the JSON alone.
 *
 * Units are in the names; ticks are the bench's ticks (tick 0 is the first controlled tick);
 * time on a plot is tick / rateHz seconds.
 */
import type { Mode } from '../src/core/degradation.js';

export type Verdict = 'pass' | 'fail' | 'error';

/** One criterion, checked after the run. */
export interface CriterionOutcome {
  /** The criterion's field name in the scenario file, e.g. 'trackingErrorMaxMilliDeg'. */
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
  /** A disturbance started or ended (load torque, sensor glitch). */
  | 'disturbance'
  /** The voter died: no commands after this tick. */
  | 'voterDeath'
  /** The actuator entered its safe state (watchdog or commanded). */
  | 'actuatorSafe';

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

/**
 * Per-tick series, columnar (index = tick). Every array has `ticks` entries. Values are integers.
 * null marks "nothing": no voted command sent (the voter was dead), no reply from a replica
 * (missing, late, excluded).
 */
export interface TickSeries {
  readonly setpointMilliDeg: number[];
  /** The sensor reading the replicas were sent (noise and glitches included). */
  readonly positionMilliDeg: number[];
  /** The shaft's true position, rounded to m° (what the tracking criteria measure). */
  readonly truePositionMilliDeg?: number[];
  /** The voted command the voter sent to the actuator, mV; null where none was sent. */
  readonly commandMv: (number | null)[];
  /** The voltage the actuator applied, mV (after latency, deadband, slew, watchdog). */
  readonly appliedMv: number[];
  /** Per replica (outer index), its on-time command output per tick, mV; null when none. */
  readonly replicaCommandMv: (number | null)[][];
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
  /** What the actuator path was: 'johnny-five Servo → tmr sim-drive IO plugin', or the Firmata port. */
  readonly actuatorPath: string;
  /**
   * Earlier attempts of a real-time scenario that failed only on timing (the voter held a command
   * because no majority answered on time, so the plant and the voted trace then differed
   * from the fault-free run): why each was run again. Empty or absent: the first attempt counted.
   */
  readonly retries?: readonly string[];
  /** One line that runs this scenario again (exactly, in simulated time; the same schedule in real time). */
  readonly replayCommand: string;
}
