/**
 * The actuator server (src/failover/actuator-server.ts) with a world that reports input faults, as
 * real I/O does: a fault that outlasts its hold stops the run safe before that tick reaches any
 * voter; a fault that recovers in time does not. One voter is connected over authenticated TCP
 * and records the ticks it is sent. Asserted whatever the scheduler does: which ticks went out,
 * which were actuated, that the safe state came after the last of them, and the summary.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeActuatorMessage } from '../../src/failover/actuator-protocol.js';
import { ActuatorServer, type ActuatorSummary } from '../../src/failover/actuator-server.js';
import { shippedLaw } from '../../src/law/law-loader.js';
import type { InputEvent, InputHealth, LoopWorld } from '../../src/loop/world.js';
import { shippedPlantFor } from '../../src/sim/plants.js';
import { TcpTransport } from '../../src/transport/tcp-transport.js';

const law = shippedLaw('pid-q16');
const plant = shippedPlantFor(law);
const RATE_HZ = 200;

/** The plant's world, with input events scripted by tick, recording what it was asked to do. */
class ScriptedWorld implements LoopWorld {
  readonly actuated: number[] = [];
  /** Index into `actuated` at which enterSafeState was called (-1: never). */
  safeAfter = -1;
  readonly inner: LoopWorld;
  #health: InputHealth = { events: [], holding: 0 };

  constructor(private readonly script: ReadonlyMap<number, readonly InputEvent[]>) {
    this.inner = plant.create({ rateHz: RATE_HZ, seed: 1, ticks: 1_000 });
  }

  get actuatorCounters(): LoopWorld['actuatorCounters'] {
    return this.inner.actuatorCounters;
  }

  sense(tick: number, inputs: Int32Array): void {
    this.inner.sense(tick, inputs);
    const events = this.script.get(tick) ?? [];
    this.#health = { events, holding: events.some((e) => e.kind === 'inputFault') ? 1 : 0 };
  }

  inputHealth(): InputHealth {
    return this.#health;
  }

  actuate(tick: number, commands: Int32Array): void {
    this.actuated.push(tick);
    this.inner.actuate(tick, commands);
  }

  enterSafeState(): void {
    if (this.safeAfter < 0) this.safeAfter = this.actuated.length;
    this.inner.enterSafeState();
  }
}

async function run(script: ReadonlyMap<number, readonly InputEvent[]>, ticks: number): Promise<{ world: ScriptedWorld; summary: ActuatorSummary; sent: number[]; lines: string[] }> {
  const world = new ScriptedWorld(script);
  const key = new Uint8Array(randomBytes(32));
  const lines: string[] = [];
  const server = await ActuatorServer.start({
    host: '127.0.0.1',
    port: 0,
    key: { key, id: 'test', path: '(test)' },
    law,
    plant,
    world,
    rateHz: RATE_HZ,
    ticks,
    seed: 1,
    silentTicksMax: 5,
    watchdogTicks: 50,
    logPath: null,
    votersToStart: 1,
    log: (line) => lines.push(line),
  });
  const sent: number[] = [];
  const port = Number(server.address.split(':').at(-1));
  const voter = await TcpTransport.connect({ host: '127.0.0.1', port, key, name: 'voter', timeoutMs: 5_000, epoch: 1 });
  voter.onFrame((frame) => {
    const decoded = decodeActuatorMessage(frame);
    if (decoded.ok && decoded.message.kind === 'inputs') sent.push(decoded.message.tick);
  });
  // The server closes the session when it stops; TCP delivers every frame it sent before that.
  const down = new Promise<void>((resolve) => voter.onDown(() => resolve()));
  try {
    server.run();
    const summary = await server.done;
    await down;
    return { world, summary, sent, lines };
  } finally {
    await voter.close();
    await server.stop();
  }
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('the actuator server with real I/O', () => {
  it("an input fault that outlasts its hold stops the run safe before that tick reaches a voter, naming the channel (the summary's inputFault)", async () => {
    const script = new Map<number, InputEvent[]>([
      [5, [{ kind: 'inputFault', channel: 1, reason: 'SENSOR_STALE', tick: 5, detail: 'no sample for 30 ms' }]],
      [8, [{ kind: 'inputHoldExpired', channel: 1, reason: 'SENSOR_STALE', tick: 8, heldTicks: 3 }]],
    ]);
    const { world, summary, sent, lines } = await run(script, 100);
    expect(summary.inputFault).toEqual({ channel: law.definition.inputs[1]!.name, reason: 'SENSOR_STALE', tick: 8, heldTicks: 3 });
    expect(summary.ticks).toBe(8);
    expect(sent).toEqual(range(8));
    expect(world.actuated).toEqual(range(8));
    expect(world.safeAfter).toBe(8);
    expect(summary.io).toBeNull();
    expect(lines.some((l) => /^tick 5: input positionMilliDeg: SENSOR_STALE \(no sample for 30 ms\); holding its last good value$/.test(l))).toBe(true);
    expect(lines.some((l) => /^tick 8: input positionMilliDeg: SENSOR_STALE outlasted its hold \(3 ticks\): safe state \(INPUT_FAULT\)$/.test(l))).toBe(true);
  }, 20_000);

  it('a fault that recovers within its hold is logged and the run goes on to its end', async () => {
    const script = new Map<number, InputEvent[]>([
      [5, [{ kind: 'inputFault', channel: 0, reason: 'SENSOR_OUT_OF_RANGE', tick: 5, detail: 'raw 1023 maps outside the range' }]],
      [7, [{ kind: 'inputRecovered', channel: 0, tick: 7, heldTicks: 2 }]],
    ]);
    const { world, summary, sent, lines } = await run(script, 20);
    expect(summary.inputFault).toBeNull();
    expect(summary.ticks).toBe(20);
    expect(sent).toEqual(range(20));
    expect(world.actuated).toEqual(range(20));
    expect(lines.some((l) => /^tick 7: input setpointMilliDeg: readings good again after 2 ticks held$/.test(l))).toBe(true);
  }, 20_000);
});
