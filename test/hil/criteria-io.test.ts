/**
 * The criteria of real I/O (inputFault, killSwitch, boardSafeAtEnd, boardLostWithinTicks) and the
 * tracking window of a run the kill switch stopped early, judged on made-up evidence: each one
 * passes on the run it describes and fails, saying why, on the runs it must not pass.
 */
import { describe, expect, it } from 'vitest';
import { evaluateCriteria } from '../../hil/criteria.js';
import type { IoEvidence } from '../../hil/io-run.js';
import { Recording } from '../../hil/recording.js';
import type { CriterionOutcome } from '../../hil/result.js';
import { parseScenario, type Scenario } from '../../hil/scenario.js';
import type { KillSwitchTrip } from '../../src/loop/kill-switch.js';
import type { RunSummary } from '../../src/loop/loop-model.js';
import type { InputEvent, IoSummary } from '../../src/loop/world.js';

/** A stale A0 at tick 100 on the motor at 100 Hz; the board vanishes at tick 150 in `vanishing`. */
function scenario(criteria: Record<string, unknown>, io: Record<string, unknown> = { sensorFaults: [{ pin: 'A0', fault: 'stale', atTick: 100 }] }): Scenario {
  const value = { name: 'io', description: 'made-up evidence', replicas: ['node', 'node', 'node'], rateHz: 100, durationTicks: 300, io: { kind: 'firmata-sim', ...io }, criteria };
  return parseScenario(JSON.stringify(value), 'io.json');
}

const STALE = { inputFault: { reason: 'SENSOR_STALE', channel: 'positionMilliDeg', safeWithinTicks: 13 } };

function ioSummary(boardLost: IoSummary['boardLost'] = null): IoSummary {
  return {
    description: 'firmata:/dev/pts/9@57600',
    sensorSamples: 200,
    actuatorWrites: 100,
    heartbeatEdges: 110,
    sampleAgeMs: { p50: 3, p99: 100, max: 110 },
    inputFaultTicks: { SENSOR_STALE: 6, SENSOR_OUT_OF_RANGE: 0 },
    inputs: [],
    outputs: [],
    boardLost,
  };
}

interface Made {
  readonly ticks: number;
  readonly trip?: KillSwitchTrip | null;
  readonly events?: readonly InputEvent[];
  readonly boardCommands?: Record<string, number | null> | null;
  readonly boardLost?: IoSummary['boardLost'];
}

/** A run of `ticks` ticks on a steady setpoint with the position 100 m° off, and the io evidence given. */
function judge(s: Scenario, made: Made): CriterionOutcome[] {
  const recording = new Recording(s.ticks, 3, s.law.inputCount, s.law.outputCount, false);
  for (let t = 0; t < made.ticks; t++) {
    recording.recordInputs(t, Int32Array.of(1000, 900));
    recording.recordCommands(t, Int32Array.of(0, 0));
    recording.mode[t] = 0;
  }
  recording.ticksRecorded = made.ticks;
  const summary = {
    ticks: made.ticks,
    unsafeCommands: 0,
    firstUnsafeTick: null,
    faults: [],
    finalMode: 'tmr',
    deadlineMisses: 0,
    recovery: null,
    tracking: { ...s.plant.tracking, maxAbsError: 100, finalError: 100 },
    killSwitch: made.trip ?? null,
  } as unknown as RunSummary;
  const io: IoEvidence = {
    description: 'firmata:/dev/pts/9@57600 ← simulated Firmata motor board (pid 1)',
    summary: ioSummary(made.boardLost ?? null),
    inputEvents: made.events ?? [],
    inputEventsDropped: 0,
    actions: [],
    board: {
      watchdogTrip: null,
      status: made.boardCommands === null ? null : { commands: made.boardCommands ?? { commandMv: 0, rateMilliDegPerTick: null }, watchdogTrips: 1 },
    },
  };
  return evaluateCriteria({ scenario: s, recording, summary, loopTicks: s.ticks, reference: null, io });
}

