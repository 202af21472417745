import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Encoder } from 'cbor-x';
import { afterAll, describe, expect, it } from 'vitest';
import { crc32 } from '../../src/core/crc32.js';
import { BlackBoxWriter } from '../../src/loop/black-box.js';
import { readBlackBox, type BlackBoxContents } from '../../src/loop/black-box-reader.js';
import { shippedLaw } from '../../src/law/law-loader.js';

const PID = shippedLaw('pid-q16');
import type { FaultSpec, LoopOptions } from '../../src/loop/loop-model.js';
import { DEFAULT_LOOP_OPTIONS } from '../../src/sim/plants.js';
import { replayBlackBox } from '../../src/loop/replay.js';
import { runSimulation } from '../../src/sim/simulator.js';
import { assertFreshBuild, killTree, runCli } from '../helpers/cli.js';
import { logSimulationTo } from '../helpers/log-simulation.js';

const dir = mkdtempSync(join(tmpdir(), 'tmr-black-box-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Simulates a run and logs it exactly as `tmr sim --log` does; the clock is a counter the test controls. */
function logSimulation(name: string, options: Partial<LoopOptions>, clock: { ms: number } = { ms: 0 }): string {
  const path = join(dir, `${name}.bbx`);
  logSimulationTo(path, { ...DEFAULT_LOOP_OPTIONS, ticks: 1_500, ...options }, clock);
  return path;
}

const FAULTS: FaultSpec[] = [
  { kind: 'wrong', replicaIndex: 1, startTick: 300, durationTicks: 100 },
  { kind: 'bitflip', replicaIndex: 3, startTick: 600, durationTicks: 0 },
  { kind: 'crash', replicaIndex: 0, startTick: 900, durationTicks: 0 },
  { kind: 'stuck', replicaIndex: 2, startTick: 1_200, durationTicks: 0 },
];

describe('the black-box log', () => {
  it('reads back every tick of a run, and replay reproduces every command and checks every voted one against the law', () => {
    const path = logSimulation('faults', { replicaCount: 5, injects: FAULTS });
    const log = readBlackBox(path);
    expect(log.header?.replicaCount).toBe(5);
    expect(log.ticks).toHaveLength(1_500);
    expect(log.end?.reason).toBe('completed');
    expect(log.tornBytes).toBe(0);
    expect(log.corruption).toBeNull();
    const exclusions = log.ticks.flatMap((t) => t.events.filter((e) => e[0] === 'replicaExcluded').map((e) => e[1]));
    expect(exclusions.sort()).toEqual([0, 1, 3]);
    const report = replayBlackBox(log, PID);
    expect(report.mismatchCount).toBe(0);
    expect(report.votedChecked).toBeGreaterThan(1_000);
    expect(log.ticks.some((t) => t.source === 'safe')).toBe(true);
  });

  it('replay finds a command the voter would not have produced, and a voted command the law would not', () => {
    const log = readBlackBox(logSimulation('tamper', { injects: [FAULTS[0]!] }));
    const tamperedCommand: BlackBoxContents = { ...log, ticks: log.ticks.map((t) => (t.tick === 700 ? { ...t, commands: [t.commands[0]! + 1, ...t.commands.slice(1)] } : t)) };
    const first = replayBlackBox(tamperedCommand, PID).mismatches[0];
    expect(first).toMatchObject({ tick: 700, what: 'command' });
    // Other inputs for the law at tick 700, the same replies for the voter: only the law check can see it.
    const tamperedInput: BlackBoxContents = { ...log, ticks: log.ticks.map((t) => (t.tick === 700 ? { ...t, inputs: [t.inputs[0]!, t.inputs[1]! + 500] } : t)) };
    expect(replayBlackBox(tamperedInput, PID).mismatches[0]).toMatchObject({ tick: 700, what: 'law' });
  });

  it('reads a tail torn at any byte up to its last complete record, and says how much was cut', () => {
    const path = logSimulation('torn', { ticks: 200 });
    const whole = readFileSync(path);
    const full = readBlackBox(path);
    // Record boundaries, from the length prefixes: [end offset of record k].
    const ends: number[] = [];
    for (let offset = 8; offset < whole.length; offset += whole.readUInt32LE(offset) + 12) ends.push(offset + whole.readUInt32LE(offset) + 12);
    expect(ends.at(-1)).toBe(whole.length);
    for (let cut = ends.at(-4)! - 3; cut < whole.length; cut++) {
      const torn = join(dir, 'torn-copy.bbx');
      writeFileSync(torn, whole.subarray(0, cut));
      const log = readBlackBox(torn);
      const complete = ends.filter((e) => e <= cut);
      expect(log.corruption).toBeNull();
      expect(log.tornBytes).toBe(cut - (complete.at(-1) ?? 8));
      // Records: the header, the ticks, the end record last.
      expect(log.ticks.length).toBe(Math.min(complete.length - 1, full.ticks.length));
      expect(log.ticks.every((t, i) => t.commands[0] === full.ticks[i]!.commands[0])).toBe(true);
      expect(replayBlackBox(log, PID).mismatchCount).toBe(0);
    }
  });

  it('reports a damaged record with data after it as damage, keeping every record before it', () => {
    const path = logSimulation('damaged', { ticks: 200 });
    const bytes = readFileSync(path);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x40;
    const damaged = join(dir, 'damaged-copy.bbx');
    writeFileSync(damaged, bytes);
    const log = readBlackBox(damaged);
    expect(log.corruption).toMatch(/^at byte \d+: (a record of \d+ bytes fails its CRC|a record's length field fails its CRC)/);
    expect(log.ticks.length).toBeGreaterThan(80);
    expect(log.ticks.length).toBeLessThan(200);
  });

  it('writes on its 100 ms period and at once after a health change, not every tick', () => {
    const clock = { ms: 0 };
    const path = join(dir, 'flush.bbx');
    const writer = new BlackBoxWriter(path, () => clock.ms);
    const flushedAt: number[] = [];
    const eventTicks: number[] = [];
    let size = 0;
    runSimulation({ ...DEFAULT_LOOP_OPTIONS, ticks: 1_000, injects: [FAULTS[0]!] }, {
      onTick: (model, result) => {
        if (result.tick === 0) writer.writeHeader(readBlackBox(logSimulation('flush-header', { ticks: 1 })).header!);
        size = statSync(path).size;
        writer.writeTick(result.tick, model.inputs, model.obs, result);
        if (result.events.length > 0) eventTicks.push(result.tick);
        if (statSync(path).size !== size) flushedAt.push(result.tick);
        clock.ms += 1; // 1 ms a tick: the period elapses every 100 ticks
      },
    });
    writer.close();
    expect(eventTicks.length).toBeGreaterThan(0);
    const expected: number[] = [];
    let last = 0;
    for (let tick = 0; tick < 1_000; tick++) {
      // The clock reads `tick` ms while tick `tick` is written; the header was flushed at 0 ms.
      if (eventTicks.includes(tick) || tick - last >= 100) {
        expected.push(tick);
        last = tick;
      }
    }
    expect(flushedAt).toEqual(expected);
    expect(readBlackBox(path).ticks).toHaveLength(1_000);
  });
});

describe('tmr run --log, killed', () => {
  it('SIGKILL of the voter mid-run: the log reads to its last complete record and replays bit for bit', async () => {
    assertFreshBuild();
    const path = join(dir, 'killed.bbx');
    let pid: number | undefined;
    const run = runCli(['run', '--rate-hz', '200', '--ticks', '4000', '--inject', 'wrong:1@200+50', '--log', path], {
      timeoutMs: 30_000,
      onSpawn: (child) => (pid = child.pid),
    });
    // Kill once the log has some ticks in it (start-up takes about a second).
    for (let i = 0; i < 200 && (statSync(path, { throwIfNoEntry: false })?.size ?? 0) < 30_000; i++) await new Promise((r) => setTimeout(r, 50));
    killTree(pid);
    const result = await run;
    expect(result.signal, result.stderr).toBe('SIGKILL');
    const summary = await runCli(['log', path]);
    expect(summary.code).toBe(0);
    expect(summary.stdout).toContain('no end record: the run did not end in order');
    // Health changes are in the log: replica 1's wrong outputs from tick 200 (or, when this busy
    // suite stalled a replica first, that exclusion: seen once as DEADLINE_MISSED at tick 197).
    expect(summary.stdout, summary.stdout).toMatch(/tick \d+: replica \d excluded: (OUTPUT_DISAGREE|DEADLINE_MISSED|LATE_REPLY)/);
    const replay = await runCli(['replay', path, '--json']);
    const report = JSON.parse(replay.stdout) as { ok: boolean; ticks: number; mismatchCount: number; ended: boolean };
    expect(replay.code).toBe(0);
    expect(report, replay.stdout).toMatchObject({ ok: true, mismatchCount: 0, ended: false });
    expect(report.ticks, `${result.stderr}\n${summary.stdout}`).toBeGreaterThan(300);
  }, 40_000);

  it('a log remembers its law: tmr sim --law tank --log, then tmr log, CSV by channel name and tmr replay with no flag', async () => {
    const path = join(dir, 'tank.bbx');
    const sim = await runCli(['sim', '--law', 'tank', '--rate-hz', '50', '--ticks', '800', '--inject', 'stuck:2@300', '--log', path, '--json']);
    expect(sim.code, sim.stderr).toBe(0);
    const summary = await runCli(['log', path]);
    expect(summary.stdout).toContain('run: law tank v1 on plant tank, 3 replicas at 50 Hz');
    const csv = await runCli(['log', path, '--csv']);
    expect(csv.stdout.split('\n')[0]).toBe('tick,in_levelSetpointMm,in_levelMm,in_highSwitch,cmd_valvePermille,cmd_pumpOn,cmd_alarm,source,mode,in_service_mask,r0_on_time,r0_valvePermille,r1_on_time,r1_valvePermille,r2_on_time,r2_valvePermille,events');
    const replay = await runCli(['replay', path, '--json']);
    expect(replay.code, replay.stderr).toBe(0);
    const report = JSON.parse(replay.stdout) as { ok: boolean; ticks: number; mismatchCount: number; votedChecked: number };
    expect(report).toMatchObject({ ok: true, ticks: 800, mismatchCount: 0 });
    expect(report.votedChecked).toBe(800);
  });

  it('tmr log lists probations and re-admissions, dated as the summary dates them (issue 17, item 14)', async () => {
    const path = join(dir, 'readmitted.bbx');
    const sim = await runCli(['sim', '--seed', '5', '--ticks', '700', '--rate-hz', '50', '--recover', '--inject', 'crash:1@500', '--log', path, '--json']);
    expect(sim.code, sim.stderr).toBe(0);
    const summary = JSON.parse(sim.stdout) as { modeHistory: { tick: number; mode: string }[]; recovery: { records: { readmittedTick: number; probationTick: number }[] } };
    const record = summary.recovery.records[0]!;
    const back = summary.modeHistory.find((m) => m.mode === 'tmr' && m.tick > 0)!;
    expect(back.tick).toBe(record.readmittedTick);
    const text = (await runCli(['log', path])).stdout;
    expect(text).toContain(`tick ${record.probationTick}: replica 1 on probation`);
    expect(text).toContain(`tick ${record.readmittedTick - 1}: replica 1 re-admitted, in the vote from tick ${record.readmittedTick}`);
    expect(text).toContain(`tick ${back.tick}: mode tmr`);
    const log = readBlackBox(path);
    expect(log.ticks[back.tick]!.mode).toBe('tmr');
    expect(log.ticks[back.tick - 1]!.mode).toBe('duplex');
  });

  it('refuses a log of an older format (before laws were modules), in one line', async () => {
    const old = join(dir, 'format-1.bbx');
    const payload = Buffer.from(new Encoder({ useRecords: false }).encode([0, { version: 1, rateHz: 200 }]));
    const record = Buffer.alloc(payload.length + 8);
    record.writeUInt32LE(payload.length, 0);
    payload.copy(record, 4);
    record.writeUInt32LE(crc32(payload), 4 + payload.length);
    writeFileSync(old, Buffer.concat([Buffer.from('TMRBBX1\n', 'latin1'), record]));
    const replay = await runCli(['replay', old]);
    expect(replay.code).toBe(2);
    expect(replay.stderr).toBe(`tmr: ${old}: log format 1, written by another tmr; this one reads formats 2, 3 and 4\n`);
  });

  it('refuses a file that is not a log, and bad usage, in one line', async () => {
    const notLog = join(dir, 'not-a-log.txt');
    writeFileSync(notLog, 'hello\n');
    const replay = await runCli(['replay', notLog]);
    expect(replay.code).toBe(2);
    expect(replay.stderr.trim()).toBe(`tmr: ${notLog}: not a tmr black-box log (no "TMRBBX2" at the start)`);
    const usage = await runCli(['log']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage: tmr log FILE [--csv | --jsonl]');
    const missing = await runCli(['replay', join(dir, 'nope.bbx')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toMatch(/nope\.bbx: no such file \(ENOENT\)$/);
  });
});
