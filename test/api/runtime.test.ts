/**
 * The library (src/api, README "Library") in simulation: a run through createRuntime is the run
 * `tmr sim` makes of the same configuration, summary and trace byte for byte; its events arrive
 * in order with the ticks the core decided them at (checked against runSimulation's own step
 * results, an oracle that does not go through the runtime); a configuration it refuses is refused
 * before anything starts, naming the field; and importing 'tmr' stays light.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, createRuntime, UsageError, type Runtime, type RuntimeConfig, type RuntimeEvents, type RuntimeOptions, type TickEvent } from '../../src/index.js';
import { runSimulation } from '../../src/sim/simulator.js';
import { parseInjects } from '../../src/cli/options.js';
import { DEFAULT_LOOP_OPTIONS } from '../../src/sim/plants.js';
import { DEFAULT_RECOVERY } from '../../src/loop/recovery.js';
import { assertFreshBuild, ROOT, runCli } from '../helpers/cli.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tmr-api-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every event a runtime emits, in order, as [name, payload] (tick events as their tick alone: the object is reused). */
function record(runtime: Runtime): [string, unknown][] {
  const seen: [string, unknown][] = [];
  const names: (keyof RuntimeEvents)[] = ['attached', 'ready', 'inputFault', 'modeChange', 'replicaExcluded', 'probationStarted', 'replicaReadmitted', 'tick', 'injectionRefused', 'killSwitch', 'logFailure', 'end'];
  for (const name of names) runtime.on(name, (payload: unknown) => seen.push([name, name === 'tick' ? (payload as TickEvent).tick : payload]));
  return seen;
}

describe('a simulated run through the API is tmr sim', () => {
  const config: RuntimeConfig = { ticks: 3000, seed: 7, inject: ['wrong:1@500+200', 'crash:2@1200', 'stall@2000+10'], recovery: { probationTicks: 30 } };

  it('the same summary as tmr sim --config FILE --json, and the same trace line for line', async () => {
    assertFreshBuild();
    const file = join(dir, 'run.json');
    writeFileSync(file, JSON.stringify(config));
    const tracePath = join(dir, 'run.trace');
    const cli = await runCli(['sim', '--config', file, '--json', '--trace', tracePath]);
    expect(cli.code, cli.stderr).toBe(0);

    const runtime = await createRuntime(config, { mode: 'simulation' });
    const trace: string[] = [];
    runtime.on('tick', (t) => trace.push(t.traceLine()));
    const summary = await runtime.start();
    const { interrupted, ...rest } = summary as typeof summary & { interrupted: boolean };
    expect(interrupted).toBe(false);
    expect(JSON.stringify(rest)).toBe(cli.stdout.trim());
    expect(summary.votedTraceHash).toBe((JSON.parse(cli.stdout) as { votedTraceHash: string }).votedTraceHash);
    expect(`${trace.join('\n')}\n`).toBe(readFileSync(tracePath, 'utf8'));
    // The run did something to compare: both faults were seen.
    expect(summary.faults.map((f) => f.outcome)).toEqual(['detected', 'detected']);
    expect(runtime.summary).toBe(summary);
  });

  it('a black-box log the CLI reads back and replays bit for bit', async () => {
    assertFreshBuild();
    const logFile = join(dir, 'api.bbx');
    const runtime = await createRuntime(config, { mode: 'simulation', logFile });
    const summary = await runtime.start();
    expect(summary.blackBox).toEqual({ path: logFile, complete: true });
    const replay = await runCli(['replay', logFile]);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toMatch(/reproduced bit for bit/);
  });
});

