/**
 * The only way the real-time shell reads time and waits: the runner, its links, pacing, recovery,
 * the kill switch and a replica endpoint all take a Clock. REAL_CLOCK is the machine's
 * (performance.now(), Node's timers, the precise waits of pacing.ts); a simulated clock
 * (src/sim/sim-clock.ts) runs the same code in simulated time, seeded and replayable.
 */
import { armDeadline, sleepUntil } from './pacing.js';

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

export const REAL_CLOCK: Clock = {
  nowMs: () => performance.now(),
  setTimer: (delayMs, fn) => {
    const handle = setTimeout(fn, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(handle) };
  },
  setRepeating: (periodMs, fn) => {
    const handle = setInterval(fn, periodMs);
    return { cancel: () => clearInterval(handle) };
  },
  defer: (fn) => {
    const handle = setImmediate(fn);
    return { cancel: () => clearImmediate(handle) };
  },
  sleepUntil,
  armDeadline,
};
