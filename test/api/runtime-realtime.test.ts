/**
 * The library in real time: three Node replica processes, an actuator an application brings as an
 * extension, and stop() in the middle of the run. It must end as Ctrl-C ends `tmr run`: no tick
 * after the one it was asked in, the actuator's last command its safe value, the replicas gone,
 * the summary interrupted; and the library itself writes nothing to stdout or stderr and installs
 * no signal handler. Runs real processes against deadlines: the real-time project (vitest.config.ts).
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRuntime, type InputEvent, type LoopWorld, type RealtimeRunSummary, type RuntimeEvents, type TmrExtension } from '../../src/index.js';
import { shippedLaw } from '../../src/law/law-loader.js';
import { ROOT } from '../helpers/cli.js';

afterEach(() => vi.restoreAllMocks());

/** An actuator that keeps what it is sent: the application's own, registered as an extension. */
function recordingActuator(): { extension: TmrExtension; delivered: number[][]; closed: { value: boolean } } {
  const delivered: number[][] = [];
  const closed = { value: false };
  const extension: TmrExtension = {
    name: 'test-recorder',
    actuators: [
      {
        scheme: 'record',
        usage: 'record:NAME',
        help: ['keeps every command it is sent'],
        parse: (text) => text,
        open: async (target) => ({
          description: `recorder ${String(target)}`,
          deliver: (commands) => delivered.push(Array.from(commands)),
          close: async () => {
            closed.value = true;
          },
        }),
      },
    ],
  };
  return { extension, delivered, closed };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('createRuntime in real time', () => {
  it('stop() mid-run: no tick after it, the actuator safe, the replicas stopped, interrupted', async () => {
    const { extension, delivered, closed } = recordingActuator();
    const signalsBefore = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR2'].map((s) => process.listenerCount(s));
    const stdout = vi.spyOn(process.stdout, 'write');
    const stderr = vi.spyOn(process.stderr, 'write');
    const runtime = await createRuntime({ rateHz: 100, ticks: 3000, inject: ['wrong:1@30+20'] }, { actuator: 'record:bench', extensions: [extension] });
    const seen: string[] = [];
    let ready: RuntimeEvents['ready'] | null = null;
    runtime.on('attached', (a) => seen.push(`attached ${a.kind} ${a.description}`));
    runtime.on('ready', (r) => {
      ready = r;
      seen.push('ready');
    });
    runtime.on('replicaExcluded', (e) => seen.push(`excluded ${e.replicaIndex} ${e.reason} at ${e.tick}`));
    runtime.on('killSwitch', () => seen.push('killSwitch'));
    runtime.on('tick', (t) => {
      if (t.tick === 120) runtime.stop();
    });
    runtime.on('end', () => seen.push('end'));
    const summary = (await runtime.start()) as RealtimeRunSummary;

    expect(summary.interrupted).toBe(true);
    expect(summary.killSwitch).toBeNull();
    // Asked during tick 120: ticks 0..120 ran, no more.
    expect(summary.ticks).toBe(121);
    const safe = shippedLaw('pid-q16').definition.outputs.map((c) => c.safe);
    // One command per tick, then the safe values once, as the run ends.
    expect(delivered).toHaveLength(122);
    expect(delivered.at(-1)).toEqual(safe);
    expect(delivered.slice(0, -1).some((c) => c.join() !== safe.join())).toBe(true);
    expect(closed.value).toBe(true);
    expect(summary.unsafeCommands).toBe(0);
    // The replica processes are gone.
    expect(summary.replicaPids).toHaveLength(3);
    for (const pid of summary.replicaPids) expect(alive(pid!), `replica pid ${pid}`).toBe(false);
    expect(ready).toEqual({ replicaCount: 3, inService: 3, replicas: summary.replicaPids.map((pid, index) => ({ index, name: `pid ${pid}`, inService: true })), ticks: 3000, rateHz: 100 });
    // The events came in order: attached, ready, exclusions, end. The wrong replica was out by the
    // end of its fault (OUTPUT_DISAGREE, or its timing before or during it), or, where a busy
    // machine had taken a healthy replica out for its timing first (CI once saw replica 2 out at
    // tick 20), the duplex left could not tell which of two was right and the loop went safe:
    // nothing unsafe either way.
    expect(seen[0]).toBe('attached actuator recorder bench');
    expect(seen[1]).toBe('ready');
    expect(seen.at(-1)).toBe('end');
    const exclusions = seen.slice(2, -1);
    for (const line of exclusions) expect(line).toMatch(/^excluded [0-2] [A-Z_]+ at \d+$/);
    const caught = exclusions.some((line) => /^excluded 1 [A-Z_]+ at [1-4]?\d$/.test(line));
    expect(caught || summary.finalMode === 'safe', `${exclusions.join('; ')}; final mode ${summary.finalMode}`).toBe(true);
    // Nothing written, no handler left behind: those are the application's business.
    expect(stdout).not.toHaveBeenCalled();
    expect(stderr).not.toHaveBeenCalled();
    expect(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR2'].map((s) => process.listenerCount(s))).toEqual(signalsBefore);
  });

  it('stop() before start(): no replica ticks, the actuator safe all the same', async () => {
    const { extension, delivered, closed } = recordingActuator();
    const runtime = await createRuntime({ rateHz: 100, ticks: 500 }, { actuator: 'record:early', extensions: [extension] });
    runtime.stop();
    const summary = (await runtime.start()) as RealtimeRunSummary;
    expect(summary.interrupted).toBe(true);
    expect(summary.ticks).toBe(0);
    expect(delivered).toEqual([shippedLaw('pid-q16').definition.outputs.map((c) => c.safe)]);
    expect(closed.value).toBe(true);
  });

  it('real I/O an application brings: its input events as inputFault events, a hold run out as the INPUT_FAULT trip, in order', async () => {
    // The motor plant behind a world that says its position sensor went stale, came back, then
    // went out of range for good: what a real I/O world's inputHealth() reports.
    const script: Readonly<Record<number, InputEvent>> = {
      40: { kind: 'inputFault', channel: 1, reason: 'SENSOR_STALE', tick: 40, detail: 'no sample for 60 ms' },
      45: { kind: 'inputRecovered', channel: 1, tick: 45, heldTicks: 5 },
      80: { kind: 'inputFault', channel: 1, reason: 'SENSOR_OUT_OF_RANGE', tick: 80, detail: 'raw 1023' },
      85: { kind: 'inputHoldExpired', channel: 1, reason: 'SENSOR_OUT_OF_RANGE', tick: 85, heldTicks: 5 },
    };
    let closed = false;
    let safeStates = 0;
    const extension: TmrExtension = {
      name: 'test-io',
      ios: [
        {
          scheme: 'scripted',
          usage: 'scripted',
          help: ['a plant model whose sensor fails on a script'],
          parse: (text) => text,
          defaultMapPath: () => join(ROOT, 'boards', 'firmata', 'motor-io.json'),
          open: async (_target, context) => {
            const plant = context.plant.create({ rateHz: context.rateHz, seed: context.seed, ticks: context.ticks });
            let tick = -1;
            const world: LoopWorld = {
              sense: (t, inputs) => {
                tick = t;
                plant.sense(t, inputs);
              },
              actuate: (t, commands) => plant.actuate(t, commands),
              enterSafeState: () => {
                safeStates++;
                plant.enterSafeState();
              },
              get actuatorCounters() {
                return plant.actuatorCounters;
              },
              inputHealth: () => {
                const event = script[tick];
                return { events: event === undefined ? [] : [event], holding: 0 };
              },
            };
            return { description: 'a scripted sensor', world, close: async () => void (closed = true) };
          },
        },
      ],
    };
    const runtime = await createRuntime({ rateHz: 100, ticks: 400, io: 'scripted' }, { extensions: [extension] });
    const seen: string[] = [];
    let lastTick = -1;
    runtime.on('attached', (a) => seen.push(`attached ${a.kind} ${a.description}`));
    runtime.on('inputFault', (e) => seen.push(`${e.kind} ${e.tick} after tick ${lastTick}`));
    runtime.on('tick', (t) => void (lastTick = t.tick));
    runtime.on('killSwitch', (trip) => seen.push(`killSwitch ${trip.trigger} ${trip.tick}`));
    runtime.on('end', () => seen.push('end'));
    const summary = (await runtime.start()) as RealtimeRunSummary;
    expect(seen).toEqual([
      'attached io a scripted sensor',
      'inputFault 40 after tick 39',
      'inputRecovered 45 after tick 44',
      'inputFault 80 after tick 79',
      // Tick 85 was sensed, and never run: nothing is commanded from a reading held too long.
      'inputHoldExpired 85 after tick 84',
      'killSwitch INPUT_FAULT 84',
      'end',
    ]);
    expect(summary.ticks).toBe(85);
    expect(summary.killSwitch?.trigger).toBe('INPUT_FAULT');
    expect(summary.interrupted).toBe(false);
    expect(safeStates).toBeGreaterThanOrEqual(1);
    expect(closed).toBe(true);
  });
});
