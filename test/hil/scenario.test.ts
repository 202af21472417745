import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FAULT_KINDS } from '../../src/protocol/messages.js';
import { parseScenario, ScenarioError, type Scenario } from '../../hil/scenario.js';
import { ROOT } from '../helpers/cli.js';
import { assert } from '../../src/core/assert.js';

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

/** Real I/O through the simulated Firmata board on the motor: A0 goes stale at tick 100, the loop must go safe. */
const IO = {
  name: 'io-base',
  description: 'a valid io scenario the cases below break one field at a time',
  replicas: ['node', 'node', 'node'],
  rateHz: 100,
  durationTicks: 300,
  io: { kind: 'firmata-sim', sensorFaults: [{ pin: 'A0', fault: 'stale', atTick: 100 }] },
  criteria: { inputFault: { reason: 'SENSOR_STALE', channel: 'positionMilliDeg', safeWithinTicks: 13 }, killSwitch: 'INPUT_FAULT' },
};

/** The same on the tank, whose map also has a digital input (the float switch on pin 2). */
const TANK_IO = { ...IO, name: 'tank-io-base', law: 'tank', criteria: {}, io: { kind: 'firmata-sim' } };

const mapDir = mkdtempSync(join(tmpdir(), 'tmr-scenario-maps-'));
afterAll(() => rmSync(mapDir, { recursive: true, force: true }));

