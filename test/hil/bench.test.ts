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
import { parseScenario, type Scenario } from '../../hil/scenario.js';
import { SimDriveIo } from '../../hil/sim-drive-io.js';
import { ROOT } from '../helpers/cli.js';

function fixture(name: string, patch: Record<string, unknown> = {}): Scenario {
  const file = join(ROOT, 'test', 'fixtures', 'hil', `${name}.json`);
  return parseScenario(JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), ...patch }), `test/fixtures/hil/${name}.json`);
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
    expect(otherSeed.series.positionMilliDeg).not.toEqual(a.series.positionMilliDeg);
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
    expect(result.series.commandMv.slice(120).every((c) => c === null)).toBe(true);
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
    const firstDifference = disturbed.series.positionMilliDeg.findIndex((p, t) => p !== quiet.series.positionMilliDeg[t]);
    expect(firstDifference).toBe(101);
    const stuck = disturbed.series.positionMilliDeg.slice(160, 170);
    expect(new Set(stuck).size).toBe(1);
    expect(stuck[0]).toBe(disturbed.series.positionMilliDeg[159]);
  });
});
