import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAULT_KINDS } from '../../src/protocol/messages.js';
import { parseScenario, ScenarioError, type Scenario } from '../../hil/scenario.js';
import { ROOT } from '../helpers/cli.js';

const BASE = {
  name: 'base',
  description: 'a valid scenario the cases below break one field at a time',
  replicas: ['sim', 'sim', 'sim'],
  rateHz: 100,
  durationTicks: 300,
  setpoint: { segments: [{ kind: 'hold', durationTicks: 50 }, { kind: 'step', toMilliDeg: 10_000, durationTicks: 250 }] },
  faults: [{ kind: 'wrong', replica: 1, atTick: 50, durationTicks: 20 }],
  criteria: { detectionLatencyTicksMax: 3 },
};

/** The same on the tank law: no motor sections (setpoint, models, disturbances, actuator path, dead voter). */
const TANK = {
  name: 'tank-base',
  description: 'a valid tank scenario the cases below break one field at a time',
  law: 'tank',
  replicas: ['sim', 'sim', 'sim'],
  rateHz: 50,
  durationTicks: 300,
  faults: [{ kind: 'wrong', replica: 1, atTick: 100 }],
  criteria: { detectionLatencyTicksMax: 3 },
};

function parse(value: unknown, file = 'x.json'): Scenario {
  return parseScenario(JSON.stringify(value), file);
}

function refusal(value: unknown): ScenarioError {
  try {
    parse(value, 'scenarios/broken.json');
  } catch (error) {
    if (error instanceof ScenarioError) return error;
    throw error;
  }
  throw new Error('the scenario was accepted');
}

