/**
 * Driving a SimScheduler from a test: advance simulated time to a point, letting every event due
 * before it run (the driver is a main that only sleeps, as owner 'test').
 */
import type { SimRunLimits, SimScheduler } from '../../src/sim/sim-clock.js';

export function advanceTo(scheduler: SimScheduler, untilMs: number, limits: SimRunLimits): Promise<void> {
  return scheduler.run(() => scheduler.clockFor('test').sleepUntil(untilMs), limits);
}
