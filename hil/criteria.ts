/**
 * The scenario's pass/fail criteria, checked on the recording after the run. Each outcome says
 * what was measured, against which bound, at which tick, in one line.
 */
import type { RunSummary } from '../src/runtime/loop-model.js';
import { MODES } from '../src/core/degradation.js';
import { NONE, type Recording } from './recording.js';
import type { CriterionOutcome } from './result.js';
import type { Scenario, StepCriterion } from './scenario.js';

export interface Evidence {
  readonly scenario: Scenario;
  readonly recording: Recording;
  readonly summary: RunSummary;
  /** Ticks the voter ran (the whole run unless it died). */
  readonly loopTicks: number;
  /** Voted commands of the fault-free reference run (same seed, same bench), when asked for. */
  readonly reference: Int32Array | null;
}

function outcome(name: string, passed: boolean, measured: number | string, bound: number | string, tick: number | null, message: string): CriterionOutcome {
  return { name, passed, measured, bound, tick, message: `${name}: ${message}` };
}

const at = (tick: number | null): string => (tick === null ? '' : ` at tick ${tick}`);

export function evaluateCriteria(e: Evidence): CriterionOutcome[] {
  const c = e.scenario.criteria;
  const out: CriterionOutcome[] = [unsafeCommands(e)];
  if (c.trackingError !== null) out.push(trackingError(e, c.trackingError));
  c.steps.forEach((step, i) => out.push(...stepCriteria(e, step, `steps[${i}]`)));
  if (c.detectionLatencyTicksMax !== null) out.push(...detection(e, c.detectionLatencyTicksMax));
  for (const mode of c.modesMustReach) out.push(modeReached(e, mode, true));
  for (const mode of c.modesMustNotReach) out.push(modeReached(e, mode, false));
  if (c.votedIdenticalToFaultFree) out.push(identicalToReference(e));
  if (c.actuatorSafeWithinTicks !== null) out.push(actuatorSafe(e, c.actuatorSafeWithinTicks));
  if (c.readmissionsMin !== null) {
    const n = e.summary.recovery?.readmissions ?? 0;
    out.push(outcome('readmissionsMin', n >= c.readmissionsMin, n, c.readmissionsMin, null, `${n} re-admissions (at least ${c.readmissionsMin})`));
  }
  if (c.probationFailuresMin !== null) {
    const n = e.summary.recovery?.probationFailures ?? 0;
    out.push(outcome('probationFailuresMin', n >= c.probationFailuresMin, n, c.probationFailuresMin, null, `${n} replicas sent back out from probation (at least ${c.probationFailuresMin})`));
  }
  if (c.finalMode !== null) {
    const mode = e.summary.finalMode;
    out.push(outcome('finalMode', mode === c.finalMode, mode, c.finalMode, null, `the run ended in ${mode} (must end in ${c.finalMode})`));
  }
  if (c.deadlineMissesMax !== null) {
    const misses = e.summary.deadlineMisses;
    out.push(outcome('deadlineMissesMax', misses <= c.deadlineMissesMax, misses, c.deadlineMissesMax, null, `${misses} deadline misses (bound ${c.deadlineMissesMax})`));
  }
  return out;
}

function unsafeCommands(e: Evidence): CriterionOutcome {
  const n = e.summary.unsafeCommands;
  const bound = e.scenario.criteria.unsafeCommandsMax;
  return outcome('unsafeCommandsMax', n <= bound, n, bound, e.summary.firstUnsafeTick,
    n === 0 ? 'no command without a majority reached the actuator' : `${n} commands without a majority reached the actuator, the first${at(e.summary.firstUnsafeTick)} (bound ${bound})`);
}

function trackingError(e: Evidence, t: NonNullable<Scenario['criteria']['trackingError']>): CriterionOutcome {
  const r = e.recording;
  let worst = 0;
  let worstTick = t.fromTick;
  for (let tick = t.fromTick; tick <= t.toTick; tick++) {
    const error = Math.abs((r.setpointMilliDeg[tick] as number) - (r.truePositionMilliDeg[tick] as number));
    if (error > worst) {
      worst = error;
      worstTick = tick;
    }
  }
  const passed = worst <= t.maxAbsMilliDeg;
  const window = `ticks ${t.fromTick}..${t.toTick}`;
  return outcome('trackingError.maxAbsMilliDeg', passed, worst, t.maxAbsMilliDeg, worstTick,
    passed
      ? `worst |setpoint − position| ${worst} m° at tick ${worstTick} over ${window}, within ${t.maxAbsMilliDeg} m°`
      : `|setpoint − position| reached ${worst} m° at tick ${worstTick}, ${worst - t.maxAbsMilliDeg} m° over the bound ${t.maxAbsMilliDeg} m° (${window})`);
}

