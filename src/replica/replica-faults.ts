/**
 * Simulated faults, as a replica exhibits them. Shared by the child-process replica (driven by
 * inject messages) and the in-process simulated replica (driven by the simulator), so a fault
 * means the same thing in `tmr run` and `tmr sim`.
 *
 * A fault armed before tick T is active for ticks T .. T+duration-1 (duration 0: to the end).
 *   crash   the replica exits at T.
 *   hang    silent from T (a process is stopped with SIGSTOP by the host; in-process: silent).
 *   wrong   output channel 0 offset by `param`, wrapped into the channel's declared range
 *           (min + ((v - min + param) mod span)); a one-value channel is left alone.
 *   stuck   repeats the reply of `param` ticks before T (1..STUCK_TICKS_BACK_MAX): same outputs,
 *           same digest, current tick number.
 *   late    each reply is held back `param` µs (in-process: delivered one tick late).
 *   babble  garbage bytes (seeded by `param`) instead of replies.
 *   state   at T one bit of the serialised state is flipped (byte param mod size, bit param mod
 *           8; the next byte if the law refuses the result) and read back: silent corruption.
 *   bitflip one bit of every reply frame is flipped on the wire (seeded by `param`): a noisy
 *           line or a failing UART. The CRC refuses every such frame.
 */
import { assert } from '../core/assert.js';
import { deriveSeed, Prng } from '../core/prng.js';
import { FAULT_KIND, type FaultKind } from '../protocol/messages.js';
import type { ReplicaLogic } from './replica-logic.js';

export type FaultAction = 'reply' | 'silent' | 'late' | 'garbage' | 'crash' | 'bitflip';

export const DEFAULT_FAULT_PARAM: Record<FaultKind, number> = {
  crash: 0,
  hang: 0,
  wrong: 1_500,
  stuck: 1,
  late: 0,
  babble: 0x0bab,
  state: 50,
  bitflip: 0xf11b,
};

export const BABBLE_BYTES_MAX = 64;
export const STUCK_TICKS_BACK_MAX = 16;

export function faultKindFromCode(code: number): FaultKind | null {
  for (const [kind, value] of Object.entries(FAULT_KIND)) if (value === code) return kind as FaultKind;
  return null;
}

export class ReplicaFaults {
  private armed: { kind: FaultKind; durationTicks: number; param: number } | null = null;
  kind: FaultKind | null = null;
  param = 0;
  private startTick = -1;
  private durationTicks = 0;
  /** Ring of the last STUCK_TICKS_BACK_MAX replies (outputs and digests), for stuck faults. */
  private readonly historyOutputs: Int32Array;
  private readonly historyDigests = new Float64Array(STUCK_TICKS_BACK_MAX);
  private historyCount = 0;
  private readonly stuckOutputs: Int32Array;
  private stuckDigest = 0;
  private prng: Prng | null = null;

  constructor(private readonly outputCount: number) {
    this.historyOutputs = new Int32Array(STUCK_TICKS_BACK_MAX * outputCount);
    this.stuckOutputs = new Int32Array(outputCount);
  }

  /**
   * An accepted hello resets the law: the armed and the active fault end with it (PROTOCOL.md 13).
   * The reply history stays, as a board's does: a later stuck fault repeats what was sent.
   */
  clear(): void {
    this.armed = null;
    this.kind = null;
  }

  /** Arms a fault that takes effect at the next tick. */
  arm(kind: FaultKind, durationTicks: number, param: number): void {
    assert(Number.isInteger(durationTicks) && durationTicks >= 0, 'fault duration must be a non-negative integer');
    this.armed = { kind, durationTicks, param };
  }

  /** Called with each tick before the law steps; starts and ends faults, corrupts state. */
  beforeStep(tick: number, logic: ReplicaLogic): void {
    if (this.armed !== null) {
      this.kind = this.armed.kind;
      this.param = this.armed.param;
      this.durationTicks = this.armed.durationTicks;
      this.startTick = tick;
      this.armed = null;
      this.prng = new Prng(deriveSeed(this.param, tick));
      if (this.kind === 'stuck') this.freezeFromHistory(this.param);
      if (this.kind === 'state') corruptState(logic, this.param);
    } else if (this.kind !== null && this.durationTicks > 0 && tick >= this.startTick + this.durationTicks) {
      this.kind = null;
    }
  }

