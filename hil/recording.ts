/**
 * What the bench records of a run, tick by tick, in preallocated typed arrays (a run allocates
 * nothing per tick): every input channel of the law as the replicas were sent it, every output
 * channel's command as the voter sent it, each replica's on-time outputs, the mode; on the motor
 * plant also its true position, the voltage applied, what the drive received, brake and stillness.
 * The criteria and the result's series are computed from it.
 */
import { assert } from '../src/core/assert.js';
import { MODES, type Mode } from '../src/core/degradation.js';

/** Stands for "nothing" in an Int32Array column (no command sent, no reply). */
export const NONE = -0x8000_0000;
/** Mode column value after the voter died. */
export const MODE_NONE = 255;

/** The motor world's own columns (pid-q16 on the motor plant, through johnny-five). */
export interface MotorColumns {
  /** The shaft's true position, rounded to m° (what the motor's tracking criteria measure). */
  readonly truePositionMilliDeg: Int32Array;
  readonly appliedMv: Int32Array;
  /** What the drive received through johnny-five and the IO plugin (NONE: nothing). */
  readonly receivedMv: Int32Array;
  /** 1 where the actuator's brake was engaged (safe state) after the tick. */
  readonly brakeEngaged: Uint8Array;
  /** 1 where the shaft stood still after the tick. */
  readonly stopped: Uint8Array;
}

export class Recording {
  /** Per input channel, in the law's order: the value every replica was sent. */
  readonly inputs: Int32Array[];
  /** Per output channel, in the law's order: the command the voter sent (NONE: none, the voter was dead). */
  readonly commands: Int32Array[];
  /** Per replica, per output channel: its on-time output (NONE: no reply on time). */
  readonly replicaOutputs: Int32Array[][];
  readonly mode: Uint8Array;
  /** The motor world's columns; null on another plant. */
  readonly motor: MotorColumns | null;
  ticksRecorded = 0;

  constructor(
    readonly ticks: number,
    readonly replicaCount: number,
    readonly inputCount: number,
    readonly outputCount: number,
    motor: boolean,
  ) {
    assert(Number.isInteger(ticks) && ticks > 0, 'recording length');
    assert(inputCount >= 1 && outputCount >= 1, 'a law has at least one input and one output channel');
    this.inputs = Array.from({ length: inputCount }, () => new Int32Array(ticks));
    this.commands = Array.from({ length: outputCount }, () => new Int32Array(ticks).fill(NONE));
    this.replicaOutputs = Array.from({ length: replicaCount }, () => Array.from({ length: outputCount }, () => new Int32Array(ticks).fill(NONE)));
    this.mode = new Uint8Array(ticks).fill(MODE_NONE);
    this.motor = !motor
      ? null
      : {
          truePositionMilliDeg: new Int32Array(ticks),
          appliedMv: new Int32Array(ticks),
          receivedMv: new Int32Array(ticks).fill(NONE),
          brakeEngaged: new Uint8Array(ticks),
          stopped: new Uint8Array(ticks),
        };
  }

  /** This tick's input channels (the vector the loop sent every replica). */
  recordInputs(tick: number, inputs: Int32Array): void {
    assert(inputs.length === this.inputCount, 'one value per input channel');
    for (let c = 0; c < this.inputCount; c++) (this.inputs[c] as Int32Array)[tick] = inputs[c] as number;
  }

  /** This tick's commands, every output channel. */
  recordCommands(tick: number, commands: Int32Array): void {
    assert(commands.length === this.outputCount, 'one command per output channel');
    for (let c = 0; c < this.outputCount; c++) (this.commands[c] as Int32Array)[tick] = commands[c] as number;
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
