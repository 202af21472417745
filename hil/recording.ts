/**
 * What the bench records of a run, tick by tick, in preallocated typed arrays (a run allocates
 * nothing per tick): setpoint, reading, true position, voted command, applied voltage, each
 * replica's on-time command, the mode. The criteria and the result's series are computed from it.
 */
import { assert } from '../src/core/assert.js';
import { MODES, type Mode } from '../src/core/degradation.js';

/** Stands for "nothing" in an Int32Array column (no command sent, no reply). */
export const NONE = -0x8000_0000;
/** Mode column value after the voter died. */
export const MODE_NONE = 255;

export class Recording {
  readonly setpointMilliDeg: Int32Array;
  readonly positionMilliDeg: Int32Array;
  readonly truePositionMilliDeg: Int32Array;
  readonly commandMv: Int32Array;
  readonly appliedMv: Int32Array;
  /** What the drive received through johnny-five and the IO plugin (NONE: nothing). */
  readonly receivedMv: Int32Array;
  readonly replicaCommandMv: Int32Array[];
  readonly mode: Uint8Array;
  /** 1 where the actuator's brake was engaged (safe state) after the tick. */
  readonly brakeEngaged: Uint8Array;
  /** 1 where the shaft stood still after the tick. */
  readonly stopped: Uint8Array;
  ticksRecorded = 0;

  constructor(
    readonly ticks: number,
    readonly replicaCount: number,
  ) {
    assert(Number.isInteger(ticks) && ticks > 0, 'recording length');
    this.setpointMilliDeg = new Int32Array(ticks);
    this.positionMilliDeg = new Int32Array(ticks);
    this.truePositionMilliDeg = new Int32Array(ticks);
    this.commandMv = new Int32Array(ticks).fill(NONE);
    this.appliedMv = new Int32Array(ticks);
    this.receivedMv = new Int32Array(ticks).fill(NONE);
    this.replicaCommandMv = Array.from({ length: replicaCount }, () => new Int32Array(ticks).fill(NONE));
    this.mode = new Uint8Array(ticks).fill(MODE_NONE);
    this.brakeEngaged = new Uint8Array(ticks);
    this.stopped = new Uint8Array(ticks);
  }

  static modeCode(mode: Mode): number {
    const code = MODES.indexOf(mode);
    assert(code >= 0, 'unknown mode');
    return code;
  }

  /** Column to a JSON-ready array with null for NONE. */
  static nullable(column: Int32Array, length: number): (number | null)[] {
    const out = new Array<number | null>(length);
    for (let i = 0; i < length; i++) out[i] = column[i] === NONE ? null : (column[i] as number);
    return out;
  }

  static plain(column: Int32Array, length: number): number[] {
    return Array.from(column.subarray(0, length));
  }
}
