/**
 * The scenario's pass/fail criteria, checked on the recording after the run, for any law and
 * plant. Each outcome says what was measured, against which bound, at which tick, in one line.
 * Tracking criteria are in the plant's tracking unit, on its tracking pair (RunSummary.tracking):
 * the setpoint input against the measured input, except on the motor, where they measure the
 * shaft's true position (not the noisy reading) in m°.
 */
import { assert } from '../src/core/assert.js';
import type { RunSummary } from '../src/loop/loop-model.js';
import { MODES } from '../src/core/degradation.js';
import { NONE, type Recording } from './recording.js';
import type { CriterionOutcome } from './result.js';
import type { FinalCommand, Scenario, StepCriterion } from './scenario.js';

export interface Evidence {
  readonly scenario: Scenario;
  readonly recording: Recording;
  readonly summary: RunSummary;
  /** Ticks the voter ran (the whole run unless it died). */
  readonly loopTicks: number;
  /**
   * Commands of the fault-free reference run (same seed, same bench), when asked for: tick-major,
   * every output channel of a tick together (index tick · outputCount + channel).
   */
  readonly reference: Int32Array | null;
}

/** The plant's tracking pair as recorded, and how messages name it. */
interface TrackingView {
  readonly setpoint: Int32Array;
  readonly measured: Int32Array;
  readonly setpointLabel: string;
  readonly measuredLabel: string;
  readonly unit: string;
}

function trackingView(e: Evidence): TrackingView {
  const r = e.recording;
  const tracking = e.summary.tracking;
  const names = e.scenario.law.definition.inputs.map((c) => c.name);
  const setpoint = r.inputs[names.indexOf(tracking.setpoint)];
  assert(setpoint !== undefined, `the tracking setpoint ${tracking.setpoint} is not an input channel`);
  if (r.motor !== null) return { setpoint, measured: r.motor.truePositionMilliDeg, setpointLabel: 'setpoint', measuredLabel: 'position', unit: 'm°' };
  const measured = r.inputs[names.indexOf(tracking.measured)];
  assert(measured !== undefined, `the tracking measurement ${tracking.measured} is not an input channel`);
  return { setpoint, measured, setpointLabel: tracking.setpoint, measuredLabel: tracking.measured, unit: tracking.unit };
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
  if (c.finalCommands !== null) out.push(finalCommands(e, c.finalCommands));
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
  const v = trackingView(e);
  let worst = 0;
  let worstTick = t.fromTick;
  for (let tick = t.fromTick; tick <= t.toTick; tick++) {
    const error = Math.abs((v.setpoint[tick] as number) - (v.measured[tick] as number));
    if (error > worst) {
      worst = error;
      worstTick = tick;
    }
  }
  const passed = worst <= t.maxAbs;
  const window = `ticks ${t.fromTick}..${t.toTick}`;
  const pair = `|${v.setpointLabel} − ${v.measuredLabel}|`;
  return outcome(`trackingError.${t.field}`, passed, worst, t.maxAbs, worstTick,
    passed
      ? `worst ${pair} ${worst} ${v.unit} at tick ${worstTick} over ${window}, within ${t.maxAbs} ${v.unit}`
      : `${pair} reached ${worst} ${v.unit} at tick ${worstTick}, ${worst - t.maxAbs} ${v.unit} over the bound ${t.maxAbs} ${v.unit} (${window})`);
}

