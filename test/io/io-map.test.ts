/**
 * I/O maps: the shipped ones read; every kind of bad map is refused before anything starts, one
 * line naming the file and the field; the scaling is integer and inverts exactly where it should.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/config/fields.js';
import { checkIoMap, rawForValue, scaleAnalog } from '../../src/io/io-map.js';
import { shippedLaw } from '../../src/law/law-loader.js';
import { assertFreshBuild, ROOT, runCli } from '../helpers/cli.js';

const motor = (): Record<string, any> => JSON.parse(readFileSync(join(ROOT, 'boards/firmata/motor-io.json'), 'utf8'));
const tank = (): Record<string, any> => JSON.parse(readFileSync(join(ROOT, 'boards/firmata/tank-io.json'), 'utf8'));
const PID = shippedLaw('pid-q16');
const TANK = shippedLaw('tank');

function refusal(map: unknown, law = PID): string {
  try {
    checkIoMap(map, 'bench.json', law);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).not.toContain('\n');
    return (error as Error).message;
  }
  throw new Error('the map was accepted');
}

describe('I/O map', () => {
  it('reads the shipped maps for both laws', () => {
    const m = checkIoMap(motor(), 'motor-io.json', PID);
    expect(m.heartbeatPin).toBe(8);
    expect(m.inputs[1]).toMatchObject({ source: 'analog', pin: 14, raw: [0, 1023], value: [-135000, 135000], onFault: { holdTicks: 5 } });
    expect(m.outputs.map((o) => o.actuator)).toEqual(['servo', 'none']);
    const t = checkIoMap(tank(), 'tank-io.json', TANK);
    expect(t.inputs.map((b) => b.source)).toEqual(['profile', 'analog', 'digital']);
    expect(t.outputs.map((o) => o.actuator)).toEqual(['servo', 'relay', 'led']);
  });

  it('refuses an unknown pin, naming file and field', () => {
    const m = motor();
    m.inputs.positionMilliDeg.pin = 'A7';
    expect(refusal(m)).toBe("bench.json: inputs.positionMilliDeg.pin: 'A7' is not a pin of an Uno (0..13, or A0..A5)");
    const n = motor();
    n.outputs.commandMv.pin = 21;
    expect(refusal(n)).toBe('bench.json: outputs.commandMv.pin: 21 is not a pin of an Uno (0..13, or A0..A5)');
    const p = motor();
    p.outputs.commandMv.pin = 8 + 4; // 12: no PWM
    expect(refusal(p)).toContain('outputs.commandMv.pin: pin 12 cannot make servo pulses');
    const q = motor();
    q.inputs.positionMilliDeg.pin = 3;
    expect(refusal(q)).toBe('bench.json: inputs.positionMilliDeg.pin: pin 3 is not an analog input (A0..A5)');
  });

  it('refuses a pin bound twice, naming both uses', () => {
    const t = tank();
    t.outputs.pumpOn.pin = 13;
    expect(refusal(t, TANK)).toBe('bench.json: outputs.alarm.pin: pin 13 is already bound at outputs.pumpOn.pin');
    const m = motor();
    m.heartbeatPin = 9;
    expect(refusal(m)).toBe('bench.json: outputs.commandMv.pin: pin 9 is already bound at heartbeatPin');
    const s = tank();
    s.inputs.highSwitch.pin = 1;
    expect(refusal(s, TANK)).toContain("inputs.highSwitch.pin: pin 1 carries the board's serial link");
  });

  it('refuses a channel left unbound, and one the law does not have', () => {
    const m = motor();
    delete m.outputs.rateMilliDegPerTick;
    expect(refusal(m)).toBe("bench.json: outputs.rateMilliDegPerTick: law 'pid-q16' channel rateMilliDegPerTick is not bound (bind it, or say { \"actuator\": \"none\" })");
    const t = tank();
    delete t.inputs.highSwitch;
    expect(refusal(t, TANK)).toContain('inputs.highSwitch: law \'tank\' channel highSwitch is not bound');
    const x = motor();
    x.inputs.speed = { source: 'constant', value: 0 };
    expect(refusal(x)).toContain("inputs.speed: law 'pid-q16' has no input channel speed");
    const y = motor();
    y.outputs.rateMilliDegPerTick = { actuator: 'none' };
    y.outputs.commandMv = { actuator: 'none' };
    expect(refusal(y)).toBe('bench.json: outputs: no channel drives an actuator');
  });

  it("refuses a scaling that maps outside the channel's range", () => {
    const m = motor();
    m.inputs.positionMilliDeg.value = [-600000, 600000];
    expect(refusal(m)).toBe("bench.json: inputs.positionMilliDeg.value: -600000 is outside the channel's range -524288..524288");
    const t = tank();
    t.inputs.levelMm.value = [0, 2500];
    expect(refusal(t, TANK)).toBe("bench.json: inputs.levelMm.value: 2500 is outside the channel's range 0..2000");
    const u = tank();
    u.outputs.valvePermille.value = [0, 1200];
    expect(refusal(u, TANK)).toBe('bench.json: outputs.valvePermille.value[1] must be between 0 and 1000, got 1200');
    const d = tank();
    d.inputs.levelSetpointMm = { source: 'constant', value: 2001 };
    expect(refusal(d, TANK)).toBe('bench.json: inputs.levelSetpointMm.value must be between 0 and 2000, got 2001');
  });

  it('refuses malformed fields', () => {
    const a = motor();
    a.inputs.positionMilliDeg.raw = [0, '1023'];
    expect(refusal(a)).toBe("bench.json: inputs.positionMilliDeg.raw[1] must be a whole number (a number, not a string), got '1023'");
    const b = motor();
    b.inputs.positionMilliDeg.onFault = { holdTicks: -1 };
    expect(refusal(b)).toBe('bench.json: inputs.positionMilliDeg.onFault.holdTicks must be between 0 and 10000, got -1');
    const c = motor();
    c.samplingIntervalMs = 0;
    expect(refusal(c)).toBe('bench.json: samplingIntervalMs must be between 1 and 1000, got 0');
    const e = motor();
    e.inputs.positionMilliDeg.source = 'i2c';
    expect(refusal(e)).toContain("inputs.positionMilliDeg.source must be 'analog', 'digital', 'profile' or 'constant', got 'i2c'");
    const f = motor();
    f.outputs.commandMv.speed = 3;
    expect(refusal(f)).toBe('bench.json: outputs.commandMv.speed is not a field here (fields: actuator, pin, pwmRangeUs, value)');
    expect(refusal([])).toBe('bench.json must be a JSON object, got []');
  });

  it('scales with integers only, and the board side inverts it', () => {
    const raw = [0, 1023] as const;
    const value = [-135000, 135000] as const;
    expect(scaleAnalog(0, raw, value)).toBe(-135000);
    expect(scaleAnalog(1023, raw, value)).toBe(135000);
    for (let r = 0; r <= 1023; r++) {
      const v = scaleAnalog(r, raw, value);
      expect(Number.isInteger(v)).toBe(true);
      expect(rawForValue(v, raw, value)).toBe(r);
    }
    // Descending ranges too (a sensor wired the other way round).
    expect(scaleAnalog(0, [1023, 0], [0, 2000])).toBe(2000);
    expect(rawForValue(-1e9, raw, value)).toBe(0);
    expect(rawForValue(1e9, raw, value)).toBe(1023);
  });
});

describe('tmr run --io with a bad map', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tmr-io-map-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is refused before anything starts: exit 2, one line naming the file and field', async () => {
    assertFreshBuild();
    const path = join(dir, 'bench.json');
    const m = motor();
    m.heartbeatPin = 9;
    writeFileSync(path, JSON.stringify(m));
    // The port does not exist: had the map been accepted, opening it would have failed instead (exit 1).
    const result = await runCli(['run', '--io', 'firmata:/dev/tmr-no-such-port', '--io-map', path, '--ticks', '10']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`tmr: ${path}: outputs.commandMv.pin: pin 9 is already bound at heartbeatPin\n`);
  });

  it('needs a map for a real board, and --io for a map', async () => {
    const a = await runCli(['run', '--io', 'firmata:/dev/tmr-no-such-port', '--ticks', '10']);
    expect(a.code).toBe(2);
    expect(a.stderr).toBe('tmr: --io firmata:/dev/tmr-no-such-port needs an I/O map: --io-map FILE (see boards/firmata/README.md)\n');
    const b = await runCli(['run', '--io-map', join(ROOT, 'boards/firmata/motor-io.json'), '--ticks', '10']);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('tmr: --io-map needs --io');
    const c = await runCli(['sim', '--io', 'firmata:/dev/x']);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('tmr sim does not take --io');
    const d = await runCli(['run', '--io', 'gpio:/dev/x', '--ticks', '10']);
    expect(d.code).toBe(2);
    expect(d.stderr).toContain("tmr: --io 'gpio:/dev/x': expected firmata:PATH[@BAUD]");
  });

  it('a map for the wrong law is refused naming the channel', async () => {
    const result = await runCli(['run', '--law', 'tank', '--io', 'firmata:/dev/tmr-no-such-port', '--io-map', join(ROOT, 'boards/firmata/motor-io.json'), '--ticks', '10']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^tmr: \S*motor-io\.json: inputs\.setpointMilliDeg: law 'tank' has no input channel setpointMilliDeg \(it has levelSetpointMm, levelMm, highSwitch\)\n$/);
  });

  it('a config file may give the map inline: checked the same, naming the file and the key', async () => {
    const m = motor();
    m.inputs.positionMilliDeg.value = [0, 600000];
    const bad = join(dir, 'bad-run.json');
    writeFileSync(bad, JSON.stringify({ io: 'firmata:/dev/tmr-no-such-port', ioMap: m, ticks: 10 }));
    const refused = await runCli(['run', '--config', bad]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(`tmr: ${bad}: ioMap: inputs.positionMilliDeg.value: 600000 is outside the channel's range -524288..524288\n`);
    const good = join(dir, 'good-run.json');
    writeFileSync(good, JSON.stringify({ io: 'firmata:/dev/tmr-no-such-port', ioMap: motor(), ticks: 10 }));
    const opened = await runCli(['run', '--config', good]);
    expect(opened.code).toBe(1);
    expect(opened.stderr).toMatch(/^tmr: --io firmata:\/dev\/tmr-no-such-port: cannot open the port: /);
    const simulated = join(dir, 'sim-run.json');
    writeFileSync(simulated, JSON.stringify({ io: 'firmata-sim', ioMap: motor(), ticks: 10 }));
    const refusedSim = await runCli(['run', '--config', simulated]);
    expect(refusedSim.code).toBe(2);
    expect(refusedSim.stderr).toContain('the simulated board reads its wiring from the I/O map');
    const notAMap = join(dir, 'list-run.json');
    writeFileSync(notAMap, JSON.stringify({ io: 'firmata:/dev/x', ioMap: [1], ticks: 10 }));
    expect((await runCli(['run', '--config', notAMap])).stderr).toBe(`tmr: ${notAMap}: ioMap must be an I/O map file's path or the map as an object, got [1]\n`);
  });

  it('a board that is not there is one line, exit 1, nothing started', async () => {
    const result = await runCli(['run', '--io', 'firmata:/dev/tmr-no-such-port', '--io-map', join(ROOT, 'boards/firmata/motor-io.json'), '--ticks', '10']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^tmr: --io firmata:\/dev\/tmr-no-such-port: cannot open the port: .*\n$/);
  });
});
