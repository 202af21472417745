/**
 * The ranges of the recovery settings, in one place for every way a person sets them (flags,
 * config files, HIL scenarios), taken from the constants of the code that asserts on them: a value
 * accepted here never trips an assertion in the restart policy or the probation bookkeeping.
 */
import { RESTARTS_MAX_LIMIT } from '../core/restart-policy.js';
import { PROBATION_TICKS_MAX } from '../core/tmr-core.js';

/** Longest restart window, back-off or simulated restart accepted, ms (an hour). */
export const RECOVERY_MS_MAX = 3_600_000;

export const RECOVERY_LIMITS = {
  probationTicks: { min: 1, max: PROBATION_TICKS_MAX },
  restartsMax: { min: 1, max: RESTARTS_MAX_LIMIT },
  /** Below one tick a window holds no restart: the minimum is one tick at the run's rate (see windowMsMin). */
  restartWindowMs: { min: 1, max: RECOVERY_MS_MAX },
  backoffMsBase: { min: 1, max: RECOVERY_MS_MAX },
  backoffMsMax: { min: 1, max: RECOVERY_MS_MAX },
  simRestartMs: { min: 1, max: RECOVERY_MS_MAX },
} as const;

/** The shortest restart window at a tick rate: one tick. */
export function restartWindowMsMin(rateHz: number): number {
  return Math.ceil(1000 / rateHz);
}