function only(outcomes: CriterionOutcome[], prefix: string): CriterionOutcome {
  const found = outcomes.filter((c) => c.name.startsWith(prefix));
  expect(found).toHaveLength(1);
  return found[0]!;
}

const trip = (tick: number): KillSwitchTrip => ({ trigger: 'INPUT_FAULT', tick: tick - 1, detail: `SENSOR_STALE on input positionMilliDeg at tick ${tick}` });
const stale = (from: number, expiredAt: number, channel = 1): InputEvent[] => [
  { kind: 'inputFault', channel, reason: 'SENSOR_STALE', tick: from, detail: 'analog pin A0: last reading 6 ticks old (stale after 5)' },
  { kind: 'inputHoldExpired', channel, reason: 'SENSOR_STALE', tick: expiredAt, heldTicks: expiredAt - from },
];

describe('inputFault', () => {
  it('passes when the loop went safe on that input within the bound of its cause, and says when it saw it and how long it held', () => {
    const c = only(judge(scenario(STALE), { ticks: 110, trip: trip(110), events: stale(105, 110) }), 'inputFault');
    expect(c).toMatchObject({ name: 'inputFault (positionMilliDeg SENSOR_STALE)', passed: true, measured: 10, bound: 13, tick: 110 });
    expect(c.message).toBe(
      'inputFault (positionMilliDeg SENSOR_STALE): stale on pin A0 at tick 100; the loop saw positionMilliDeg SENSOR_STALE at tick 105, held its last good value 5 ticks (policy 5) and went safe before tick 110 (kill switch INPUT_FAULT): 10 ticks after the cause; bound 13',
    );
  });

  it('fails when it went safe too late', () => {
    const c = only(judge(scenario(STALE), { ticks: 114, trip: trip(114), events: stale(109, 114) }), 'inputFault');
    expect(c).toMatchObject({ passed: false, measured: 14, bound: 13 });
  });

  it('fails when it held the stale value longer than its policy', () => {
    const c = only(judge(scenario(STALE), { ticks: 112, trip: trip(112), events: stale(105, 112) }), 'inputFault');
    expect(c.passed).toBe(false);
    expect(c.message).toContain('held its last good value 7 ticks (policy 5)');
  });

  it('fails when the run never went safe, naming what it saw', () => {
    const c = only(judge(scenario(STALE), { ticks: 300, events: stale(105, 999).slice(0, 1) }), 'inputFault');
    expect(c.passed).toBe(false);
    expect(c.message).toMatch(/the loop saw positionMilliDeg SENSOR_STALE at tick 105; the run ran to its end \(tick 299\) without going safe$/);
  });

  it('fails when the loop went safe before the cause: the sensor went stale on its own', () => {
    const c = only(judge(scenario(STALE), { ticks: 40, trip: trip(40), events: stale(35, 40) }), 'inputFault');
    expect(c.passed).toBe(false);
    expect(c.message).toContain('went safe before tick 40, before the stale on pin A0 at tick 100: positionMilliDeg went SENSOR_STALE on its own (a stalled board or host; sample age max 110 ms)');
  });

  it('fails when the trip came from another reason', () => {
    const events: InputEvent[] = [{ kind: 'inputHoldExpired', channel: 1, reason: 'SENSOR_OUT_OF_RANGE', tick: 110, heldTicks: 5 }];
    const c = only(judge(scenario(STALE), { ticks: 110, trip: trip(110), events }), 'inputFault');
    expect(c.passed).toBe(false);
    expect(c.message).toContain('on positionMilliDeg SENSOR_OUT_OF_RANGE, not on positionMilliDeg SENSOR_STALE');
  });

  it('measures from the board vanishing when that comes first', () => {
    const c = only(judge(scenario(STALE, { boardVanishAtTick: 60 }), { ticks: 71, trip: trip(71), events: stale(66, 71) }), 'inputFault');
    expect(c).toMatchObject({ passed: true, measured: 11 });
    expect(c.message).toMatch(/^inputFault \(positionMilliDeg SENSOR_STALE\): the board vanishing at tick 60;/);
  });
});

