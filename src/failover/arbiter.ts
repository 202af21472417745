/**
 * The last selection, at the actuator (issue 19): which voter's command the actuator applies when
 * more than one voter commands it. Pure: commands offered in, one decision per actuator tick out,
 * and every step in a log a checker can read (checker.ts). No consensus sits here; etcd decides
 * who may become primary, and this decides, fast, whose commands reach the actuator.
 *
 * Every command carries its voter's epoch (a fencing token: the creation revision of the voter's
 * election key in etcd, ordered cluster-wide, fixed for one campaign) and the voter's tick. A
 * voter that holds the election marks its commands primary; a hot standby commands as well,
 * marked standby, so that the actuator can take its commands at once when the primary falls
 * silent. The rules:
 *
 *  - The actuator follows one epoch at a time, the current one (0: none yet). A command of an
 *    older epoch is refused (STALE_EPOCH), whatever it claims.
 *  - A primary command of a newer epoch is followed at once: a voter elected after the current
 *    one supersedes it.
 *  - A standby command of a newer epoch is held as a fallback. Once the current epoch has been
 *    silent for `silentTicksMax` actuator ticks in a row, the freshest fallback of the lowest newer
 *    epoch (the next in the election's order) becomes current: takeover, without waiting for a
 *    lease to expire.
 *  - Within an epoch, voter ticks only go forward: a tick at or below the last applied one is
 *    refused (NOT_NEWER).
 *
 * From the moment an epoch is current, nothing older is ever applied again: that is the fencing.
 */
import { assert, fail } from '../core/assert.js';

export interface OfferedCommand {
  /** Which voter sent it (for logs; the epoch is what the rules look at). */
  readonly voterId: number;
  /** The voter's fencing token: > 0. */
  readonly epoch: number;
  /** The voter's tick for this command. */
  readonly tick: number;
  /** Whether the voter held the election when it sent it. */
  readonly primary: boolean;
  readonly commands: readonly number[];
}

export type RefusalReason = 'STALE_EPOCH' | 'NOT_NEWER';

/** One line of the actuator's own log: what it took, refused or did at each of its ticks. */
export type ArbiterLogEntry =
  | { readonly kind: 'applied'; readonly actuatorTick: number; readonly epoch: number; readonly voterId: number; readonly tick: number; readonly commands: readonly number[] }
  | { readonly kind: 'refused'; readonly actuatorTick: number; readonly epoch: number; readonly voterId: number; readonly tick: number; readonly reason: RefusalReason }
  | { readonly kind: 'epoch'; readonly actuatorTick: number; readonly from: number; readonly to: number; readonly voterId: number; readonly why: 'NEWER_PRIMARY' | 'TAKEOVER' }
  | { readonly kind: 'silent'; readonly actuatorTick: number; readonly silentTicks: number };

export interface ArbiterOptions {
  /** Actuator ticks the current epoch may be silent before a standby's command is taken (≥ 1). */
  readonly silentTicksMax: number;
  /**
   * The same before any epoch has been followed (default: silentTicksMax): at start-up the primary's
   * first command may take longer than a tick period, and a standby taken then only makes the
   * primary step down.
   */
  readonly startupSilentTicksMax?: number;
  /** Receives every log entry as it happens (the actuator writes its own log; a test keeps them). */
  readonly log?: (entry: ArbiterLogEntry) => void;
}

export interface ArbiterCounters {
  applied: number;
  refusedStale: number;
  refusedNotNewer: number;
  takeovers: number;
  newerPrimaries: number;
  /** Actuator ticks with nothing to apply. */
  silentTicks: number;
}

/** Newer epochs whose fallback is held at most (more voters than this are not a design point). */
export const FALLBACK_EPOCHS_MAX = 16;

export class Arbiter {
  readonly counters: ArbiterCounters = { applied: 0, refusedStale: 0, refusedNotNewer: 0, takeovers: 0, newerPrimaries: 0, silentTicks: 0 };
  #epoch = 0;
  #lastAppliedTick = -1;
  /** The current epoch's newest command not yet applied. */
  #pending: OfferedCommand | null = null;
  /** Per newer epoch, the freshest standby command (a fallback). */
  readonly #fallbacks = new Map<number, OfferedCommand>();
  #silent = 0;
  #actuatorTick = 0;
  readonly #silentTicksMax: number;
  readonly #startupSilentTicksMax: number;
  readonly #log: (entry: ArbiterLogEntry) => void;

