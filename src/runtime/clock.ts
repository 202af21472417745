/**
 * The machine's Clock (the interface is src/core/clock.ts): performance.now(), Node's timers, the
 * precise waits of pacing.ts. A simulated clock (src/sim/sim-clock.ts) runs the same code in
 * simulated time, seeded and replayable.
 */
import type { Clock } from '../core/clock.js';
import { armDeadline, sleepUntil } from './pacing.js';

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
