import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import five from 'johnny-five';
import { afterAll, describe, expect, it } from 'vitest';
import { PlantWorld } from '../../src/sim/plant-world.js';
import { DEFAULT_ACTUATOR } from '../../src/sim/actuator.js';
import { SimFirmataDrive } from '../../firmware-sim/firmata-drive-board.js';
import { PtyPair } from '../../firmware-sim/pty-pair.js';
import { ActuatorPathError, openActuatorPath } from '../../hil/actuator-path.js';
import { runScenario } from '../../hil/bench.js';
import type { ScenarioResult } from '../../hil/result.js';
import { parseScenario, type Scenario } from '../../hil/scenario.js';
import { SimDriveIo } from '../../hil/sim-drive-io.js';
import { ROOT } from '../helpers/cli.js';

function fixture(name: string, patch: Record<string, unknown> = {}): Scenario {
  const file = join(ROOT, 'test', 'fixtures', 'hil', `${name}.json`);
  return parseScenario(JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), ...patch }), `test/fixtures/hil/${name}.json`);
}

function input(result: ScenarioResult, name: string): number[] {
  const found = result.series.inputs.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no input ${name}`);
  return found.values;
}

function output(result: ScenarioResult, name: string): ScenarioResult['series']['outputs'][number] {
  const found = result.series.outputs.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no output ${name}`);
  return found;
}

async function simBoard(io: SimDriveIo): Promise<InstanceType<typeof five.Board>> {
  const board = new five.Board({ io, repl: false, debug: false, sigint: false });
  await new Promise<void>((resolve) => board.once('ready', () => resolve()));
  return board;
}

describe('the johnny-five actuator path', () => {
  it("carries a command given to johnny-five's Servo into the actuator model, bit for bit", async () => {
    const io = new SimDriveIo();
    const board = await simBoard(io);
    const supply = DEFAULT_ACTUATOR.supplyMvMax;
    const servo = new five.Servo({ pin: 9, board, pwmRange: [-supply, supply], degreeRange: [-supply, supply], range: [-supply, supply] });
    const heartbeat = new five.Pin({ pin: 8, board, type: 'digital' });
    let level = false;
    const world = new PlantWorld({
      rateHz: 100,
      seed: 1,
      commandPath: (_tick, commandMv) => {
        servo.to(commandMv);
        level = !level;
        if (level) heartbeat.high();
        else heartbeat.low();
        return io.takeTick();
      },
    });
    const commands = [3_141, 3_141, -6_000, 6_000, 12_000, 777, -1, 4_321];
    commands.forEach((command, tick) => {
      world.actuate(tick, Int32Array.of(command, 0));
      expect(world.lastReceivedMv).toBe(command);
      // Default drive: no latency, slew up to 12 V a tick (no step here is larger), deadband 50 mV.
      expect(world.actuator.appliedMv).toBe(Math.abs(command) < DEFAULT_ACTUATOR.deadbandMv ? 0 : command);
    });
    // johnny-five's Servo writes only changes: the repeated 3141 never reached the pin, the drive held it.
    expect(io.commandWrites).toBe(commands.length - 1);
  });

  it('delivers nothing on a tick without a heartbeat edge, and the drive watchdog then takes it safe', async () => {
    const path = await openActuatorPath({ kind: 'sim' }, 12_000);
    const world = new PlantWorld({ rateHz: 100, seed: 1 });
    for (let tick = 0; tick < 3; tick++) world.stepWith(tick, path.deliver(2_000));
    expect(world.actuator.appliedMv).toBe(2_000);
    for (let tick = 3; tick < 3 + DEFAULT_ACTUATOR.watchdogTicks; tick++) {
      const received = path.silentTick();
      expect(received).toBeNull();
      world.stepWith(tick, received);
    }
    expect(world.actuator.watchdogTripped).toBe(true);
    expect(world.actuator.appliedMv).toBe(DEFAULT_ACTUATOR.safeCommandMv);
    await path.close();
  });

  it('refuses writes to a pin that is not wired for them', () => {
    const io = new SimDriveIo();
    expect(() => io.servoWrite(9, 100)).toThrow(/not in servo mode/);
    expect(() => io.pinMode(8, io.MODES.SERVO)).toThrow(/does not support mode/);
    expect(() => io.digitalWrite(40, 1)).toThrow(/there is no pin 40/);
  });

  describe('with a Firmata board that is not there', () => {
    let pair: PtyPair | null = null;
    afterAll(async () => {
      await pair?.stop();
    });

    it('fails with a timeout naming the port instead of hanging', async () => {
      pair = await PtyPair.open({ name: 'no-firmata' });
      const started = Date.now();
      const attempt = openActuatorPath({ kind: 'firmata', path: pair.hostPath, baudRate: 57_600, pwmRangeUs: [1000, 2000], readyTimeoutMs: 800 }, 12_000);
      await expect(attempt).rejects.toThrow(ActuatorPathError);
      await expect(attempt).rejects.toThrow(new RegExp(`firmata:${pair.hostPath}.*no board answered within 800 ms.*StandardFirmata`));
      expect(Date.now() - started).toBeLessThan(5_000);
    });
  });

  describe('with the simulated Firmata drive on a pty (firmware-sim/firmata-drive)', () => {
    it('johnny-five gets it ready and moves it: every command arrives as a pulse (full scale both ways exactly), a heartbeat edge each tick, nothing refused', async () => {
      const drive = await SimFirmataDrive.start({ name: 'bench-firmata', rateHz: 100, watchdogTicks: 1_000 });
      try {
        const path = await openActuatorPath({ kind: 'firmata', path: drive.hostPath, baudRate: 57_600, pwmRangeUs: [1000, 2000], readyTimeoutMs: 3_000 }, DEFAULT_ACTUATOR.supplyMvMax);
        const commandsMv = [-12_000, -5_000, 0, 37, 4_950, 12_000];
        for (const mv of commandsMv) {
          path.deliver(mv);
          await new Promise((r) => setTimeout(r, 20));
        }
        await path.close();
        const first = await drive.waitFor('firstCommand', 2_000);
        expect(first!.commandMv).toBe(-12_000);
        const status = await drive.stop();
        expect(status!.refusedBytes).toBe(0);
        expect(status!.commandWrites).toBe(commandsMv.length);
        // The first write sets the heartbeat's level; every later one is an edge.
        expect(status!.heartbeatEdges).toBe(commandsMv.length - 1);
        expect(status!.lastCommandMv).toBe(12_000);
      } finally {
        await drive.stop();
      }
    });
  });
});

