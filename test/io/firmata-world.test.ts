/**
 * The Firmata world against the simulated Firmata plant board on a real pty, driven tick by tick
 * here instead of by the loop: the tank's outputs arrive as commanded and go to their safe values
 * on enterSafeState; a sensor that stops reporting becomes SENSOR_STALE and its hold expires; a
 * board that vanishes is recorded and its inputs go stale. Only what holds on a busy machine is
 * asserted: ticks here are paced by waiting for the board's samples, not by a clock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FirmataWorld } from '../../src/io/firmata-world.js';
import { checkIoMap } from '../../src/io/io-map.js';
import { shippedLaw } from '../../src/law/law-loader.js';
import type { InputEvent } from '../../src/loop/world.js';
import { SimFirmataPlant } from '../../firmware-sim/firmata-plant-board.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.js';

const TANK = shippedLaw('tank');
const MAP_PATH = join(ROOT, 'boards', 'firmata', 'tank-io.json');
const RATE_HZ = 100;

const started: { board: SimFirmataPlant | null; world: FirmataWorld | null } = { board: null, world: null };
afterEach(async () => {
  await started.world?.close();
  await started.board?.stop();
  started.board = null;
  started.world = null;
});

async function open(map = JSON.parse(readFileSync(MAP_PATH, 'utf8'))): Promise<{ board: SimFirmataPlant; world: FirmataWorld }> {
  const board = await SimFirmataPlant.start({ plant: 'tank', mapPath: MAP_PATH, law: 'tank', watchdogMs: 1_000 });
  started.board = board;
  const world = await FirmataWorld.open({ path: board.hostPath, baudRate: 57_600, map: checkIoMap(map, 'tank-io.json', TANK), law: TANK, rateHz: RATE_HZ, setpointAt: () => 1_000 });
  started.world = world;
  return { board, world };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('FirmataWorld on the simulated Firmata tank board', () => {
  it('reads every sensor, writes every output, and leaves the outputs safe', async () => {
    // A stale bound no busy machine reaches: this test is about the values, the next about staleness.
    const map = JSON.parse(readFileSync(MAP_PATH, 'utf8'));
    map.inputs.levelMm.staleAfterMs = 10_000;
    const { board, world } = await open(map);
    const inputs = new Int32Array(3);
    const commands = Int32Array.from([700, 1, 0]);
    for (let tick = 0; tick < 50; tick++) {
      world.sense(tick, inputs);
      expect(world.inputHealth().events).toEqual([]);
      world.actuate(tick, commands);
      await sleep(1000 / RATE_HZ);
    }
    expect(inputs[0]).toBe(1_000);
    expect(inputs[1]).toBeGreaterThanOrEqual(0);
    expect(inputs[2]).toBe(0); // the float switch is dry at the start
    world.enterSafeState();
    const io = world.ioSummary();
    expect(io.inputs[1]!.samples).toBeGreaterThan(0);
    // The pump on then off, the alarm off then on: one write each way (only changes are written).
    expect(io.outputs.map((o) => o.writes)).toEqual([expect.any(Number), 2, 2]);
    expect(io.outputs[0]!.writes).toBeGreaterThanOrEqual(2);
    expect(io.heartbeatEdges).toBe(50);
    await world.close();
    started.world = null;
    const status = (await board.stop()) as unknown as { commands: Record<string, number | null>; heartbeatEdges: number };
    started.board = null;
    // What the board took last: the law's safe values (valve shut, pump off, alarm on), and every heartbeat edge.
    expect(status.commands).toEqual({ valvePermille: 0, pumpOn: 0, alarm: 1 });
    expect(status.heartbeatEdges).toBeGreaterThanOrEqual(49);
  });

  it('a sensor that stops reporting is SENSOR_STALE, held, then expired', async () => {
    const { board, world } = await open();
    const inputs = new Int32Array(3);
    const commands = Int32Array.from([0, 0, 0]);
    world.sense(0, inputs);
    let good = inputs[1]!;
    await board.fault({ fault: 'stale', pin: 'A0' });
    const events: InputEvent[] = [];
    // The stale bound is 50 ms (5 ticks at 100 Hz), the hold 5 ticks: expired within ~11 ticks of
    // the last sample; waited for by wall time, bounded.
    for (let tick = 1; tick < 400 && !events.some((e) => e.kind === 'inputHoldExpired'); tick++) {
      await sleep(1000 / RATE_HZ);
      world.sense(tick, inputs);
      events.push(...world.inputHealth().events);
      world.actuate(tick, commands);
      // Outside a fault the reading follows the sensor; in one, the last good reading is held.
      const spell = world.ioSummary();
      if (events.length === 0 || events[events.length - 1]!.kind === 'inputRecovered') good = inputs[1]!;
      else expect(inputs[1], JSON.stringify(spell.inputFaultTicks)).toBe(good);
    }
    // A stall of this machine before the fault took hold may show as a stale spell that recovered;
    // the fault's own spell is the last: a fault, then its hold expiring 5 ticks later.
    const last = events.slice(events.map((e) => e.kind).lastIndexOf('inputRecovered') + 1);
    expect(last.map((e) => e.kind)).toEqual(['inputFault', 'inputHoldExpired']);
    expect(last[0]).toMatchObject({ channel: 1, reason: 'SENSOR_STALE' });
    expect(last[1]).toMatchObject({ channel: 1, reason: 'SENSOR_STALE', heldTicks: 5 });
    expect(last[1]!.tick - last[0]!.tick).toBe(5);
    expect(world.ioSummary().inputFaultTicks.SENSOR_STALE).toBeGreaterThanOrEqual(6);
  });

  it('a board that vanishes is recorded; its inputs go stale; nothing throws', async () => {
    const { board, world } = await open();
    const inputs = new Int32Array(3);
    const commands = Int32Array.from([500, 1, 0]);
    world.sense(0, inputs);
    world.actuate(0, commands);
    await board.vanish();
    let expired = false;
    for (let tick = 1; tick < 400 && !expired; tick++) {
      await sleep(1000 / RATE_HZ);
      world.sense(tick, inputs);
      expired = world.inputHealth().events.some((e) => e.kind === 'inputHoldExpired');
      world.actuate(tick, commands);
    }
    expect(expired).toBe(true);
    world.enterSafeState();
    const io = world.ioSummary();
    expect(io.boardLost).toMatchObject({ detail: expect.stringMatching(/port closed|port error/) });
    await world.close();
    started.world = null;
  });
});
