/**
 * The kill switch: conditions under which the run must stop at once rather than carry on. When a
 * trigger trips, the runner sends the actuator to its safe state, stops the replicas and ends the
 * run; the CLI flushes the black-box log, prints the trigger and exits with EXIT.killSwitch.
 *
 * Triggers (each optional):
 *   ERROR_RATE   more than errorsMax replica errors (any TICK_FLAG on a replica in service: a
 *                miss, a late or garbled reply, a disagreement) within the last windowTicks ticks;
 *   QUORUM_LOSS  no majority-backed command (held or safe) for more than quorumLossTicksMax
 *                consecutive ticks;
 *   TICK_BUDGET  the tick budget is used up (tickBudget ticks were run);
 *   WALL_BUDGET  wallBudgetMs of wall time passed since the first tick (real-time runs only);
 *   EXTERNAL     an operator asked (SIGUSR2 to `tmr run`), or a caller called trip().
 * Ticks are evaluated after the vote; wall time enters only as an argument. Bounded memory: one
 * ring of windowTicks counts.
 *
 * Loop layer (src/loop/): imports only core, protocol, law and src/loop.
 */
import { assert } from '../core/assert.js';
import type { StepResult } from '../core/tmr-core.js';

/**
 * INPUT_FAULT is the loop's own (LoopModel.inputTrip): a sensor's fault outlasted its hold policy
 * (real I/O, src/io/), so the run goes safe before it commands anything from a stale reading.
 */
export type KillTrigger = 'ERROR_RATE' | 'QUORUM_LOSS' | 'TICK_BUDGET' | 'WALL_BUDGET' | 'EXTERNAL' | 'INPUT_FAULT';

export interface KillSwitchConfig {
  readonly errorRate?: { readonly errorsMax: number; readonly windowTicks: number };
  readonly quorumLossTicksMax?: number;
  readonly tickBudget?: number;
  readonly wallBudgetMs?: number;
}

export interface KillSwitchTrip {
  readonly trigger: KillTrigger;
  /** The tick after which the run stopped. */
  readonly tick: number;
  readonly detail: string;
}

/** Largest error-rate window, ticks. */
export const KILL_WINDOW_TICKS_MAX = 1_000_000;

export class KillSwitch {
  private readonly window: Uint32Array | null;
  private windowSum = 0;
  private windowHead = 0;
  private quorumLossStreak = 0;
  private startMs: number | null = null;
  private pendingExternal: string | null = null;
  tripped: KillSwitchTrip | null = null;

  constructor(readonly config: KillSwitchConfig) {
    const rate = config.errorRate;
    if (rate !== undefined) {
      assert(Number.isInteger(rate.windowTicks) && rate.windowTicks >= 1 && rate.windowTicks <= KILL_WINDOW_TICKS_MAX, 'kill-switch window');
      assert(Number.isInteger(rate.errorsMax) && rate.errorsMax >= 0, 'kill-switch error bound');
    }
    this.window = rate === undefined ? null : new Uint32Array(rate.windowTicks);
  }

  /** An operator or a caller asks to stop; takes effect after the current tick. */
  trip(reason: string): void {
    this.pendingExternal ??= reason;
  }

  /** After each tick's vote. Returns the trip when a trigger fires (and keeps returning it). */
  afterTick(result: StepResult, nowMs: number): KillSwitchTrip | null {
    if (this.tripped !== null) return this.tripped;
    this.startMs ??= nowMs;
    const c = this.config;
    const tick = result.tick;
    let trip: KillSwitchTrip | null = null;
    if (this.pendingExternal !== null) trip = { trigger: 'EXTERNAL', tick, detail: this.pendingExternal };
    if (trip === null && this.window !== null && c.errorRate !== undefined) trip = this.errorRate(result, c.errorRate);
    this.quorumLossStreak = result.commandSource === 'held' || result.commandSource === 'safe' ? this.quorumLossStreak + 1 : 0;
    if (trip === null && c.quorumLossTicksMax !== undefined && this.quorumLossStreak > c.quorumLossTicksMax) {
      trip = { trigger: 'QUORUM_LOSS', tick, detail: `no majority-backed command for ${this.quorumLossStreak} consecutive ticks (limit ${c.quorumLossTicksMax})` };
    }
    if (trip === null && c.tickBudget !== undefined && tick + 1 >= c.tickBudget) trip = { trigger: 'TICK_BUDGET', tick, detail: `tick budget of ${c.tickBudget} ticks used up` };
    if (trip === null && c.wallBudgetMs !== undefined && nowMs - this.startMs >= c.wallBudgetMs) {
      trip = { trigger: 'WALL_BUDGET', tick, detail: `wall-clock budget of ${c.wallBudgetMs} ms used up (${Math.round(nowMs - this.startMs)} ms since tick 0)` };
    }
    this.tripped = trip;
    return trip;
  }

  private errorRate(result: StepResult, rate: NonNullable<KillSwitchConfig['errorRate']>): KillSwitchTrip | null {
    const window = this.window as Uint32Array;
    let errors = 0;
    for (let i = 0; i < result.flags.length; i++) if ((result.inServiceMask >> i) & 1 && (result.flags[i] as number) !== 0) errors++;
    this.windowSum += errors - (window[this.windowHead] as number);
    window[this.windowHead] = errors;
    this.windowHead = (this.windowHead + 1) % window.length;
    if (this.windowSum <= rate.errorsMax) return null;
    return { trigger: 'ERROR_RATE', tick: result.tick, detail: `${this.windowSum} replica errors in the last ${rate.windowTicks} ticks (limit ${rate.errorsMax})` };
  }
}