/** Overshoot and settling after a setpoint step, up to the next setpoint change. */
function stepCriteria(e: Evidence, step: StepCriterion, name: string): CriterionOutcome[] {
  const r = e.recording;
  const v = trackingView(e);
  const sp = v.setpoint;
  const u = v.unit;
  const a = step.atTick;
  const target = sp[a] as number;
  const before = a > 0 ? (sp[a - 1] as number) : (e.scenario.motor?.setpoint.initialMilliDeg ?? target);
  const size = target - before;
  if (size === 0) return [outcome(name, false, 'no step', `a setpoint step at tick ${a}`, a, `the setpoint does not change at tick ${a} (it is ${target} ${u} before and after)`)];
  let end = a + 1;
  while (end < r.ticksRecorded && sp[end] === target) end++;
  const out: CriterionOutcome[] = [];
  if (step.overshootPercentMax !== null) {
    let peak = 0;
    let peakTick = a;
    for (let t = a; t < end; t++) {
      const beyond = (((v.measured[t] as number) - target) * Math.sign(size));
      if (beyond > peak) {
        peak = beyond;
        peakTick = t;
      }
    }
    const percent = Math.round((peak / Math.abs(size)) * 1000) / 10;
    const passed = percent <= step.overshootPercentMax;
    out.push(outcome(`${name}.overshootPercentMax`, passed, percent, step.overshootPercentMax, peakTick,
      `${percent} % overshoot (${peak} ${u} past ${target} ${u}) at tick ${peakTick} after the ${size} ${u} step at tick ${a}; bound ${step.overshootPercentMax} %`));
  }
  if (step.settleBand !== null && step.settleWithinTicks !== null) {
    let lastOutside = -1;
    for (let t = a; t < end; t++) {
      if (Math.abs((v.measured[t] as number) - target) > step.settleBand) lastOutside = t;
    }
    const settledTick = lastOutside + 1;
    const never = lastOutside === end - 1;
    const took = settledTick - a;
    const passed = !never && took <= step.settleWithinTicks;
    const rate = e.scenario.rateHz;
    out.push(outcome(`${name}.settleWithinTicks`, passed, never ? 'never' : took, step.settleWithinTicks, never ? end - 1 : settledTick,
      never
        ? `never settled within ±${step.settleBand} ${u} of ${target} ${u} after the step at tick ${a} (still out at tick ${end - 1}); bound ${step.settleWithinTicks} ticks`
        : `settled within ±${step.settleBand} ${u} at tick ${settledTick}, ${took} ticks (${(took / rate).toFixed(3)} s) after the step at tick ${a}; bound ${step.settleWithinTicks} ticks`));
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
  const channels = e.recording.commands;
  const width = channels.length;
  assert(reference.length === e.loopTicks * width, 'the reference holds every channel of every tick the voter ran');
  let first = -1;
  let firstChannel = 0;
  let differing = 0;
  for (let t = 0; t < e.loopTicks; t++) {
    for (let c = 0; c < width; c++) {
      if ((channels[c] as Int32Array)[t] === reference[t * width + c]) continue;
      differing++;
      if (first < 0) [first, firstChannel] = [t, c];
      break;
    }
  }
  if (first < 0) return outcome(name, true, 0, 0, null, `all ${e.loopTicks} voted commands equal the fault-free run's`);
  const channel = e.scenario.law.definition.outputs[firstChannel]!;
  const value = (channels[firstChannel] as Int32Array)[first] as number;
  const got = value === NONE ? 'none' : `${value}`;
  return outcome(name, false, differing, 0, first,
    `${differing} of ${e.loopTicks} voted commands differ from the fault-free run; the first at tick ${first}: ${channel.name} ${got} vs ${reference[first * width + firstChannel]} ${channel.unit}`);
}

function actuatorSafe(e: Evidence, bound: number): CriterionOutcome {
  const death = e.loopTicks;
  const r = e.recording;
  const m = r.motor;
  assert(m !== null, 'actuatorSafeWithinTicks is a motor criterion (the scenario refuses it elsewhere)');
  let safeTick = -1;
  for (let t = death; t < r.ticksRecorded && safeTick < 0; t++) if (m.brakeEngaged[t] === 1 && m.stopped[t] === 1) safeTick = t;
  const name = 'actuatorSafeWithinTicks';
  if (safeTick < 0) return outcome(name, false, 'never', bound, r.ticksRecorded - 1, `the actuator never reached its safe state (brake on, shaft stopped) after the voter died at tick ${death}`);
  const took = safeTick - death;
  return outcome(name, took <= bound, took, bound, safeTick,
    `after the voter died at tick ${death}, the actuator was safe (brake on, shaft stopped) at tick ${safeTick}, ${took} ticks; bound ${bound}`);
}

/** The commands the voter sent on the last tick it ran, channel by channel. */
function finalCommands(e: Evidence, expected: readonly FinalCommand[]): CriterionOutcome {
  const name = 'finalCommands';
  const want = expected.map((f) => `${f.name} ${f.value}`).join(', ');
  const last = e.summary.ticks - 1;
  if (last < 0) return outcome(name, false, 'no tick', want, null, 'the voter ran no tick');
  const got = expected.map((f) => ({ ...f, sent: (e.recording.commands[f.channelIndex] as Int32Array)[last] as number }));
  const show = (v: number): string => (v === NONE ? 'none' : String(v));
  const measured = got.map((g) => `${g.name} ${show(g.sent)}`).join(', ');
  const wrong = got.filter((g) => g.sent !== g.value);
  return outcome(name, wrong.length === 0, measured, want, last,
    wrong.length === 0
      ? `the last command, at tick ${last}: ${measured}`
      : `the last command, at tick ${last}, was ${measured}; must be ${want} (${wrong.map((g) => g.name).join(', ')} differ)`);
}
