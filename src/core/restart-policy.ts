/**
 * When to restart an excluded replica, and when to stop trying: restart intensity as in
 * Erlang/OTP's supervisors (at most restartsMax restarts in any window of restartWindowTicks, or
 * the replica is out for good), with a back-off that grows while a replica keeps failing soon
 * after it came back. Pure: decisions are a function of the ticks it is told about.
 *
 *   excluded while serving, after stableTicks or more in service  restart now (no back-off)
 *   excluded soon after re-admission (within stableTicks)         back-off doubles
 *   excluded on probation (the half-open breaker tripped)          back-off doubles twice
 *   the restart itself failed (did not start, did not answer)      back-off doubles
 *   restarts in the window would exceed restartsMax                retired: RESTART_LIMIT
 */
import { assert } from './assert.js';

export interface RestartPolicyConfig {
  /** Restarts allowed in any window of restartWindowTicks (R). */
  readonly restartsMax: number;
  /** The window (T), in ticks. */
  readonly restartWindowTicks: number;
  /** First non-zero back-off, in ticks; doubles with each quick failure. */
  readonly backoffTicksBase: number;
  readonly backoffTicksMax: number;
  /** Ticks in service after which a failure no longer counts as quick (the back-off resets). */
  readonly stableTicks: number;
}

export const RESTARTS_MAX_LIMIT = 100;
const QUICK_FAILURES_MAX = 16;

/** Why a replica is out for good. Verbatim in summaries and logs. */
export type RetireReason = 'RESTART_LIMIT' | 'NOT_RESTARTABLE' | 'HANDSHAKE_REFUSED';

/** What happens to a replica once it has been taken out. */
export type RestartDecision =
  | { readonly kind: 'restart'; readonly atTick: number; readonly backoffTicks: number }
  | { readonly kind: 'retire'; readonly reason: RetireReason; readonly detail: string };

/** How a replica came to be out this time. */
export type FailureContext = 'serving' | 'probation' | 'restartFailed';

export interface ReplicaRestartState {
  /** Ring of the ticks of the last restartsMax restarts. */
  readonly restartTicks: Int32Array;
  restartCount: number;
  quickFailures: number;
  /** Tick of the last re-admission, or -1. */
  admittedTick: number;
  retired: RetireReason | null;
}

export function checkRestartPolicy(config: RestartPolicyConfig): void {
  assert(Number.isInteger(config.restartsMax) && config.restartsMax >= 1 && config.restartsMax <= RESTARTS_MAX_LIMIT, 'restartsMax out of range');
  assert(Number.isInteger(config.restartWindowTicks) && config.restartWindowTicks >= 1, 'restartWindowTicks out of range');
  assert(Number.isInteger(config.backoffTicksBase) && config.backoffTicksBase >= 1, 'backoffTicksBase out of range');
  assert(Number.isInteger(config.backoffTicksMax) && config.backoffTicksMax >= config.backoffTicksBase, 'backoffTicksMax below backoffTicksBase');
  assert(Number.isInteger(config.stableTicks) && config.stableTicks >= 1, 'stableTicks out of range');
}

export function createRestartState(config: RestartPolicyConfig): ReplicaRestartState {
  checkRestartPolicy(config);
  return { restartTicks: new Int32Array(config.restartsMax).fill(-1), restartCount: 0, quickFailures: 0, admittedTick: -1, retired: null };
}

/** Restarts within the window that ends at `tick` (the window holds ticks > tick - restartWindowTicks). */
export function restartsInWindow(state: ReplicaRestartState, config: RestartPolicyConfig, tick: number): number {
  let count = 0;
  for (const at of state.restartTicks) if (at >= 0 && at > tick - config.restartWindowTicks) count++;
  return count;
}

export function backoffTicksFor(config: RestartPolicyConfig, quickFailures: number): number {
  if (quickFailures === 0) return 0;
  const doublings = Math.min(quickFailures - 1, 30);
  return Math.min(config.backoffTicksMax, config.backoffTicksBase * 2 ** doublings);
}

/** A replica was taken out at `tick`: restart it (when), or retire it. Records the restart. */
export function decideRestart(state: ReplicaRestartState, config: RestartPolicyConfig, tick: number, context: FailureContext): RestartDecision {
  assert(state.retired === null, 'restart decided for a retired replica');
  const quick = context !== 'serving' || (state.admittedTick >= 0 && tick - state.admittedTick < config.stableTicks);
  if (!quick) state.quickFailures = 0;
  else state.quickFailures = Math.min(QUICK_FAILURES_MAX, state.quickFailures + (context === 'probation' ? 2 : 1));
  const recent = restartsInWindow(state, config, tick);
  if (recent >= config.restartsMax) {
    state.retired = 'RESTART_LIMIT';
    return {
      kind: 'retire',
      reason: 'RESTART_LIMIT',
      detail: `${recent} restarts within ${config.restartWindowTicks} ticks (the limit is ${config.restartsMax}); failed again at tick ${tick} (${context})`,
    };
  }
  const backoffTicks = backoffTicksFor(config, state.quickFailures);
  state.restartTicks[state.restartCount % config.restartsMax] = tick;
  state.restartCount++;
  return { kind: 'restart', atTick: tick + backoffTicks, backoffTicks };
}

export function noteReadmitted(state: ReplicaRestartState, tick: number): void {
  state.admittedTick = tick;
}

export function retire(state: ReplicaRestartState, reason: RetireReason): void {
  state.retired = reason;
}
