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
import type { IoEvidence } from './io-run.js';
import type { FinalCommand, InputFaultCriterion, Scenario, StepCriterion } from './scenario.js';

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
  /** Real I/O's evidence (input events, the board's actions and last words); null without io. */
  readonly io?: IoEvidence | null;
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
  if (c.inputFault !== null) out.push(inputFault(e, c.inputFault));
  if (c.killSwitch !== null) out.push(killSwitch(e, c.killSwitch));
  if (c.boardSafeAtEnd) out.push(boardSafeAtEnd(e));
  if (c.boardLostWithinTicks !== null) out.push(boardLost(e, c.boardLostWithinTicks));
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
  const name = `trackingError.${t.field}`;
  // A run the kill switch stopped early (real I/O) is judged on the ticks it ran.
  const lastTick = Math.min(t.toTick, e.recording.ticksRecorded - 1);
  if (lastTick < t.fromTick) {
    return outcome(name, false, 'no ticks', t.maxAbs, null, `the run ended after tick ${e.recording.ticksRecorded - 1}, before the window (ticks ${t.fromTick}..${t.toTick})`);
  }
  let worst = 0;
  let worstTick = t.fromTick;
  for (let tick = t.fromTick; tick <= lastTick; tick++) {
    const error = Math.abs((v.setpoint[tick] as number) - (v.measured[tick] as number));
    if (error > worst) {
      worst = error;
      worstTick = tick;
    }
  }
  const passed = worst <= t.maxAbs;
  const window = `ticks ${t.fromTick}..${lastTick}${lastTick < t.toTick ? ` (the run ended there; the window was to ${t.toTick})` : ''}`;
  const pair = `|${v.setpointLabel} − ${v.measuredLabel}|`;
  return outcome(name, passed, worst, t.maxAbs, worstTick,
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
  if (a >= r.ticksRecorded) return [outcome(name, false, 'no step', `a setpoint step at tick ${a}`, null, `the run ended after tick ${r.ticksRecorded - 1}, before the step at tick ${a}`)];
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

/**
 * The input fault the run must end on: the kill switch's INPUT_FAULT, its hold run out on this
 * channel for this reason, no sooner than the cause (else the sensor went bad on its own: a stalled
 * board or host) and no later than safeWithinTicks after it; and the loop commanded from the held
 * value no longer than the map's policy. "Safe before tick S": the loop halted as it sensed tick S
 * and sent every actuator its safe value, so S − cause is how long the fault could act.
 */
function inputFault(e: Evidence, c: InputFaultCriterion): CriterionOutcome {
  const name = `inputFault (${c.channel} ${c.reason})`;
  const io = e.io ?? null;
  assert(io !== null, 'inputFault is an io criterion (the scenario refuses it elsewhere)');
  const limit = c.causeTick + c.safeWithinTicks;
  const bound = `safe by tick ${limit}`;
  const cause = `${c.cause} at tick ${c.causeTick}`;
  const trip = e.summary.killSwitch;
  const expired = io.inputEvents.find((ev) => ev.kind === 'inputHoldExpired');
  const seen = io.inputEvents.find((ev) => ev.kind === 'inputFault' && ev.channel === c.channelIndex && ev.reason === c.reason && ev.tick >= c.causeTick);
  const seenText = seen === undefined ? `the loop never saw ${c.channel} ${c.reason} after it` : `the loop saw ${c.channel} ${c.reason} at tick ${seen.tick}`;
  if (trip === null || trip.trigger !== 'INPUT_FAULT' || expired === undefined || expired.kind !== 'inputHoldExpired') {
    const how = trip === null ? `the run ran to its end (tick ${e.summary.ticks - 1}) without going safe` : `the kill switch tripped ${trip.trigger} after tick ${trip.tick}, not INPUT_FAULT`;
    return outcome(name, false, 'no INPUT_FAULT', bound, trip?.tick ?? null, `${cause}; ${seenText}; ${how}`);
  }
  const inputs = e.scenario.law.definition.inputs;
  if (expired.channel !== c.channelIndex || expired.reason !== c.reason) {
    return outcome(name, false, `${inputs[expired.channel]!.name} ${expired.reason}`, bound, expired.tick,
      `the loop went safe before tick ${expired.tick} on ${inputs[expired.channel]!.name} ${expired.reason}, not on ${c.channel} ${c.reason} (${cause})`);
  }
  const safeTick = e.summary.ticks;
  if (safeTick < c.causeTick) {
    return outcome(name, false, `safe before tick ${safeTick}`, bound, expired.tick,
      `the loop went safe before tick ${safeTick}, before the ${cause}: ${c.channel} went ${c.reason} on its own (a stalled board or host; sample age max ${io.summary?.sampleAgeMs.max ?? '?'} ms)`);
  }
  const took = safeTick - c.causeTick;
  const passed = took <= c.safeWithinTicks && expired.heldTicks <= c.holdTicks;
  return outcome(name, passed, took, c.safeWithinTicks, safeTick,
    `${cause}; ${seenText}, held its last good value ${expired.heldTicks} ticks (policy ${c.holdTicks}) and went safe before tick ${safeTick} (kill switch INPUT_FAULT): ${took} ticks after the cause; bound ${c.safeWithinTicks}`);
}

function killSwitch(e: Evidence, want: 'none' | 'INPUT_FAULT'): CriterionOutcome {
  const trip = e.summary.killSwitch;
  const got = trip === null ? 'none' : trip.trigger;
  const what = trip === null ? `the kill switch never tripped (the run ran to tick ${e.summary.ticks - 1})` : `the kill switch tripped ${trip.trigger} after tick ${trip.tick}: ${trip.detail}`;
  return outcome('killSwitch', got === want, got, want, trip?.tick ?? null, `${what}${got === want ? '' : `; must be ${want}`}`);
}

/** The board's outputs after the loop stopped, read back from the board: every channel it drives at the law's safe value. */
function boardSafeAtEnd(e: Evidence): CriterionOutcome {
  const name = 'boardSafeAtEnd';
  const io = e.io ?? null;
  assert(io !== null, 'boardSafeAtEnd is an io criterion (the scenario refuses it elsewhere)');
  const status = io.board.status;
  if (status === null) return outcome(name, false, 'no status', 'safe', null, 'the board printed no status when it was stopped');
  const driven = e.scenario.law.definition.outputs.filter((c) => status.commands[c.name] !== null && status.commands[c.name] !== undefined);
  const shown = driven.map((c) => `${c.name} ${status.commands[c.name]} (safe ${c.safe})`).join(', ');
  const unsafe = driven.filter((c) => status.commands[c.name] !== c.safe);
  const trip = io.board.watchdogTrip;
  const deadMan = trip === null ? 'its dead-man never tripped' : `its dead-man tripped at board tick ${trip.boardTick}, ${trip.msWithoutHeartbeat} ms without a heartbeat`;
  if (driven.length === 0) return outcome(name, false, 'nothing driven', 'safe', null, `the board reports no output the host ever drove; ${deadMan}`);
  return outcome(name, unsafe.length === 0, shown, 'safe', null,
    `after the loop stopped the board's outputs were ${shown}; ${deadMan}${unsafe.length === 0 ? '' : ` (${unsafe.map((c) => c.name).join(', ')} not safe)`}`);
}

/** The host saw the vanished board's port go: before which tick, how long after the vanishing. */
function boardLost(e: Evidence, bound: number): CriterionOutcome {
  const name = 'boardLostWithinTicks';
  const io = e.io ?? null;
  const vanishTick = e.scenario.io?.boardVanishTick ?? null;
  assert(io !== null && vanishTick !== null, 'boardLostWithinTicks needs io and a vanishing (the scenario refuses it elsewhere)');
  const lost = io.summary?.boardLost ?? null;
  if (lost === null) return outcome(name, false, 'never', bound, null, `the board vanished before tick ${vanishTick}; the host never saw its port go`);
  // The world notes the last tick it sensed: the loss came after that tick's inputs were read.
  const seenBefore = lost.tick + 1;
  const took = seenBefore - vanishTick;
  return outcome(name, took >= 0 && took <= bound, took, bound, seenBefore,
    `the board vanished before tick ${vanishTick}; the host saw its port go (${lost.detail}) before tick ${seenBefore}: ${took} ticks; bound ${bound}`);
}
