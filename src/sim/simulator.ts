/**
 * The deterministic simulator: the real core, control law, plant and actuator, with in-process
 * replicas and simulated time. A run is a pure function of its options (seed included): no clock,
 * no I/O, no ambient randomness. Thousands of ticks run in milliseconds.
 */
import type { StepResult } from '../core/tmr-core.js';
import { faultParam, LoopModel, type LoopBench, type LoopOptions, type RunSummary } from '../runtime/loop-model.js';
import type { KillSwitch } from '../runtime/kill-switch.js';
import { SimReplica } from './sim-replica.js';

export interface SimulationHooks {
  /** Called after every tick with the model and the step's result (valid until the next tick). */
  readonly onTick?: (model: LoopModel, result: StepResult) => void;
  /** Stops the run when a trigger trips; its wall clock is simulated time here. */
  readonly killSwitch?: KillSwitch;
}

export function runSimulation(options: LoopOptions, hooks: SimulationHooks = {}, bench: LoopBench = {}): RunSummary {
  const model = new LoopModel(options, bench);
  const replicas = Array.from({ length: options.replicaCount }, (_, i) => new SimReplica(i, model.lawParams));
  // The one bounded loop over simulated time.
  for (let tick = 0; tick < options.ticks; tick++) {
    model.prepareTick(tick);
    for (const fault of model.faultsStartingAt(tick)) {
      replicas[fault.replicaIndex]!.arm(fault.kind, fault.durationTicks, faultParam(fault, options));
    }
    for (let i = 0; i < replicas.length; i++) {
      // Excluded replicas are isolated: the host no longer talks to them.
      if (model.core.status[i] === 'inService') replicas[i]!.tick(tick, model.setpointMilliDeg, model.positionMilliDeg, model.obs);
    }
    const result = model.completeTick(tick);
    hooks.onTick?.(model, result);
    const trip = hooks.killSwitch?.afterTick(result, (tick * 1000) / options.rateHz) ?? null;
    if (trip !== null) {
      model.halt(trip);
      break;
    }
  }
  return model.summary('sim');
}