describe('scenario files', () => {
  it('reads a valid file, converting seconds to ticks at the scenario rate', () => {
    const s = parse({ ...BASE, durationTicks: undefined, durationS: 3, faults: [{ kind: 'hang', replica: 2, atS: 0.5, durationS: 0.25 }] });
    expect(s.ticks).toBe(300);
    expect(s.faults).toEqual([{ kind: 'hang', replicaIndex: 2, atTick: 50, durationTicks: 25 }]);
    expect(s.deadlineUs).toBe(7_500);
    expect(s.motor?.actuatorPath).toEqual({ kind: 'sim' });
    expect(s.law.name).toBe('pid-q16');
    expect(s.plant.name).toBe('motor');
  });

  it('reads a scenario on the tank law: its own plant, no motor sections, final commands by channel name', () => {
    const s = parse({ ...TANK, criteria: { ...TANK.criteria, finalCommands: 'safe', trackingError: { maxAbs: 40, fromTick: 100 }, steps: [{ atTick: 100, settleBand: 50, settleWithinTicks: 150 }] } });
    expect(s.law.name).toBe('tank');
    expect(s.plant.name).toBe('tank');
    expect(s.motor).toBeNull();
    expect(s.criteria.finalCommands).toEqual([
      { channelIndex: 0, name: 'valvePermille', value: 0 },
      { channelIndex: 1, name: 'pumpOn', value: 0 },
      { channelIndex: 2, name: 'alarm', value: 1 },
    ]);
    expect(s.criteria.trackingError).toEqual({ maxAbs: 40, field: 'maxAbs', fromTick: 100, toTick: 299 });
    expect(s.criteria.steps[0]?.settleBand).toBe(50);
    expect(parse({ ...TANK, plant: 'tank', criteria: { finalCommands: { alarm: 1 } } }).criteria.finalCommands).toEqual([{ channelIndex: 2, name: 'alarm', value: 1 }]);
  });

  it('takes a motor bound in m° under either name, the same number', () => {
    const legacy = parse({ ...BASE, criteria: { trackingError: { maxAbsMilliDeg: 900 } } }).criteria.trackingError;
    const generic = parse({ ...BASE, criteria: { trackingError: { maxAbs: 900 } } }).criteria.trackingError;
    expect(legacy).toMatchObject({ maxAbs: 900, field: 'maxAbsMilliDeg' });
    expect(generic).toMatchObject({ maxAbs: 900, field: 'maxAbs' });
  });

  const cases: [string, unknown, string, RegExp][] = [
    ['an unknown top-level field', { ...BASE, colour: 'red' }, 'colour', /unknown field/],
    ['an unknown field in a fault', { ...BASE, faults: [{ ...BASE.faults[0], severity: 3 }] }, 'faults[0].severity', /unknown field/],
    ['an unknown criterion', { ...BASE, criteria: { maxOvershoot: 5 } }, 'criteria.maxOvershoot', /unknown field/],
    ['a string where a number belongs', { ...BASE, rateHz: '100' }, 'rateHz', /must be an integer, got "100"/],
    ['a fractional tick', { ...BASE, faults: [{ ...BASE.faults[0], atTick: 50.5 }] }, 'faults[0].atTick', /must be an integer/],
    ['a fault on a replica that does not exist', { ...BASE, faults: [{ ...BASE.faults[0], replica: 3 }] }, 'faults[0].replica', /replica 3 does not exist \(replicas has 3 entries/],
    ['a fault time past the end', { ...BASE, faults: [{ ...BASE.faults[0], atTick: 300 }] }, 'faults[0].atTick', /past the end of the run \(300 ticks/],
    ['a fault lasting past the end', { ...BASE, faults: [{ ...BASE.faults[0], atTick: 290, durationTicks: 20 }] }, 'faults[0].durationTicks', /ends at tick 310, past the end/],
    ['seconds that are not a whole tick', { ...BASE, faults: [{ kind: 'crash', replica: 0, atS: 0.505 }] }, 'faults[0].atS', /not a whole number of ticks at 100 Hz/],
    ['both ticks and seconds', { ...BASE, faults: [{ ...BASE.faults[0], atS: 0.5 }] }, 'faults[0].atTick', /not both/],
    ['an unknown fault kind', { ...BASE, faults: [{ ...BASE.faults[0], kind: 'melt' }] }, 'faults[0].kind', /must be one of crash, hang/],
    ['an even replica count', { ...BASE, replicas: ['sim', 'sim'] }, 'replicas', /odd number/],
    ['in-process replicas mixed with processes', { ...BASE, replicas: ['sim', 'node', 'sim'] }, 'replicas[1]', /cannot be mixed/],
    ['an unknown replica kind', { ...BASE, replicas: ['sim', 'sim', 'fpga'] }, 'replicas[2]', /'fpga': unknown replica kind \(one of sim, node, sim-board, avr-sim/],
    ['a setpoint segment field of another kind', { ...BASE, setpoint: { segments: [{ kind: 'hold', toMilliDeg: 5, durationTicks: 300 }] } }, 'setpoint.segments[0].toMilliDeg', /not a field of a hold segment/],
    ['a setpoint beyond the position range', { ...BASE, setpoint: { segments: [{ kind: 'step', toMilliDeg: 600_000, durationTicks: 300 }] } }, 'setpoint.segments[0].toMilliDeg', /must be in/],
    ['a plant model field with a wrong value', { ...BASE, plant: { inertiaKgM2: -1 } }, 'plant.inertiaKgM2', /> 0/],
    ['an unknown actuator field', { ...BASE, actuator: { torque: 3 } }, 'actuator.torque', /unknown field/],
    ['a disturbance past the end', { ...BASE, disturbances: [{ kind: 'loadTorque', atTick: 100, durationTicks: 250, torqueNm: 0.1 }] }, 'disturbances[0].durationTicks', /past the end/],
    ['a stuck glitch with an offset', { ...BASE, disturbances: [{ kind: 'sensorGlitch', atTick: 10, durationTicks: 5, mode: 'stuck', offsetMilliDeg: 4 }] }, 'disturbances[0].offsetMilliDeg', /takes no offset/],
    ['an actuator criterion without a dead voter', { ...BASE, criteria: { actuatorSafeWithinTicks: 5 } }, 'criteria.actuatorSafeWithinTicks', /needs a voterDeath/],
    ['a fault after the voter died', { ...BASE, voterDeath: { atTick: 40 } }, 'faults[0].atTick', /after the voter died/],
    ['an unknown mode', { ...BASE, criteria: { modesMustReach: ['triplex'] } }, 'criteria.modesMustReach[0]', /must be one of tmr, duplex, simplex, safe/],
    ['a step criterion with neither settling nor overshoot', { ...BASE, criteria: { steps: [{ atTick: 50 }] } }, 'criteria.steps[0]', /give settling/],
    ['an unknown recovery field', { ...BASE, recovery: { probation: 5 } }, 'recovery.probation', /unknown field/],
    ['a back-off ceiling under its base', { ...BASE, recovery: { backoffMsBase: 500, backoffMsMax: 100 } }, 'recovery.backoffMsMax', /less than backoffMsBase \(500\)/],
    // The same ranges as flags and config files: 200 restarts passed here once and then tripped the restart policy's assertion.
    ['more restarts than the restart policy holds', { ...BASE, recovery: { restartsMax: 200 } }, 'recovery.restartsMax', /must be in \[1, 100\], got 200/],
    ['a restart window shorter than a tick', { ...BASE, rateHz: 50, recovery: { restartWindowMs: 5 } }, 'recovery.restartWindowMs', /must be in \[20, 3600000\], got 5/],
    ['a re-admission criterion without recovery', { ...BASE, criteria: { readmissionsMin: 1 } }, 'criteria.readmissionsMin', /needs recovery/],
    ['a probation criterion without recovery', { ...BASE, criteria: { probationFailuresMin: 1 } }, 'criteria.probationFailuresMin', /needs recovery/],
    ['an unknown final mode', { ...BASE, criteria: { finalMode: 'quad' } }, 'criteria.finalMode', /must be one of tmr, duplex, simplex, safe/],
    ['a name that cannot name a file', { ...BASE, name: '../etc/passwd' }, 'name', /lower-case letters/],
    ['a missing description', { ...BASE, description: undefined }, 'description', /non-empty string/],
    ['an unknown law', { ...BASE, law: 'pid' }, 'law', /must be one of pid-q16, tank, got "pid"/],
    ['an unknown plant', { ...TANK, plant: 'boiler' }, 'plant', /must be one of motor, tank, got "boiler"/],
    ['a plant that is neither a name nor overrides', { ...TANK, plant: 7 }, 'plant', /must be a plant's name \(motor, tank\) or an object of motor model overrides, got 7/],
    ['a plant built for another law', { ...BASE, plant: 'tank' }, 'plant', /plant 'tank' supplies inputs levelSetpointMm, levelMm, highSwitch; law 'pid-q16' takes setpointMilliDeg, positionMilliDeg/],
    ['the motor plant under the tank law', { ...TANK, plant: 'motor' }, 'plant', /plant 'motor' supplies inputs setpointMilliDeg, positionMilliDeg; law 'tank' takes/],
    ['motor model overrides on the tank plant', { ...TANK, plant: { inertiaKgM2: 0.01 } }, 'plant', /overrides of the motor plant's model, but law tank runs on plant tank/],
    ['a setpoint profile on the tank plant', { ...TANK, setpoint: BASE.setpoint }, 'setpoint', /for the motor plant only \(this scenario runs law tank on plant tank/],
    ['actuator overrides on the tank plant', { ...TANK, actuator: { deadbandMv: 10 } }, 'actuator', /for the motor plant only/],
    ['sensor overrides on the tank plant', { ...TANK, sensor: { noiseSeed: 3 } }, 'sensor', /for the motor plant only/],
    ['disturbances on the tank plant', { ...TANK, disturbances: [] }, 'disturbances', /for the motor plant only/],
    ['a johnny-five actuator path on the tank plant', { ...TANK, actuatorPath: 'sim' }, 'actuatorPath', /for the motor plant only/],
    ['a dead voter on the tank plant', { ...TANK, voterDeath: { atTick: 200 } }, 'voterDeath', /for the motor plant only/],
    ['an actuator criterion on the tank plant', { ...TANK, criteria: { actuatorSafeWithinTicks: 5 } }, 'criteria.actuatorSafeWithinTicks', /for the motor plant only/],
    ['a bound in m° on the tank plant', { ...TANK, criteria: { trackingError: { maxAbsMilliDeg: 500 } } }, 'criteria.trackingError.maxAbsMilliDeg', /for the motor plant only .*: give maxAbs in mm/],
    ['a settling band in m° on the tank plant', { ...TANK, criteria: { steps: [{ atTick: 100, settleBandMilliDeg: 50, settleWithinTicks: 10 }] } }, 'criteria.steps[0].settleBandMilliDeg', /give settleBand in mm/],
    ['a tracking criterion without its bound', { ...TANK, criteria: { trackingError: { fromTick: 10 } } }, 'criteria.trackingError.maxAbs', /missing \(the bound on \|levelSetpointMm − levelMm\|, in mm\)/],
    ['a tracking bound under both names', { ...BASE, criteria: { trackingError: { maxAbs: 5, maxAbsMilliDeg: 5 } } }, 'criteria.trackingError.maxAbs', /not both/],
    ['a final command on a channel the law does not have', { ...TANK, criteria: { finalCommands: { valve: 0 } } }, 'criteria.finalCommands.valve', /unknown field \(allowed: valvePermille, pumpOn, alarm\)/],
    ['a final command outside its channel\'s range', { ...TANK, criteria: { finalCommands: { pumpOn: 2 } } }, 'criteria.finalCommands.pumpOn', /must be in \[0, 1\], got 2/],
    ['final commands naming no channel', { ...TANK, criteria: { finalCommands: {} } }, 'criteria.finalCommands', /names no output channel of law tank/],
    ['final commands that are neither "safe" nor an object', { ...TANK, criteria: { finalCommands: 'off' } }, 'criteria.finalCommands', /must be "safe" or an object of output channel values, got "off"/],
  ];

  it.each(cases)('refuses %s, naming the file and the field', (_name, value, field, problem) => {
    const error = refusal(value);
    expect(error.file).toBe('scenarios/broken.json');
    expect(error.field).toBe(field);
    expect(error.message).toMatch(problem);
    expect(error.message.startsWith(`scenarios/broken.json: ${field}: `)).toBe(true);
    expect(error.message).not.toContain('\n');
  });

  it('refuses text that is not JSON, naming the file', () => {
    expect(() => parseScenario('{ "name": ', 'a.json')).toThrow(/^a\.json: not valid JSON/);
  });
});

describe('the scenario library (hil/scenarios)', () => {
  const dir = join(ROOT, 'hil', 'scenarios');
  const library = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => parseScenario(readFileSync(join(dir, f), 'utf8'), `hil/scenarios/${f}`));

  it('parses every file, with unique names matching the file names', () => {
    expect(library.length).toBeGreaterThan(30);
    for (const s of library) expect(s.file).toBe(`hil/scenarios/${s.name}.json`);
  });

  it('injects every fault kind on every replica kind', () => {
    const covered = new Set(library.flatMap((s) => s.faults.map((f) => `${f.kind} on ${s.replicas[f.replicaIndex]!.kind}`)));
    const missing = FAULT_KINDS.flatMap((kind) => ['sim', 'node', 'sim-board', 'avr-sim'].map((replica) => `${kind} on ${replica}`)).filter((k) => !covered.has(k));
    expect(missing).toEqual([]);
  });

  it('has double faults that must end safe, faults during a setpoint step, and a dead voter', () => {
    const doubleSafe = library.filter((s) => s.faults.length >= 2 && s.replicas.length === 3 && s.criteria.modesMustReach.includes('safe') && s.simplexPolicy === 'safe');
    expect(doubleSafe.length).toBeGreaterThanOrEqual(2);
    const duringStep = library.filter((s) => s.faults.some((f) => s.criteria.steps.some((step) => step.atTick === f.atTick)));
    expect(duringStep.length).toBeGreaterThanOrEqual(8);
    const deadVoter = library.filter((s) => s.voterDeathTick !== null && s.criteria.actuatorSafeWithinTicks !== null);
    expect(deadVoter.map((s) => s.replicas[0]!.kind).sort()).toEqual(['node', 'sim']);
  });

  it('runs the tank law too: every fault kind in simulated time, a double fault ending in its safe values, real replicas at 50 Hz, a re-admission', () => {
    const tank = library.filter((s) => s.law.name === 'tank');
    for (const s of tank) expect(s.name.startsWith('tank-')).toBe(true);
    const simulated = tank.filter((s) => s.replicas.every((r) => r.kind === 'sim'));
    expect(new Set(simulated.flatMap((s) => s.faults.map((f) => f.kind)))).toEqual(new Set(FAULT_KINDS));
    const endsSafe = tank.filter((s) => s.faults.length >= 2 && s.criteria.finalMode === 'safe' && s.criteria.finalCommands !== null);
    expect(endsSafe.length).toBeGreaterThanOrEqual(1);
    for (const s of endsSafe) expect(s.criteria.finalCommands!.map((f) => f.value)).toEqual(s.law.definition.outputs.map((c) => c.safe));
    const realtime = (kind: string): Scenario[] => tank.filter((s) => s.rateHz === 50 && s.ticks <= 500 && s.replicas.some((r) => r.kind === kind));
    expect(realtime('node').length).toBeGreaterThanOrEqual(2);
    expect(realtime('sim-board').length).toBeGreaterThanOrEqual(1);
    expect(tank.filter((s) => s.recovery !== null && s.faults.some((f) => f.kind === 'crash') && s.criteria.readmissionsMin !== null)).toHaveLength(1);
  });
});