/** The shipped motor map with some inputs rebound, written beside a scenario file in a temporary folder. */
function motorMapWith(file: string, inputs: Record<string, unknown>): string {
  const map = JSON.parse(readFileSync(join(ROOT, 'boards', 'firmata', 'motor-io.json'), 'utf8'));
  Object.assign(map.inputs, inputs);
  writeFileSync(join(mapDir, file), JSON.stringify(map));
  return file;
}

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

  it('reads an io scenario: the shipped map for its plant, sensor faults on pins, the input fault criterion with its cause', () => {
    const s = parse({ ...IO, criteria: { ...IO.criteria, boardSafeAtEnd: true } });
    expect(s.motor).toBeNull();
    expect(s.io?.map.source).toBe(join(ROOT, 'boards', 'firmata', 'motor-io.json'));
    expect(s.io?.sensorFaults).toEqual([{ pin: 14, channelIndex: 1, fault: 'stale', atTick: 100, durationTicks: 0, amplitude: null, raw: null }]);
    expect(s.io?.boardVanishTick).toBeNull();
    expect(s.io?.setpoint).toBeNull();
    expect(s.criteria.inputFault).toEqual({ reason: 'SENSOR_STALE', channelIndex: 1, channel: 'positionMilliDeg', safeWithinTicks: 13, holdTicks: 5, causeTick: 100, cause: 'stale on pin A0' });
    expect(s.criteria.killSwitch).toBe('INPUT_FAULT');
    expect(s.criteria.boardSafeAtEnd).toBe(true);
    // The board vanishing first is the cause; seconds land on ticks; a setpoint is the host's profile.
    const vanish = parse({ ...IO, io: { kind: 'firmata-sim', boardVanishAtS: 0.5 }, setpoint: BASE.setpoint, criteria: { ...IO.criteria, boardLostWithinTicks: 5 } });
    expect(vanish.io?.boardVanishTick).toBe(50);
    expect(vanish.criteria.inputFault).toMatchObject({ causeTick: 50, cause: 'the board vanishing' });
    expect(vanish.criteria.boardLostWithinTicks).toBe(5);
    expect(vanish.io?.setpoint?.segments).toHaveLength(2);
    // noise and stuck carry their amount; a stuck digital pin reads 0 or 1.
    const tank = parse({ ...TANK_IO, io: { kind: 'firmata-sim', sensorFaults: [{ pin: 'A0', fault: 'noise', amplitude: 4, atTick: 10, durationTicks: 20 }, { pin: 2, fault: 'stuck', raw: 1, atTick: 30 }] } });
    expect(tank.io?.sensorFaults).toEqual([
      { pin: 14, channelIndex: 1, fault: 'noise', atTick: 10, durationTicks: 20, amplitude: 4, raw: null },
      { pin: 2, channelIndex: 2, fault: 'stuck', atTick: 30, durationTicks: 0, amplitude: null, raw: 1 },
    ]);
  });

  it('reads an io map relative to the scenario file', () => {
    const map = motorMapWith('tolerant.json', { positionMilliDeg: { source: 'analog', pin: 'A0', raw: [0, 1023], value: [-135000, 135000], staleAfterMs: 500, onFault: { holdTicks: 20 } } });
    const s = parse({ ...IO, io: { ...IO.io, map }, criteria: { ...IO.criteria, inputFault: { ...IO.criteria.inputFault, safeWithinTicks: 80 } } }, join(mapDir, 'scenario.json'));
    expect(s.io?.map.source).toBe(join(mapDir, 'tolerant.json'));
    expect(s.criteria.inputFault?.holdTicks).toBe(20);
  });

  const ioCases: [string, () => unknown, string, RegExp][] = [
    ['an in-process replica with io', () => ({ ...IO, replicas: ['sim', 'sim', 'sim'] }), 'replicas[0]', /'sim' replicas run in simulated time; an io scenario runs in real time through the Firmata board \(use node, sim-board or avr-sim\)/],
    ['an unknown io field', () => ({ ...IO, io: { ...IO.io, port: '/dev/ttyACM0' } }), 'io.port', /unknown field \(allowed: kind, map, boardRateHz, boardWatchdogMs, sensorFaults, boardVanishAtTick, boardVanishAtS\)/],
    ['an io kind that is not the simulated board', () => ({ ...IO, io: { ...IO.io, kind: 'firmata' } }), 'io.kind', /must be one of firmata-sim, got "firmata"/],
    ['an io map that is not there', () => ({ ...IO, io: { ...IO.io, map: 'no-such-map.json' } }), 'io.map', /the I\/O map .*no-such-map\.json/],
    ['an io map that leaves a channel unbound', () => ({ ...IO, io: { ...IO.io, map: join(mapDir, motorMapWith('unbound.json', { positionMilliDeg: undefined })) } }), 'io.map', /unbound\.json: inputs\.positionMilliDeg: law 'pid-q16' channel positionMilliDeg is not bound/],
    ['a board clock out of range', () => ({ ...IO, io: { ...IO.io, boardRateHz: 0 } }), 'io.boardRateHz', /must be in \[1, 2000\], got 0/],
    ['a board dead-man out of range', () => ({ ...IO, io: { ...IO.io, boardWatchdogMs: 0 } }), 'io.boardWatchdogMs', /must be in \[1, 60000\], got 0/],
    ['motor model overrides with io', () => ({ ...IO, plant: { inertiaKgM2: 0.01 } }), 'plant', /not with io: the board's plant runs its own model \(name the plant: "motor"\)/],
    ['actuator overrides with io', () => ({ ...IO, actuator: { deadbandMv: 10 } }), 'actuator', /not with io: the board's plant runs its own drive model/],
    ['sensor overrides with io', () => ({ ...IO, sensor: { noiseSeed: 3 } }), 'sensor', /not with io: .*io\.sensorFaults/],
    ['disturbances with io', () => ({ ...IO, disturbances: [] }), 'disturbances', /not with io: disturbances act on the in-process motor world/],
    ['a johnny-five actuator path with io', () => ({ ...IO, actuatorPath: 'sim' }), 'actuatorPath', /not with io: .*not the johnny-five actuator path/],
    ['a dead voter with io', () => ({ ...IO, voterDeath: { atTick: 200 } }), 'voterDeath', /not with io: a dead voter is modelled on the in-process motor world/],
    ['a setpoint the map does not take', () => ({ ...IO, setpoint: BASE.setpoint, io: { ...IO.io, map: join(mapDir, motorMapWith('constant.json', { setpointMilliDeg: { source: 'constant', value: 0 } })) } }), 'setpoint', /binds setpointMilliDeg to constant, not to the host's profile/],
    ['a sensor fault on a pin the map has no sensor on', () => ({ ...IO, io: { ...IO.io, sensorFaults: [{ pin: 'A1', fault: 'stale', atTick: 100 }] } }), 'io.sensorFaults[0].pin', /pin A1 is not a sensor input of the I\/O map .*motor-io\.json \(its sensors: A0 \(positionMilliDeg\)\)/],
    ['a sensor fault on something that is no pin', () => ({ ...IO, io: { ...IO.io, sensorFaults: [{ pin: 'B7', fault: 'stale', atTick: 100 }] } }), 'io.sensorFaults[0].pin', /'B7' is not a pin of an Uno/],
    ['an unknown sensor fault', () => ({ ...IO, io: { ...IO.io, sensorFaults: [{ pin: 'A0', fault: 'melt', atTick: 100 }] } }), 'io.sensorFaults[0].fault', /must be one of stale, noise, stuck, got "melt"/],
    ['noise without its amplitude', () => ({ ...IO, io: { ...IO.io, sensorFaults: [{ pin: 'A0', fault: 'noise', atTick: 100 }] } }), 'io.sensorFaults[0].amplitude', /must be an integer, got undefined/],
    ['an amplitude on a stale fault', () => ({ ...IO, io: { ...IO.io, sensorFaults: [{ pin: 'A0', fault: 'stale', amplitude: 3, atTick: 100 }] } }), 'io.sensorFaults[0].amplitude', /only a noise fault takes an amplitude \(this one is stale\)/],
    ['a raw reading on a noise fault', () => ({ ...IO, io: { ...IO.io, sensorFaults: [{ pin: 'A0', fault: 'noise', amplitude: 3, raw: 5, atTick: 100 }] } }), 'io.sensorFaults[0].raw', /only a stuck fault takes a raw reading/],
    ['a stuck reading beyond the ADC', () => ({ ...IO, io: { ...IO.io, sensorFaults: [{ pin: 'A0', fault: 'stuck', raw: 1024, atTick: 100 }] } }), 'io.sensorFaults[0].raw', /must be in \[0, 1023\], got 1024/],
    ['a stuck digital pin at 2', () => ({ ...TANK_IO, io: { kind: 'firmata-sim', sensorFaults: [{ pin: 2, fault: 'stuck', raw: 2, atTick: 100 }] } }), 'io.sensorFaults[0].raw', /must be in \[0, 1\], got 2/],
    ['noise on a digital pin', () => ({ ...TANK_IO, io: { kind: 'firmata-sim', sensorFaults: [{ pin: 2, fault: 'noise', amplitude: 3, atTick: 100 }] } }), 'io.sensorFaults[0].fault', /noise applies to analog inputs; pin 2 \(highSwitch\) is digital/],
    ['a sensor fault at tick 0', () => ({ ...IO, io: { ...IO.io, sensorFaults: [{ pin: 'A0', fault: 'stale', atTick: 0 }] } }), 'io.sensorFaults[0].atTick', /must be tick 1 or later/],
    ['a sensor fault past the end', () => ({ ...IO, io: { ...IO.io, sensorFaults: [{ pin: 'A0', fault: 'stale', atS: 3 }] } }), 'io.sensorFaults[0].atS', /tick 300 is past the end of the run/],
    ['two faults on one pin at once', () => ({ ...IO, io: { ...IO.io, sensorFaults: [{ pin: 'A0', fault: 'noise', amplitude: 2, atTick: 50, durationTicks: 60 }, { pin: 'A0', fault: 'stale', atTick: 100 }] } }), 'io.sensorFaults[1]', /overlaps io\.sensorFaults\[0\] on pin A0: one fault per pin at a time/],
    ['a sensor fault after the board vanished', () => ({ ...IO, io: { ...IO.io, boardVanishAtTick: 100 } }), 'io.sensorFaults[0].atTick', /tick 100 is not before the board vanishes \(tick 100\)/],
    ['a sensor fault that outlasts the board', () => ({ ...IO, io: { ...IO.io, boardVanishAtTick: 150, sensorFaults: [{ pin: 'A0', fault: 'stale', atTick: 100, durationTicks: 60 }] } }), 'io.sensorFaults[0].durationTicks', /ends at tick 160, after the board vanishes \(tick 150\)/],
    ['a board vanishing at tick 0', () => ({ ...IO, io: { kind: 'firmata-sim', boardVanishAtTick: 0 } }), 'io.boardVanishAtTick', /must be tick 1 or later/],
    ['the fault-free comparison through real I/O', () => ({ ...IO, criteria: { votedIdenticalToFaultFree: true } }), 'criteria.votedIdenticalToFaultFree', /cannot hold through real I\/O: the board's plant runs on its own clock/],
    ['an input fault criterion without io', () => ({ ...BASE, criteria: { inputFault: IO.criteria.inputFault } }), 'criteria.inputFault', /needs io .*: an input fault comes from real I\/O/],
    ['an input fault on the host setpoint', () => ({ ...IO, criteria: { inputFault: { ...IO.criteria.inputFault, channel: 'setpointMilliDeg' } } }), 'criteria.inputFault.channel', /setpointMilliDeg is a profile input in .*: it never faults/],
    ['an input fault on a digital input', () => ({ ...TANK_IO, io: { kind: 'firmata-sim', sensorFaults: [{ pin: 2, fault: 'stale', atTick: 100 }] }, criteria: { inputFault: { reason: 'SENSOR_STALE', channel: 'highSwitch', safeWithinTicks: 13 } } }), 'criteria.inputFault.channel', /highSwitch is a digital input .*: a digital input is never stale or out of range once it has reported/],
    ['an input fault on a channel nothing faults', () => ({ ...IO, io: { kind: 'firmata-sim' } }), 'criteria.inputFault', /nothing in io makes positionMilliDeg SENSOR_STALE \(give a stale fault on its pin or the board vanishing: io\.sensorFaults on pin A0 or io\.boardVanishAtTick\)/],
    ['an input fault of another reason than the faults give', () => ({ ...IO, criteria: { inputFault: { ...IO.criteria.inputFault, reason: 'SENSOR_OUT_OF_RANGE' } } }), 'criteria.inputFault', /nothing in io makes positionMilliDeg SENSOR_OUT_OF_RANGE \(give a stuck or noise fault on its pin/],
    ['an input fault bound inside the hold', () => ({ ...IO, criteria: { inputFault: { ...IO.criteria.inputFault, safeWithinTicks: 5 } } }), 'criteria.inputFault.safeWithinTicks', /5 ticks can never hold: the map's policy holds positionMilliDeg's last good value 5 ticks before the loop goes safe/],
    ['an unknown input fault reason', () => ({ ...IO, criteria: { inputFault: { ...IO.criteria.inputFault, reason: 'SENSOR_NOISY' } } }), 'criteria.inputFault.reason', /must be one of SENSOR_STALE, SENSOR_OUT_OF_RANGE/],
    ['an INPUT_FAULT trip without io', () => ({ ...BASE, criteria: { killSwitch: 'INPUT_FAULT' } }), 'criteria.killSwitch', /INPUT_FAULT needs io/],
    ['no kill switch and an input fault', () => ({ ...IO, criteria: { ...IO.criteria, killSwitch: 'none' } }), 'criteria.killSwitch', /'none' contradicts criteria\.inputFault/],
    ['a kill switch trigger the bench does not arm', () => ({ ...IO, criteria: { killSwitch: 'QUORUM_LOSS' } }), 'criteria.killSwitch', /must be one of none, INPUT_FAULT, got "QUORUM_LOSS"/],
    ['the board read back without io', () => ({ ...BASE, criteria: { boardSafeAtEnd: true } }), 'criteria.boardSafeAtEnd', /needs io/],
    ['the board read back after it vanished', () => ({ ...IO, io: { kind: 'firmata-sim', boardVanishAtTick: 100 }, criteria: { boardSafeAtEnd: true } }), 'criteria.boardSafeAtEnd', /the board vanishes .*: nothing can be read back from it/],
    ['the board loss without its vanishing', () => ({ ...IO, criteria: { boardLostWithinTicks: 5 } }), 'criteria.boardLostWithinTicks', /needs the board to vanish \(io\.boardVanishAtTick or io\.boardVanishAtS\)/],
  ];

  it.each(ioCases)('refuses %s, naming the file and the field', (_name, value, field, problem) => {
    const error = refusal(value());
    expect(error.field).toBe(field);
    expect(error.message).toMatch(problem);
    expect(error.message.startsWith(`scenarios/broken.json: ${field}: `)).toBe(true);
    expect(error.message).not.toContain('\n');
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
    const tank = library.filter((s) => s.law.name === 'tank' && s.io === null);
    for (const s of library.filter((x) => x.law.name === 'tank')) expect(s.name.startsWith(s.io === null ? 'tank-' : 'firmata-tank-')).toBe(true);
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

describe('the scenario library through the Firmata board (issue 18)', () => {
  const dir = join(ROOT, 'hil', 'scenarios');
  const io = readdirSync(dir)
    .filter((f) => f.startsWith('firmata-') && f.endsWith('.json'))
    .map((f) => parseScenario(readFileSync(join(dir, f), 'utf8'), `hil/scenarios/${f}`));
  const shipped = (plant: string): string => join(ROOT, 'boards', 'firmata', `${plant}-io.json`);

  it('has, for every plant, a stale sensor and a vanishing board that must end safe within a bound on the shipped map, a masked replica fault and a tolerated sensor fault', () => {
    for (const plant of ['motor', 'tank']) {
      const ofPlant = io.filter((s) => s.plant.name === plant);
      for (const s of ofPlant) {
        expect(s.io, s.name).not.toBeNull();
        expect(s.name.startsWith(`firmata-${plant}-`)).toBe(true);
        expect(s.replicas.every((r) => r.kind !== 'sim')).toBe(true);
        // Short: CI runs the whole library.
        expect(s.ticks / s.rateHz).toBeLessThanOrEqual(3);
      }
      const endsSafe = (cause: (s: Scenario) => boolean): Scenario[] =>
        ofPlant.filter((s) => cause(s) && s.io!.map.source === shipped(plant) && s.criteria.inputFault?.reason === 'SENSOR_STALE' && s.criteria.killSwitch === 'INPUT_FAULT');
      expect(endsSafe((s) => s.io!.sensorFaults.some((f) => f.fault === 'stale')), plant).toHaveLength(1);
      expect(endsSafe((s) => s.io!.boardVanishTick !== null && s.criteria.boardLostWithinTicks !== null), plant).toHaveLength(1);
      const masked = ofPlant.filter((s) => s.faults.length === 1 && s.criteria.detectionLatencyTicksMax !== null && s.criteria.modesMustReach.includes('duplex') && s.criteria.killSwitch === 'none');
      expect(masked, plant).toHaveLength(1);
      const tolerated = ofPlant.filter((s) => s.io!.sensorFaults.some((f) => f.fault !== 'stale') && s.criteria.killSwitch === 'none' && s.criteria.modesMustNotReach.includes('duplex'));
      expect(tolerated, plant).toHaveLength(1);
    }
  });

  it('states each input fault bound as the arithmetic of its map and rate: hold + ticks to stale + 2', () => {
    for (const s of io.filter((x) => x.criteria.inputFault !== null)) {
      const binding = s.io!.map.inputs[s.criteria.inputFault!.channelIndex]!;
      assert(binding.source === 'analog', 'an input fault criterion is on an analog input');
      const periodMs = 1000 / s.rateHz;
      // A reading is stale once it is more than floor(staleAfterMs / period) whole ticks old.
      const staleTicks = Math.floor(binding.staleAfterMs / periodMs) + 1;
      expect(s.criteria.inputFault!.safeWithinTicks, s.name).toBe(binding.onFault.holdTicks + staleTicks + 2);
      expect(s.description, s.name).toContain(`${s.criteria.inputFault!.safeWithinTicks} = ${binding.onFault.holdTicks} (the hold) + ${staleTicks}`);
    }
  });

  it('runs the others on the shipped wiring with only the stale policy made tolerant', () => {
    for (const s of io.filter((x) => x.io!.map.source !== shipped(x.plant.name))) {
      const plain = JSON.parse(readFileSync(shipped(s.plant.name), 'utf8'));
      const tolerant = JSON.parse(readFileSync(s.io!.map.source, 'utf8'));
      for (const map of [plain, tolerant]) {
        delete map.description;
        for (const input of Object.values(map.inputs) as Record<string, unknown>[]) {
          delete input.staleAfterMs;
          delete input.onFault;
        }
      }
      expect(tolerant, s.name).toEqual(plain);
      expect(s.criteria.inputFault, s.name).toBeNull();
    }
  });
});