/** The core's events over a run, from runSimulation's step results: what the runtime's events must say. */
function oracleEvents(ticks: number, inject: readonly string[], recovery: boolean): string[] {
  const { injects, stalls } = parseInjects(inject, 3, ticks);
  const lines: string[] = [];
  runSimulation(
    { ...DEFAULT_LOOP_OPTIONS, ticks, injects, stalls, recovery: recovery ? { ...DEFAULT_RECOVERY, enabled: true } : DEFAULT_RECOVERY },
    {
      onTick: (_, result) => {
        for (const e of result.events) {
          if (e.kind === 'modeChanged') lines.push(`${e.tick} modeChange ${e.from}->${e.to} ${e.reason}`);
          if (e.kind === 'replicaExcluded') lines.push(`${e.tick} replicaExcluded ${e.replicaIndex} ${e.reason}`);
          if (e.kind === 'probationStarted') lines.push(`${e.tick} probationStarted ${e.replicaIndex}`);
          if (e.kind === 'replicaReadmitted') lines.push(`${e.tick} replicaReadmitted ${e.replicaIndex}`);
        }
      },
    },
  );
  return lines;
}

function eventLines(seen: readonly [string, unknown][]): string[] {
  return seen.flatMap(([name, p]) => {
    const e = p as Record<string, unknown>;
    if (name === 'modeChange') return [`${e.tick} modeChange ${e.from}->${e.to} ${e.reason}`];
    if (name === 'replicaExcluded') return [`${e.tick} replicaExcluded ${e.replicaIndex} ${e.reason}`];
    if (name === 'probationStarted' || name === 'replicaReadmitted') return [`${e.tick} ${name} ${e.replicaIndex}`];
    return [];
  });
}