describe('runScenario', () => {
  it('gives the actuator exactly the voted command every tick, through johnny-five', async () => {
    const result = await runScenario(fixture('small-pass'));
    expect(result.verdict).toBe('pass');
    expect(result.counters.actuatorReceivedNotVoted).toBe(0);
    expect(result.counters.ticksWithoutCommand).toBe(0);
    expect(result.counters.actuatorCommandWrites).toBeGreaterThan(50);
    expect(result.actuatorPath).toMatch(/johnny-five Servo/);
    // Every voted command equals the fault-free run's, so the two traces hash alike.
    expect(result.referenceTraceHash).toBe(result.votedTraceHash);
  });

  it('is a pure function of the scenario in simulated time', async () => {
    const strip = (r: Awaited<ReturnType<typeof runScenario>>) => ({ ...r, wallMs: 0, realTimeFactor: 0 });
    const a = await runScenario(fixture('small-pass'));
    const b = await runScenario(fixture('small-pass'));
    expect(strip(b)).toEqual(strip(a));
    const otherSeed = await runScenario(fixture('small-pass', { seed: 10 }));
    expect(input(otherSeed, 'positionMilliDeg')).not.toEqual(input(a, 'positionMilliDeg'));
  });

  it('names the failed criterion, the measured value and the tick', async () => {
    const result = await runScenario(fixture('too-tight'));
    expect(result.verdict).toBe('fail');
    const failed = result.criteria.filter((c) => !c.passed);
    expect(failed.map((c) => c.name)).toEqual(['trackingError.maxAbsMilliDeg']);
    const c = failed[0]!;
    expect(typeof c.measured).toBe('number');
    expect(c.measured as number).toBeGreaterThan(500);
    expect(c.tick).toBeGreaterThanOrEqual(50);
    expect(c.message).toContain(`reached ${c.measured} m° at tick ${c.tick}`);
    expect(c.message).toContain('over the bound 500 m°');
  });

  it('lets the actuator watchdog, not the voter, stop the drive when the voter dies', async () => {
    const result = await runScenario(fixture('small-pass', { faults: [], criteria: { actuatorSafeWithinTicks: 10 }, voterDeath: { atTick: 120 } }));
    expect(result.verdict).toBe('pass');
    expect(output(result, 'commandMv').values.slice(120).every((c) => c === null)).toBe(true);
    const safe = result.markers.find((m) => m.kind === 'actuatorSafe');
    expect(safe?.label).toBe('actuator safe (watchdog)');
    expect(safe!.tick).toBe(120 + DEFAULT_ACTUATOR.watchdogTicks - 1);
  });

  it('applies a load torque and a stuck sensor where the scenario says', async () => {
    const quiet = await runScenario(fixture('small-pass', { faults: [] }));
    const disturbed = await runScenario(
      fixture('small-pass', {
        faults: [],
        disturbances: [
          { kind: 'loadTorque', atTick: 100, durationTicks: 50, torqueNm: 0.5 },
          { kind: 'sensorGlitch', atTick: 160, durationTicks: 10, mode: 'stuck' },
        ],
      }),
    );
    const position = input(disturbed, 'positionMilliDeg');
    const firstDifference = position.findIndex((p, t) => p !== input(quiet, 'positionMilliDeg')[t]);
    expect(firstDifference).toBe(101);
    const stuck = position.slice(160, 170);
    expect(new Set(stuck).size).toBe(1);
    expect(stuck[0]).toBe(position[159]);
  });

  it('runs another law on its own plant: every channel recorded by name, criteria in the plant\'s unit', async () => {
    const result = await runScenario(fixture('tank-small'));
    expect(result.verdict, result.criteria.map((c) => c.message).join('\n')).toBe('pass');
    expect(result.law).toEqual({ name: 'tank', version: 1 });
    expect(result.plant).toBe('tank');
    expect(result.tracking).toEqual({ setpoint: 'levelSetpointMm', measured: 'levelMm', unit: 'mm' });
    expect(result.series.inputs.map((c) => `${c.name} ${c.unit}`)).toEqual(['levelSetpointMm mm', 'levelMm mm', 'highSwitch bool']);
    expect(result.series.outputs.map((c) => c.name)).toEqual(['valvePermille', 'pumpOn', 'alarm']);
    expect(result.series.motor).toBeUndefined();
    for (const c of [...result.series.inputs, ...result.series.outputs]) expect(c.values).toHaveLength(300);
    // The tank's own profile: 800 mm for a third of the run, then 1200 mm, then 600 mm.
    expect([0, 100, 200].map((t) => input(result, 'levelSetpointMm')[t])).toEqual([800, 1_200, 600]);
    // The wrong replica's valve openings are a third of the range off; it is out two ticks later and silent after.
    const valve = output(result, 'valvePermille');
    expect(valve.replicas).toHaveLength(3);
    expect(valve.replicas[1]![100]).not.toBe(valve.values[100]);
    expect(valve.replicas[1]!.slice(103).every((v) => v === null)).toBe(true);
    expect(valve.replicas[0]).toEqual(valve.values);
    const tracking = result.criteria.find((c) => c.name === 'trackingError.maxAbs')!;
    expect(tracking.message).toMatch(/^trackingError\.maxAbs: worst \|levelSetpointMm − levelMm\| \d+ mm at tick \d+ over ticks 100\.\.199, within 900 mm$/);
    expect(result.criteria.find((c) => c.name === 'finalCommands')?.message).toBe('finalCommands: the last command, at tick 299: pumpOn 0, alarm 0');
    expect(result.referenceTraceHash).toBe(result.votedTraceHash);
    // No johnny-five path on this plant: nothing to count for it.
    expect(result.actuatorPath).toBe("plant tank: its module's own world (no johnny-five path)");
    expect(result.counters.actuatorReceivedNotVoted).toBeUndefined();
    expect(result.counters.ticksWithoutCommand).toBe(0);
  });

  it('fails final commands that differ, naming each channel', async () => {
    const result = await runScenario(fixture('tank-small', { criteria: { finalCommands: 'safe' } }));
    expect(result.verdict).toBe('fail');
    expect(result.criteria.find((c) => !c.passed)?.message).toMatch(
      /^finalCommands: the last command, at tick 299, was valvePermille [1-9]\d*, pumpOn 0, alarm 0; must be valvePermille 0, pumpOn 0, alarm 1 \(valvePermille, alarm differ\)$/,
    );
  });

  it('compares every output channel with the fault-free run, and names the first that differs', async () => {
    // Two wrong valves of three: no majority, so the voter holds the last command, then goes safe.
    const result = await runScenario(fixture('tank-small', { faults: [{ kind: 'wrong', replica: 1, atTick: 100 }, { kind: 'wrong', replica: 2, atTick: 100 }], criteria: { votedIdenticalToFaultFree: true } }));
    expect(result.verdict).toBe('fail');
    expect(result.criteria.find((c) => !c.passed)?.message).toMatch(/^votedIdenticalToFaultFree: 200 of 300 voted commands differ from the fault-free run; the first at tick 100: valvePermille \d+ vs 1000 permille$/);
    expect(result.counters.heldCommands).toBeGreaterThan(0);
    expect(result.modeBands.at(-1)?.mode).toBe('safe');
  });

  it('re-admits a crashed replica of another law, with a marker where it came back', async () => {
    const result = await runScenario(fixture('tank-small', { recovery: {}, faults: [{ kind: 'crash', replica: 1, atTick: 100 }], criteria: { readmissionsMin: 1, votedIdenticalToFaultFree: true, finalMode: 'tmr' } }));
    expect(result.verdict, result.criteria.map((c) => c.message).join('\n')).toBe('pass');
    const back = result.markers.filter((m) => m.kind === 'replicaReadmitted');
    expect(back.map((m) => [m.replicaIndex, m.label])).toEqual([[1, 'r1 back in']]);
    expect(back[0]!.tick).toBeGreaterThan(100);
    expect(output(result, 'valvePermille').replicas[1]![back[0]!.tick]).toBe(output(result, 'valvePermille').values[back[0]!.tick]);
  });
});