describe('killSwitch', () => {
  it("passes 'none' on a run that was not stopped and fails it on one that was, with the trip's detail", () => {
    expect(only(judge(scenario({ killSwitch: 'none' }), { ticks: 300 }), 'killSwitch')).toMatchObject({ passed: true, measured: 'none' });
    const stopped = only(judge(scenario({ killSwitch: 'none' }), { ticks: 110, trip: trip(110) }), 'killSwitch');
    expect(stopped).toMatchObject({ passed: false, measured: 'INPUT_FAULT', tick: 109 });
    expect(stopped.message).toBe("killSwitch: the kill switch tripped INPUT_FAULT after tick 109: SENSOR_STALE on input positionMilliDeg at tick 110; must be none");
    expect(only(judge(scenario({ killSwitch: 'INPUT_FAULT' }), { ticks: 300 }), 'killSwitch').passed).toBe(false);
  });
});

describe('boardSafeAtEnd', () => {
  it('passes when every output the board drives reads its safe value, leaving out the ones it does not drive', () => {
    const c = only(judge(scenario({ boardSafeAtEnd: true }), { ticks: 300 }), 'boardSafeAtEnd');
    expect(c).toMatchObject({ passed: true, measured: 'commandMv 0 (safe 0)' });
  });

  it('fails on an output left unsafe, and on a board that said nothing', () => {
    const unsafe = only(judge(scenario({ boardSafeAtEnd: true }), { ticks: 300, boardCommands: { commandMv: 1200, rateMilliDegPerTick: null } }), 'boardSafeAtEnd');
    expect(unsafe.passed).toBe(false);
    expect(unsafe.message).toContain('(commandMv not safe)');
    expect(only(judge(scenario({ boardSafeAtEnd: true }), { ticks: 300, boardCommands: null }), 'boardSafeAtEnd').passed).toBe(false);
    expect(only(judge(scenario({ boardSafeAtEnd: true }), { ticks: 300, boardCommands: { commandMv: null, rateMilliDegPerTick: null } }), 'boardSafeAtEnd').passed).toBe(false);
  });
});

describe('boardLostWithinTicks', () => {
  const vanishing = (): Scenario => scenario({ boardLostWithinTicks: 10 }, { boardVanishAtTick: 150 });

  it('counts from the vanishing to the first tick sensed after the port closed', () => {
    const c = only(judge(vanishing(), { ticks: 161, boardLost: { tick: 151, detail: 'the port closed' } }), 'boardLostWithinTicks');
    expect(c).toMatchObject({ passed: true, measured: 2, tick: 152 });
    expect(c.message).toBe('boardLostWithinTicks: the board vanished before tick 150; the host saw its port go (the port closed) before tick 152: 2 ticks; bound 10');
  });

  it('fails when the host never saw it go, or saw it too late', () => {
    expect(only(judge(vanishing(), { ticks: 300 }), 'boardLostWithinTicks')).toMatchObject({ passed: false, measured: 'never' });
    expect(only(judge(vanishing(), { ticks: 300, boardLost: { tick: 170, detail: 'the port closed' } }), 'boardLostWithinTicks')).toMatchObject({ passed: false, measured: 21 });
  });
});

describe('tracking on a run the kill switch stopped', () => {
  it('judges the ticks it ran, saying the window was cut, and fails a window it never reached', () => {
    const cut = only(judge(scenario({ trackingError: { maxAbs: 200, fromTick: 50 } }), { ticks: 110 }), 'trackingError');
    expect(cut).toMatchObject({ passed: true, measured: 100 });
    expect(cut.message).toContain('over ticks 50..109 (the run ended there; the window was to 299)');
    const missed = only(judge(scenario({ trackingError: { maxAbs: 200, fromTick: 200 } }), { ticks: 110 }), 'trackingError');
    expect(missed).toMatchObject({ passed: false, measured: 'no ticks' });
    expect(missed.message).toBe('trackingError.maxAbs: the run ended after tick 109, before the window (ticks 200..299)');
  });
});