describe('events, in order, at the ticks the core decided them', () => {
  it('a wrong replica and a crash: exclusions and mode changes, each before its tick event, ready first and end last', async () => {
    const inject = ['wrong:1@500+100', 'crash:2@1200'];
    const runtime = await createRuntime({ ticks: 2000, inject }, { mode: 'simulation' });
    const seen = record(runtime);
    const summary = await runtime.start();

    const expected = oracleEvents(2000, inject, false);
    // Not vacuous: two exclusions and the ladder down to safe.
    expect(expected.filter((l) => l.includes('replicaExcluded'))).toHaveLength(2);
    expect(expected.some((l) => l.includes('->safe'))).toBe(true);
    expect(eventLines(seen)).toEqual(expected);

    expect(seen[0]).toEqual(['ready', { replicaCount: 3, inService: 3, replicas: [0, 1, 2].map((index) => ({ index, name: `in-process replica ${index}`, inService: true })), ticks: 2000, rateHz: 200 }]);
    expect(seen.at(-1)).toEqual(['end', summary]);
    // Every tick once, in order; a tick's other events come before its tick event.
    const ticks = seen.filter(([name]) => name === 'tick').map(([, tick]) => tick);
    expect(ticks).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    let lastTick = -1;
    for (const [name, payload] of seen) {
      if (name === 'tick') lastTick = payload as number;
      else if (name !== 'ready' && name !== 'end') expect((payload as { tick: number }).tick, name).toBe(lastTick + 1);
    }
    // The summary agrees: detections at the exclusions' ticks, the mode history at each change's inForceFromTick.
    const excluded = seen.filter(([name]) => name === 'replicaExcluded').map(([, p]) => p as RuntimeEvents['replicaExcluded']);
    expect(summary.faults.map((f) => [f.replica, f.detectedTick, f.reason])).toEqual(excluded.map((e) => [e.replicaIndex, e.tick, e.reason]));
    const changes = seen.filter(([name]) => name === 'modeChange').map(([, p]) => p as RuntimeEvents['modeChange']);
    expect(summary.modeHistory.slice(1).map((m) => [m.tick, m.mode])).toEqual(changes.map((c) => [c.inForceFromTick, c.to]));
  });

  it('with recovery: exclusion, probation and re-admission, counted from the tick the summary gives', async () => {
    const inject = ['crash:1@500'];
    const runtime = await createRuntime({ ticks: 2000, inject, recovery: true }, { mode: 'simulation' });
    const seen = record(runtime);
    const summary = await runtime.start();
    const expected = oracleEvents(2000, inject, true);
    expect(expected.map((l) => l.split(' ')[1])).toEqual(['replicaExcluded', 'modeChange', 'probationStarted', 'replicaReadmitted', 'modeChange']);
    expect(eventLines(seen)).toEqual(expected);
    const readmitted = seen.find(([name]) => name === 'replicaReadmitted')![1] as RuntimeEvents['replicaReadmitted'];
    expect(readmitted.countedFromTick).toBe(readmitted.tick + 1);
    expect(summary.modeHistory.at(-1)).toEqual({ tick: readmitted.countedFromTick, mode: 'tmr', reason: expect.stringContaining('READMITTED') as unknown });
  });

  it('the tick event is one object, its fields this tick’s', async () => {
    const runtime = await createRuntime({ ticks: 300, inject: ['crash:0@100'] }, { mode: 'simulation' });
    const objects = new Set<TickEvent>();
    const sources: string[] = [];
    runtime.on('tick', (t) => {
      objects.add(t);
      // pid-q16: two output channels.
      expect(t.commands).toHaveLength(2);
      expect(t.replicaStatus).toHaveLength(3);
      if (t.tick === 150) sources.push(t.commandSource, t.mode, t.replicaStatus.join(','));
    });
    await runtime.start();
    expect(objects.size).toBe(1);
    expect(sources).toEqual(['voted', 'duplex', 'excluded,inService,inService']);
  });

  it('injectFault adds a fault as an inject entry would; stop() in a listener ends a simulation after that tick', async () => {
    const runtime = await createRuntime({ ticks: 2000 }, { mode: 'simulation' });
    runtime.injectFault({ kind: 'wrong', replica: 2, atTick: 300, durationTicks: 50 });
    runtime.injectFault({ kind: 'stall', atTick: 900, durationTicks: 5 });
    expect(() => runtime.injectFault({ kind: 'crash', replica: 3, atTick: 10 })).toThrow(/^injectFault: replica must be between 0 and 2, got 3$/);
    expect(() => runtime.injectFault({ kind: 'crash', replica: 1, atTick: 10, durationTicks: 5 })).toThrow(/a crash fault takes no \+TICKS duration/);
    expect(() => runtime.injectFault({ kind: 'stall', atTick: 902, durationTicks: 5 })).toThrow(/stalls may not overlap/);
    runtime.on('tick', (t) => {
      if (t.tick === 999) runtime.stop();
    });
    const summary = await runtime.start();
    expect(summary.faults.map((f) => [f.kind, f.replica, f.injectedTick, f.outcome])).toEqual([['wrong', 2, 300, 'detected']]);
    expect(summary.stalls).toEqual([{ startTick: 900, durationTicks: 5 }]);
    expect(summary.ticks).toBe(1000);
    expect((summary as { interrupted: boolean }).interrupted).toBe(true);
    expect(() => runtime.injectFault({ kind: 'crash', replica: 1, atTick: 10 })).toThrow(ConfigError);
    await expect(runtime.start()).rejects.toThrow(/has run already/);
  });

  it('stop() before start(): no tick run, no log left behind', async () => {
    const logFile = join(dir, 'stopped-early.bbx');
    const runtime = await createRuntime({ ticks: 500 }, { mode: 'simulation', logFile });
    const seen = record(runtime);
    runtime.stop();
    const summary = await runtime.start();
    expect(summary.ticks).toBe(0);
    expect((summary as { interrupted: boolean }).interrupted).toBe(true);
    expect(seen.map(([name]) => name)).toEqual(['end']);
    expect(existsSync(logFile)).toBe(false);
  });

  it('killSwitch(reason) trips after the current tick; the trip is an event, then the end', async () => {
    const runtime = await createRuntime({ ticks: 2000 }, { mode: 'simulation', killSwitch: { tickBudget: 1500 } });
    const seen = record(runtime);
    runtime.on('tick', (t) => {
      if (t.tick === 700) runtime.killSwitch('the application asked');
    });
    const summary = await runtime.start();
    expect(summary.killSwitch).toEqual({ trigger: 'EXTERNAL', tick: 700, detail: 'the application asked' });
    expect(seen.slice(-3).map(([name, p]) => (name === 'tick' ? `tick ${p as number}` : name))).toEqual(['tick 700', 'killSwitch', 'end']);
    expect(seen.at(-2)![1]).toEqual(summary.killSwitch);
  });

  it('a listener that throws ends the run, and start() rejects with its error', async () => {
    const runtime = await createRuntime({ ticks: 500 }, { mode: 'simulation' });
    runtime.on('tick', (t) => {
      if (t.tick === 10) throw new Error('the listener broke');
    });
    await expect(runtime.start()).rejects.toThrow('the listener broke');
  });

  it('on() returns its own off, and bounds its listeners', async () => {
    const runtime = await createRuntime({ ticks: 10 }, { mode: 'simulation' });
    let calls = 0;
    const off = runtime.on('tick', () => calls++);
    runtime.on('tick', () => off());
    for (let i = 0; i < 64; i++) runtime.on('end', () => {});
    expect(() => runtime.on('end', () => {})).toThrow(/at most 64 listeners/);
    await runtime.start();
    expect(calls).toBe(1);
  });
});

