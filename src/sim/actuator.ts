/**
 * Motor drive model: the thing the voted command finally reaches. It is deliberately suspicious
 * of its input, like a real drive: it range-checks every command itself (paired with the voter's
 * check), and a watchdog puts it into its safe state when commands stop arriving.
 *
 * Per tick, in this order:
 *   1. range check: a command that is not an integer or is beyond ±supplyMvMax is rejected
 *      (counted in commandsRejected) and treated as no command;
 *   2. watchdog: watchdogTicks consecutive ticks without an accepted command trip it. The trip
 *      LATCHES: the drive stays safe (applies safeCommandMv, brake engaged) until rearm() is
 *      called, because a real drive must be re-enabled explicitly — silently resuming on the next
 *      frame that happens to arrive would restart a machine nobody has checked. While latched,
 *      commands are ignored (counted in commandsIgnored);
 *   3. latency: an accepted command takes effect latencyTicks ticks later (fixed ring buffer).
 *      A tick without a command holds the previous command, as drives do between frames;
 *   4. deadband: |target| < deadbandMv applies 0 V;
 *   5. slew: the applied voltage moves towards the target by at most slewMvPerTickMax per tick;
 *   6. saturation at ±supplyMvMax.
 * The safe state bypasses latency and slew: it must not depend on the path that led to it.
 *
 * Units: mV, ticks. Safe value: safeCommandMv (default 0 V) with the brake engaged.
 * Allocates nothing after construction.
 */
import { assert, fail } from '../core/assert.js';

/** The ring buffer is sized for this many ticks of latency, whatever the configuration. */
export const ACTUATOR_LATENCY_TICKS_MAX = 8;

export interface ActuatorConfig {
  /** Supply rail, mV (> 0): the most the drive can apply, and its own range check on commands. */
  readonly supplyMvMax: number;
  /** Largest change of the applied voltage in one tick, mV/tick (>= 1). */
  readonly slewMvPerTickMax: number;
  /** A target with |target| below this applies 0 V, mV (>= 0). */
  readonly deadbandMv: number;
  /** Ticks between receiving a command and applying it, 0..ACTUATOR_LATENCY_TICKS_MAX. */
  readonly latencyTicks: number;
  /** Consecutive ticks without an accepted command that trip the watchdog (>= 1). */
  readonly watchdogTicks: number;
  /** Voltage applied in the safe state, mV; 0 is the usual safe value. */
  readonly safeCommandMv: number;
}

/**
 * A small 12 V geared servo drive, updated once per control tick. Values are per tick, so the
 * same drive is physically faster at higher rates; these were chosen so the default loop
 * (DEFAULT_GAINS, DEFAULT_PLANT) behaves well at every rate from 50 to 2000 Hz:
 *   - slew: a full 0 → 12 V swing in one tick, a reversal in two. Slower slews cost phase at low
 *     rates (6000 mV/tick gives 36 % overshoot at 50 Hz); fault scenarios set their own.
 *   - latency 0: the command applies in the tick it arrives. The default gains also tolerate one
 *     tick at 100 Hz and above, but not at 50 Hz (a 20 ms delay), so 0 is the default.
 *   - deadband 50 mV: below the plant's 200 mV breakaway, so the integral can always move the load.
 *   - watchdog 5 ticks: five consecutive missing commands (2.5 ms at 2 kHz, 100 ms at 50 Hz).
 */
export const DEFAULT_ACTUATOR: ActuatorConfig = {
  supplyMvMax: 12_000,
  slewMvPerTickMax: 12_000,
  deadbandMv: 50,
  latencyTicks: 0,
  watchdogTicks: 5,
  safeCommandMv: 0,
};

/** Why the drive is in its safe state. */
export type ActuatorSafeReason = 'none' | 'watchdog' | 'commanded';

/** Returns null for a consistent configuration, otherwise what is wrong with it. */
export function actuatorConfigProblem(c: ActuatorConfig): string | null {
  if (!Number.isInteger(c.supplyMvMax) || c.supplyMvMax < 1 || c.supplyMvMax >= 1 << 15) return 'supplyMvMax must be an integer in [1, 32767]';
  if (!Number.isInteger(c.slewMvPerTickMax) || c.slewMvPerTickMax < 1) return 'slewMvPerTickMax must be an integer >= 1';
  if (!Number.isInteger(c.deadbandMv) || c.deadbandMv < 0 || c.deadbandMv > c.supplyMvMax) return 'deadbandMv must be an integer in [0, supplyMvMax]';
  if (!Number.isInteger(c.latencyTicks) || c.latencyTicks < 0 || c.latencyTicks > ACTUATOR_LATENCY_TICKS_MAX) {
    return `latencyTicks must be an integer in [0, ${ACTUATOR_LATENCY_TICKS_MAX}]`;
  }
  if (!Number.isInteger(c.watchdogTicks) || c.watchdogTicks < 1) return 'watchdogTicks must be an integer >= 1';
  if (!Number.isInteger(c.safeCommandMv) || Math.abs(c.safeCommandMv) > c.supplyMvMax) return 'safeCommandMv must be an integer within ±supplyMvMax';
  return null;
}