/** Overshoot and settling after a setpoint step, up to the next setpoint change. */
function stepCriteria(e: Evidence, step: StepCriterion, name: string): CriterionOutcome[] {
  const r = e.recording;
  const sp = r.setpointMilliDeg;
  const a = step.atTick;
  const target = sp[a] as number;
  const before = a > 0 ? (sp[a - 1] as number) : e.scenario.setpoint.initialMilliDeg;
  const size = target - before;
  if (size === 0) return [outcome(name, false, 'no step', `a setpoint step at tick ${a}`, a, `the setpoint does not change at tick ${a} (it is ${target} m° before and after)`)];
  let end = a + 1;
  while (end < r.ticksRecorded && sp[end] === target) end++;
  const out: CriterionOutcome[] = [];
  if (step.overshootPercentMax !== null) {
    let peak = 0;
    let peakTick = a;
    for (let t = a; t < end; t++) {
      const beyond = (((r.truePositionMilliDeg[t] as number) - target) * Math.sign(size));
      if (beyond > peak) {
        peak = beyond;
        peakTick = t;
      }
    }
    const percent = Math.round((peak / Math.abs(size)) * 1000) / 10;
    const passed = percent <= step.overshootPercentMax;
    out.push(outcome(`${name}.overshootPercentMax`, passed, percent, step.overshootPercentMax, peakTick,
      `${percent} % overshoot (${peak} m° past ${target} m°) at tick ${peakTick} after the ${size} m° step at tick ${a}; bound ${step.overshootPercentMax} %`));
  }
  if (step.settleBandMilliDeg !== null && step.settleWithinTicks !== null) {
    let lastOutside = -1;
    for (let t = a; t < end; t++) {
      if (Math.abs((r.truePositionMilliDeg[t] as number) - target) > step.settleBandMilliDeg) lastOutside = t;
    }
    const settledTick = lastOutside + 1;
    const never = lastOutside === end - 1;
    const took = settledTick - a;
    const passed = !never && took <= step.settleWithinTicks;
    const rate = e.scenario.rateHz;
    out.push(outcome(`${name}.settleWithinTicks`, passed, never ? 'never' : took, step.settleWithinTicks, never ? end - 1 : settledTick,
      never
        ? `never settled within ±${step.settleBandMilliDeg} m° of ${target} m° after the step at tick ${a} (still out at tick ${end - 1}); bound ${step.settleWithinTicks} ticks`
        : `settled within ±${step.settleBandMilliDeg} m° at tick ${settledTick}, ${took} ticks (${(took / rate).toFixed(3)} s) after the step at tick ${a}; bound ${step.settleWithinTicks} ticks`));
  }
  return out;
}

function detection(e: Evidence, bound: number): CriterionOutcome[] {
  return e.summary.faults.map((f, i) => {
    const name = `detectionLatencyTicksMax (faults[${i}] ${f.kind} → r${f.replica})`;
    if (f.detectionLatencyTicks === null) {
      return outcome(name, false, 'never', bound, f.injectedTick, `${f.kind} on replica ${f.replica} from tick ${f.injectedTick} was never detected (bound ${bound} ticks)`);
    }
    const passed = f.detectionLatencyTicks <= bound;
    return outcome(name, passed, f.detectionLatencyTicks, bound, f.detectedTick,
      `${f.kind} on replica ${f.replica} injected at tick ${f.injectedTick}, excluded at tick ${f.detectedTick} (${f.reason}), ${f.detectionLatencyTicks} ticks; bound ${bound}`);
  });
}

function modeReached(e: Evidence, mode: (typeof MODES)[number], must: boolean): CriterionOutcome {
  const code = MODES.indexOf(mode);
  const modes = e.recording.mode;
  let first = -1;
  for (let t = 0; t < e.recording.ticksRecorded && first < 0; t++) if (modes[t] === code) first = t;
  const reached = first >= 0;
  const name = must ? 'modesMustReach' : 'modesMustNotReach';
  const passed = reached === must;
  const measured = reached ? `reached at tick ${first}` : 'never reached';
  const message = must
    ? (reached ? `${mode} reached at tick ${first}` : `${mode} was never reached`)
    : (reached ? `${mode} was reached at tick ${first}, and must not be` : `${mode} never reached`);
  return outcome(`${name}[${mode}]`, passed, measured, must ? `reach ${mode}` : `never ${mode}`, reached ? first : null, message);
}

function identicalToReference(e: Evidence): CriterionOutcome {
  const name = 'votedIdenticalToFaultFree';
  const reference = e.reference;
  if (reference === null) return outcome(name, false, 'no reference', 'identical', null, 'the fault-free reference run is missing');
  const commands = e.recording.commandMv;
  let first = -1;
  let differing = 0;
  for (let t = 0; t < e.loopTicks; t++) {
    if (commands[t] !== reference[t]) {
      differing++;
      if (first < 0) first = t;
    }
  }
  if (first < 0) return outcome(name, true, 0, 0, null, `all ${e.loopTicks} voted commands equal the fault-free run's`);
  const got = commands[first] === NONE ? 'none' : `${commands[first]} mV`;
  return outcome(name, false, differing, 0, first, `${differing} of ${e.loopTicks} voted commands differ from the fault-free run; the first at tick ${first}: ${got} vs ${reference[first]} mV`);
}

function actuatorSafe(e: Evidence, bound: number): CriterionOutcome {
  const death = e.loopTicks;
  const r = e.recording;
  let safeTick = -1;
  for (let t = death; t < r.ticksRecorded && safeTick < 0; t++) if (r.brakeEngaged[t] === 1 && r.stopped[t] === 1) safeTick = t;
  const name = 'actuatorSafeWithinTicks';
  if (safeTick < 0) return outcome(name, false, 'never', bound, r.ticksRecorded - 1, `the actuator never reached its safe state (brake on, shaft stopped) after the voter died at tick ${death}`);
  const took = safeTick - death;
  return outcome(name, took <= bound, took, bound, safeTick,
    `after the voter died at tick ${death}, the actuator was safe (brake on, shaft stopped) at tick ${safeTick}, ${took} ticks; bound ${bound}`);
}
