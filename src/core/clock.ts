/**
 * The only way the real-time shell reads time and waits (types only): the runner, its replica
 * links, real-time recovery and a replica endpoint take a Clock. REAL_CLOCK (src/runtime/clock.ts)
 * is the machine's; src/sim/sim-clock.ts runs the same code in simulated time.
 */
export interface Timer {
  /** Stops it: its callback will not be called (again). */
  cancel(): void;
}

export interface Clock {
  /** Monotonic time, ms (fractional). */
  nowMs(): number;
  /** Calls `fn` once, `delayMs` from now (at the earliest). */
  setTimer(delayMs: number, fn: () => void): Timer;
  /** Calls `fn` every `periodMs` until cancelled. */
  setRepeating(periodMs: number, fn: () => void): Timer;
  /** Calls `fn` on a later turn of the event loop, after I/O that is already due. */
  defer(fn: () => void): Timer;
  /** Resolves at `atMs`, never before; at once if it has passed. */
  sleepUntil(atMs: number): Promise<void>;
  /**
   * Calls `onExpired` once `atMs` has passed and I/O due by then has been delivered, unless
   * cancelled first; I/O keeps being served meanwhile.
   */
  armDeadline(atMs: number, onExpired: () => void): Timer;
}
