/**
 * The deterministic simulator: the real core, control law, plant and actuator, with in-process
 * replicas and simulated time. A run is a pure function of its options (seed included): no clock,
 * no I/O, no ambient randomness. Thousands of ticks run in milliseconds.
 */
import { assert } from '../core/assert.js';
import type { StepResult } from '../core/tmr-core.js';
import { stateFitForTransfer, ticksForMs } from '../loop/recovery.js';
import { faultParam, LoopModel, type LoopBench, type LoopOptions, type RunSummary } from '../loop/loop-model.js';
import type { KillSwitch } from '../loop/kill-switch.js';
import { SimReplica } from './sim-replica.js';

export interface SimulationHooks {
  /** Called after every tick with the model and the step's result (valid until the next tick). */
  readonly onTick?: (model: LoopModel, result: StepResult) => void;
  /** Stops the run when a trigger trips; its wall clock is simulated time here. */
  readonly killSwitch?: KillSwitch;
  /** Once aborted, no further tick is run (the library's stop(), as the real-time runner's signal); the summary counts the ticks run. */
  readonly signal?: AbortSignal;
}

export function runSimulation(options: LoopOptions, hooks: SimulationHooks = {}, bench: LoopBench = {}): RunSummary {
  const model = new LoopModel(options, bench);
  const replicas = Array.from({ length: options.replicaCount }, (_, i) => new SimReplica(i, model.law, model.lawParams));
  // A restart takes simulated time (process start, handshake): the replica is ready this many ticks later.
  const restartTicks = ticksForMs(options.recovery.simRestartMs, options.rateHz);
  const readyAtTick = new Int32Array(options.replicaCount).fill(-1);
  let previous: StepResult | null = null;
  // The one bounded loop over simulated time.
  for (let tick = 0; tick < options.ticks; tick++) {
    if (hooks.signal?.aborted === true) break;
    model.prepareTick(tick);
    if (model.inputTrip !== null) {
      model.halt(model.inputTrip);
      break;
    }
    if (previous !== null) resynchronise(model, replicas, previous, tick);
    for (const fault of model.faultsStartingAt(tick)) {
      replicas[fault.replicaIndex]!.arm(fault.kind, fault.durationTicks, faultParam(fault, options));
    }
    const stall = model.stallStartingAt(tick);
    if (stall !== null) for (const replica of replicas) replica.stall(tick + stall.durationTicks);
    for (let i = 0; i < replicas.length; i++) {
      // Excluded replicas are isolated: the host no longer talks to them.
      if (model.core.status[i] !== 'excluded' || model.obs.probationStart[i] === 1 || model.obs.coldStart[i] === 1) replicas[i]!.tick(tick, model.inputs, model.obs);
    }
    // The real-time host's quorum grace: without a quorum at the deadline it waits for late replies
    // (not during a common-mode episode, when the majority is stalled).
    if (!model.quorumAnswered() && !model.core.commonMode.active) for (const replica of replicas) replica.deliverInGrace(tick, model.obs);
    const result = model.completeTick(tick);
    if (model.recovery !== null) {
      for (const i of model.recovery.afterTick(result)) readyAtTick[i] = tick + restartTicks;
      for (let i = 0; i < replicas.length; i++) {
        if (readyAtTick[i] !== tick) continue;
        // A new process: fresh controller, no faults, handshaken with the run's law parameters.
        replicas[i] = new SimReplica(i, model.law, model.lawParams);
        model.recovery.restarted(i, tick, { ok: true });
        readyAtTick[i] = -1;
      }
    }
    previous = result;
    hooks.onTick?.(model, result);
    const trip = hooks.killSwitch?.afterTick(result, (tick * 1000) / options.rateHz) ?? null;
    if (trip !== null) {
      model.halt(trip);
      break;
    }
  }
  return model.summary('sim');
}

/**
 * At the boundary before `tick`: gives a ready replica the state of a replica that agreed with
 * the majority at the previous tick, checked against the digest the majority voted, and puts it
 * on probation from this tick.
 */
function resynchronise(model: LoopModel, replicas: SimReplica[], previous: StepResult, tick: number): void {
  const cold = model.recovery?.coldStartCandidates() ?? [];
  if (cold.length > 0) {
    // Restarted replicas hold the law's initial state (a new SimReplica, handshaken).
    for (const i of cold) model.obs.coldStart[i] = 1;
    model.recovery!.coldStartBegins(cold, tick);
    return;
  }
  const candidate = model.recovery?.transferCandidate(previous) ?? null;
  if (candidate === null) return;
  const snapshot = replicas[candidate.donor]!.logic.snapshot();
  if (!stateFitForTransfer(snapshot, tick, previous.votedDigest)) {
    model.recovery!.transferRefused();
    return;
  }
  const refused = replicas[candidate.replica]!.logic.applyState(snapshot);
  assert(refused === null, `simulated replica ${candidate.replica} refused a state its donor produced`);
  model.recovery!.probationBegins(candidate.replica, tick);
  model.obs.probationStart[candidate.replica] = 1;
}