  constructor(options: ArbiterOptions) {
    assert(Number.isInteger(options.silentTicksMax) && options.silentTicksMax >= 1, `Arbiter: silentTicksMax ${options.silentTicksMax}`);
    this.#silentTicksMax = options.silentTicksMax;
    this.#startupSilentTicksMax = options.startupSilentTicksMax ?? options.silentTicksMax;
    assert(Number.isInteger(this.#startupSilentTicksMax) && this.#startupSilentTicksMax >= options.silentTicksMax, `Arbiter: startupSilentTicksMax ${this.#startupSilentTicksMax}`);
    this.#log = options.log ?? (() => {});
  }

  /** The epoch followed now (0 before any command). */
  get epoch(): number {
    return this.#epoch;
  }

  /** The actuator tick the next decide() closes. */
  get actuatorTick(): number {
    return this.#actuatorTick;
  }

  /** A command arrives (between two actuator ticks). Returns why it was refused, or null. */
  offer(command: OfferedCommand): RefusalReason | null {
    if (!(Number.isInteger(command.epoch) && command.epoch > 0 && Number.isInteger(command.tick) && command.tick >= 0)) fail(`Arbiter.offer: epoch ${command.epoch}, tick ${command.tick}`);
    if (command.epoch < this.#epoch) return this.#refuse(command, 'STALE_EPOCH');
    if (command.epoch > this.#epoch) {
      if (command.primary) {
        this.#switchTo(command.epoch, command.voterId, 'NEWER_PRIMARY');
        this.counters.newerPrimaries++;
      } else {
        const held = this.#fallbacks.get(command.epoch);
        if (held === undefined || command.tick > held.tick) this.#fallbacks.set(command.epoch, command);
        if (this.#fallbacks.size > FALLBACK_EPOCHS_MAX) this.#fallbacks.delete(Math.max(...this.#fallbacks.keys()));
        return null;
      }
    }
    if (command.tick <= this.#lastAppliedTick || (this.#pending !== null && command.tick <= this.#pending.tick)) return this.#refuse(command, 'NOT_NEWER');
    this.#pending = command;
    return null;
  }

  /**
   * Closes one actuator tick: the command to apply (null: none arrived; the actuator holds its
   * last command, and its own watchdog makes it safe after long enough).
   */
  decide(): OfferedCommand | null {
    const tick = this.#actuatorTick++;
    let chosen = this.#pending;
    this.#pending = null;
    if (chosen === null) {
      this.#silent++;
      if (this.#silent >= (this.#epoch === 0 ? this.#startupSilentTicksMax : this.#silentTicksMax)) chosen = this.#takeOver(tick);
    }
    if (chosen === null) {
      this.counters.silentTicks++;
      this.#log({ kind: 'silent', actuatorTick: tick, silentTicks: this.#silent });
      return null;
    }
    this.#silent = 0;
    this.#lastAppliedTick = chosen.tick;
    this.counters.applied++;
    this.#log({ kind: 'applied', actuatorTick: tick, epoch: chosen.epoch, voterId: chosen.voterId, tick: chosen.tick, commands: [...chosen.commands] });
    return chosen;
  }

  /** The lowest newer epoch with a fallback newer than the last applied tick becomes current. */
  #takeOver(actuatorTick: number): OfferedCommand | null {
    let next: OfferedCommand | null = null;
    for (const [epoch, command] of this.#fallbacks) {
      if (epoch <= this.#epoch || command.tick <= this.#lastAppliedTick) continue;
      if (next === null || epoch < next.epoch) next = command;
    }
    if (next === null) return null;
    this.#switchTo(next.epoch, next.voterId, 'TAKEOVER', actuatorTick);
    this.counters.takeovers++;
    return next;
  }

  #switchTo(epoch: number, voterId: number, why: 'NEWER_PRIMARY' | 'TAKEOVER', actuatorTick = this.#actuatorTick): void {
    assert(epoch > this.#epoch, `Arbiter: switch from epoch ${this.#epoch} to ${epoch}`);
    this.#log({ kind: 'epoch', actuatorTick, from: this.#epoch, to: epoch, voterId, why });
    this.#epoch = epoch;
    this.#pending = null;
    for (const held of [...this.#fallbacks.keys()]) if (held <= epoch) this.#fallbacks.delete(held);
  }

  #refuse(command: OfferedCommand, reason: RefusalReason): RefusalReason {
    if (reason === 'STALE_EPOCH') this.counters.refusedStale++;
    else this.counters.refusedNotNewer++;
    this.#log({ kind: 'refused', actuatorTick: this.#actuatorTick, epoch: command.epoch, voterId: command.voterId, tick: command.tick, reason });
    return reason;
  }
}