describe('a configuration it refuses: a ConfigError naming the field, nothing started', () => {
  const cases: [RuntimeConfig | unknown, RuntimeOptions, RegExp][] = [
    [{ rateHz: 0 }, {}, /^createRuntime: rateHz must be between 1 and 2000, got 0$/],
    [{ rateHz: '200' }, {}, /^createRuntime: rateHz must be a whole number \(a number, not a string\), got '200'$/],
    [{ rate: 50 }, {}, /^createRuntime: rate is not a setting \(settings: law, plant, replicaCount, replicas, rateHz, /],
    [{ replicaCount: 4 }, { mode: 'simulation' }, /^createRuntime: replicaCount must be odd and at least 3/],
    [{ ticks: 100, inject: ['crash:7@10'] }, { mode: 'simulation' }, /^createRuntime: inject 'crash:7@10': replica 7 does not exist \(replicas are 0\.\.2\)$/],
    [{ inject: 'crash:1@10' }, { mode: 'simulation' }, /^createRuntime: inject must be an array of strings/],
    [{ deadlineUs: 1000 }, { mode: 'simulation' }, /^createRuntime: mode 'simulation' does not use deadlineUs \(tmr run only: the simulator has no wall clock\)$/],
    [{ replicas: ['node', 'node', 'node'] }, { mode: 'simulation' }, /^createRuntime: mode 'simulation' does not use replicas/],
    [{ replicas: ['node', 'teapot', 'node'] }, {}, /^createRuntime: replicas\[1\] 'teapot': unknown replica kind/],
    [{ recovery: { probation: 5 } }, {}, /^createRuntime: recovery\.probation is not a setting/],
    [{ recovery: { probationTicks: 0 } }, {}, /^createRuntime: recovery\.probationTicks must be between/],
    [{ simplexPolicy: 'maybe' }, {}, /^createRuntime: simplexPolicy must be 'safe' or 'simplex', got 'maybe'$/],
    [{ startPolicy: 'eventually' }, {}, /^createRuntime: startPolicy must be 'full' or 'degraded'/],
    [{ law: 'no-such-law' }, {}, /^createRuntime: law no-such-law: neither a shipped law \(pid-q16, tank\) nor a \.js or \.ts file$/],
    [{ law: 'tank', plant: 'motor' }, {}, /^plant 'motor' supplies inputs setpointMilliDeg, positionMilliDeg; law 'tank' takes/],
    [{ io: 'teapot:1' }, {}, /^createRuntime: io 'teapot:1': expected firmata/],
    [null, {}, /^createRuntime: the configuration must be a plain object, got null$/],
    [[], {}, /^createRuntime: the configuration must be a plain object, got \[\]$/],
    [new Map(), {}, /^createRuntime: the configuration must be a plain object/],
    [{}, { mode: 'fast' as never }, /^createRuntime: options\.mode must be 'realtime' or 'simulation', got 'fast'$/],
    [{}, { colour: 'red' } as never, /^createRuntime: options\.colour is not an option \(options: mode, logFile, killSwitch, actuator, extensions\)$/],
    [{}, { logFile: 3 as never }, /^createRuntime: options\.logFile must be text, got 3$/],
    [{}, { killSwitch: { tickBudget: 0 } }, /^createRuntime: options\.killSwitch\.tickBudget must be between 1 and 100000000, got 0$/],
    [{}, { killSwitch: { errorRate: { errorsMax: 3 } } as never }, /^createRuntime: options\.killSwitch\.errorRate must be \{ errorsMax, windowTicks \}/],
    [{}, { killSwitch: { errorRate: { errorsMax: 3, windowTicks: 0 } } }, /^createRuntime: options\.killSwitch\.errorRate\.windowTicks must be between 1 and 1000000, got 0$/],
    [{}, { killSwitch: { panic: 1 } as never }, /^createRuntime: options\.killSwitch\.panic is not a trigger/],
    [{}, { mode: 'simulation', killSwitch: { wallBudgetMs: 100 } }, /^createRuntime: options\.killSwitch\.wallBudgetMs: mode 'simulation' does not use it \(tmr run only: the simulator has no wall clock\)$/],
    [{}, { mode: 'simulation', actuator: 'firmata:/dev/null' }, /^createRuntime: options\.actuator: mode 'simulation' takes no actuator/],
    [{}, { actuator: 'teapot:1' }, /^createRuntime: options\.actuator 'teapot:1': no actuator is available \(an extension adds one\)$/],
    [{}, { extensions: [{ name: 'x', replicaKinds: 'node' } as never] }, /^createRuntime: options\.extensions\[0\]: replicaKinds must be an array$/],
  ];
  it.each(cases)('%j %j', async (config, options, pattern) => {
    const logFile = join(dir, `refused-${Math.random()}.bbx`);
    const error: unknown = await createRuntime(config as RuntimeConfig, { logFile, ...options }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).name).toBe('ConfigError');
    expect((error as Error).message).toMatch(pattern);
    // Nothing started: not even the log file was created.
    expect(existsSync(logFile)).toBe(false);
  });

  it('a log file that cannot be created is refused by start(), naming it', async () => {
    const runtime = await createRuntime({ ticks: 10 }, { mode: 'simulation', logFile: join(dir, 'no-such-dir', 'x.bbx') });
    await expect(runtime.start()).rejects.toThrow(/^createRuntime: options\.logFile .*no-such-dir\/x\.bbx: cannot create \(ENOENT/);
  });
});

describe("importing 'tmr' stays light", () => {
  /** Static, value imports only (type-only imports and dynamic import() load nothing up front). */
  function staticImports(file: string): string[] {
    const text = readFileSync(join(ROOT, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
    const out: string[] = [];
    for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gm)) if (m[2] === undefined) out.push(m[3]!);
    return out;
  }

  it("index.ts's static import graph holds no serial port, no runner, no CBOR (a law module imports 'tmr' in every replica)", () => {
    const seen = new Set<string>();
    const packages = new Set<string>();
    const queue = ['src/index.ts'];
    // Bounded by the source tree: each file is visited once.
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const spec of staticImports(file)) {
        if (spec.startsWith('.')) queue.push(join(file, '..', spec).replace(/\.js$/, '.ts'));
        else packages.add(spec);
      }
    }
    expect(seen.has('src/api/runtime.ts')).toBe(true);
    expect([...seen].filter((f) => /realtime-runner|serial-transport|black-box|tmr-runtime|cli\/options/.test(f))).toEqual([]);
    expect([...packages].filter((p) => !p.startsWith('node:'))).toEqual([]);
  });
});