  /** The state digest to send with this tick's reply; set by afterStep. */
  replyDigest = 0;

  /**
   * Called after the law stepped with its outputs and digest; rewrites them for wrong/stuck, sets
   * replyDigest and says what to do with the reply. Allocates nothing (it runs every tick).
   */
  afterStep(outputs: Int32Array, stateDigest: number, logic: ReplicaLogic): FaultAction {
    const slot = this.historyCount % STUCK_TICKS_BACK_MAX;
    const base = slot * this.outputCount;
    for (let c = 0; c < this.outputCount; c++) this.historyOutputs[base + c] = outputs[c] as number;
    this.historyDigests[slot] = stateDigest;
    this.historyCount++;
    this.replyDigest = stateDigest;
    switch (this.kind) {
      case null:
      case 'state':
        return 'reply';
      case 'crash':
        return 'crash';
      case 'hang':
        return 'silent';
      case 'late':
        return 'late';
      case 'babble':
        return 'garbage';
      case 'bitflip':
        return 'bitflip';
      case 'wrong': {
        const channel = logic.law.definition.outputs[0]!;
        const span = channel.max - channel.min + 1;
        const offset = ((((outputs[0] as number) - channel.min + this.param) % span) + span) % span;
        outputs[0] = channel.min + offset;
        return 'reply';
      }
      case 'stuck':
        outputs.set(this.stuckOutputs);
        this.replyDigest = this.stuckDigest;
        return 'reply';
    }
  }

  /** Picks the reply from `ticksBack` ticks ago (the oldest kept, if fewer exist; zeros if none). */
  private freezeFromHistory(ticksBack: number): void {
    const back = Math.min(Math.max(1, ticksBack), STUCK_TICKS_BACK_MAX, this.historyCount);
    if (back === 0) {
      this.stuckOutputs.fill(0);
      this.stuckDigest = 0;
      return;
    }
    const slot = (this.historyCount - back) % STUCK_TICKS_BACK_MAX;
    this.stuckOutputs.set(this.historyOutputs.subarray(slot * this.outputCount, (slot + 1) * this.outputCount));
    this.stuckDigest = this.historyDigests[slot] as number;
  }

  /** Flips one seeded bit of an encoded frame in place, never in its final 0x00 delimiter. */
  flipBit(frame: Uint8Array): void {
    assert(this.prng !== null && frame.length >= 2, 'bit flip with no bitflip fault active');
    const bit = this.prng.nextBelow((frame.length - 1) * 8);
    frame[bit >> 3] = (frame[bit >> 3] as number) ^ (1 << (bit & 7));
  }

  /**
   * Garbage for a babbling replica: 8..BABBLE_BYTES_MAX seeded random bytes ending in a frame
   * delimiter, as a board whose firmware sends junk frames does.
   */
  garbage(): Uint8Array {
    assert(this.prng !== null, 'garbage drawn with no babble fault active');
    const length = 8 + this.prng.nextBelow(BABBLE_BYTES_MAX - 7);
    const bytes = new Uint8Array(length);
    for (let i = 0; i < length - 1; i++) bytes[i] = this.prng.nextBelow(256);
    bytes[length - 1] = 0;
    return bytes;
  }
}

/**
 * Flips one bit of the serialised state and reads it back into the law: byte (param + a) mod size
 * for the first a the law accepts, bit param mod 8. Nothing changes if the law refuses every one.
 */
export function corruptState(logic: ReplicaLogic, param: number): void {
  const state = logic.state;
  if (state === null) return;
  const bytes = logic.law.stateBytes(state);
  const size = bytes.length;
  const mask = 1 << ((param >>> 0) % 8);
  for (let a = 0; a < size; a++) {
    const i = ((param >>> 0) + a) % size;
    bytes[i] = (bytes[i] as number) ^ mask;
    if (logic.law.definition.deserialize(state, bytes) === null) return;
    bytes[i] = (bytes[i] as number) ^ mask;
  }
}