export class Actuator {
  readonly config: ActuatorConfig;
  /** Commands received, waiting out the latency; slot i is reused every latencyTicks ticks. */
  private readonly latencyRing = new Int32Array(ACTUATOR_LATENCY_TICKS_MAX);
  private latencyHead = 0;
  /** Last accepted command, mV: what the drive holds on a tick without a new one. */
  private heldCommandMv: number;
  private missedTicks = 0;
  private applied: number;
  private safe: ActuatorSafeReason = 'none';
  private trips = 0;
  private rejected = 0;
  private ignored = 0;

  constructor(config: ActuatorConfig = DEFAULT_ACTUATOR) {
    const problem = actuatorConfigProblem(config);
    if (!(problem === null)) fail(`actuator config: ${problem}`);
    this.config = config;
    this.heldCommandMv = config.safeCommandMv;
    this.latencyRing.fill(config.safeCommandMv);
    this.applied = config.safeCommandMv;
  }

  /** Voltage applied to the motor this tick, mV (integer, within ±supplyMvMax). */
  get appliedMv(): number { return this.applied; }
  /** True while the drive is in its safe state, for whatever reason. */
  get brakeEngaged(): boolean { return this.safe !== 'none'; }
  /** True while the watchdog's trip is latched (until rearm()). */
  get watchdogTripped(): boolean { return this.safe === 'watchdog'; }
  get safeReason(): ActuatorSafeReason { return this.safe; }
  /** Times the watchdog has tripped since construction. */
  get watchdogTrips(): number { return this.trips; }
  /** Commands refused by the range check (non-integer or beyond ±supplyMvMax). */
  get commandsRejected(): number { return this.rejected; }
  /** Valid commands that arrived while the safe state was latched. */
  get commandsIgnored(): number { return this.ignored; }

  /** Advance one tick. `command` is the voted command in mV, or null when none arrived. */
  tick(command: number | null): void {
    const c = this.config;
    let accepted = command !== null;
    if (command !== null && !(Number.isInteger(command) && Math.abs(command) <= c.supplyMvMax)) {
      this.rejected++;
      accepted = false;
    }
    if (this.safe !== 'none') {
      if (accepted) this.ignored++;
      this.applied = c.safeCommandMv;
      return;
    }
    if (accepted) {
      this.missedTicks = 0;
      this.heldCommandMv = command as number;
    } else {
      this.missedTicks++;
      if (this.missedTicks >= c.watchdogTicks) {
        this.trips++;
        this.latchSafe('watchdog');
        return;
      }
    }
    let targetMv = this.heldCommandMv;
    if (c.latencyTicks > 0) {
      const delayedMv = this.latencyRing[this.latencyHead] as number;
      this.latencyRing[this.latencyHead] = targetMv;
      this.latencyHead = (this.latencyHead + 1) % c.latencyTicks;
      targetMv = delayedMv;
    }
    if (Math.abs(targetMv) < c.deadbandMv) targetMv = 0;
    let next = targetMv;
    if (next > this.applied + c.slewMvPerTickMax) next = this.applied + c.slewMvPerTickMax;
    else if (next < this.applied - c.slewMvPerTickMax) next = this.applied - c.slewMvPerTickMax;
    if (next > c.supplyMvMax) next = c.supplyMvMax;
    else if (next < -c.supplyMvMax) next = -c.supplyMvMax;
    this.applied = next;
    assert(Number.isInteger(this.applied) && Math.abs(this.applied) <= c.supplyMvMax, 'applied voltage beyond the supply');
  }

  /**
   * Latch the safe state on request (the runtime does this when an assertion fails). Takes effect
   * immediately, not at the next tick; cleared only by rearm().
   */
  enterSafeState(): void {
    if (this.safe === 'none') this.latchSafe('commanded');
  }

  /**
   * Explicit re-enable after a latched safe state. Forgets every command received before it (the
   * latency ring is refilled with the safe command), so nothing stale is applied afterwards; the
   * next accepted command is applied after the usual latency, slewing from the safe voltage.
   */
  rearm(): void {
    const c = this.config;
    this.safe = 'none';
    this.missedTicks = 0;
    this.heldCommandMv = c.safeCommandMv;
    this.latencyRing.fill(c.safeCommandMv);
    this.latencyHead = 0;
  }

  private latchSafe(reason: Exclude<ActuatorSafeReason, 'none'>): void {
    this.safe = reason;
    this.applied = this.config.safeCommandMv;
  }
}
