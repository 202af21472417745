/**
 * The black box against its own damaged logs (issue 17, items 1–4, 8 and 10): a sample of the
 * damage fuzz (test/fuzz/black-box-damage.ts; `npm run fuzz` tries every bit and every cut), and
 * one test per defect found, each through the CLI a user runs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Encoder } from 'cbor-x';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prng } from '../../src/core/prng.js';
import { BLACK_BOX_MAGIC } from '../../src/loop/black-box.js';
import { readBlackBox } from '../../src/loop/black-box-reader.js';
import { assertFreshBuild, runCli, CLI } from '../helpers/cli.js';
import {
  checkCut, checkFlip, checkMutation, closeDamage, framedRecord, openForDamage, recordAt, restore, writeFuzzLog, type FuzzLog,
} from '../fuzz/black-box-damage.js';

const dir = mkdtempSync(join(tmpdir(), 'tmr-bbx-damage-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const SEED = 17;

let log: FuzzLog;
beforeAll(() => {
  log = writeFuzzLog(dir, 2_000);
});

describe('damaged logs: a sample of every bit and every cut (npm run fuzz tries them all)', () => {
  it('a bit flipped in any record is damage at that record, after exactly the records before it', () => {
    const prng = new Prng(SEED);
    const records = log.offsets.length;
    // Every bit of the magic, the header, three tick records, the last tick and the end record; then random bits.
    const chosen = [0, 1, 2 + prng.nextBelow(records - 4), 2 + prng.nextBelow(records - 4), records - 2, records - 1];
    const bits: number[] = Array.from({ length: 64 }, (_, b) => b);
    for (const k of chosen) {
      const start = log.offsets[k] as number;
      const end = k + 1 < records ? (log.offsets[k + 1] as number) : log.bytes.length;
      for (let b = start * 8; b < end * 8; b++) bits.push(b);
    }
    for (let i = 0; i < 3_000; i++) bits.push(prng.nextBelow(Math.min(log.bytes.length * 8, 1 << 21)));
    const fd = openForDamage(log);
    try {
      const violations = bits.map((b) => checkFlip(log, fd, b)).filter((v) => v !== null);
      expect(violations.slice(0, 5), `seed ${SEED}`).toEqual([]);
      // The checkpoint is the reader's whole state: from the start, the same outcome.
      const fromStart = bits.filter((_, i) => i % 40 === 0).map((b) => checkFlip(log, fd, b, true)).filter((v) => v !== null);
      expect(fromStart.slice(0, 5)).toEqual([]);
    } finally {
      closeDamage(fd);
    }
    expect(readFileSync(log.path).equals(log.bytes)).toBe(true);
  });

  it('a log cut at any byte is a torn tail of exactly the bytes after its last whole record, never damage', () => {
    const prng = new Prng(SEED + 1);
    const size = log.bytes.length;
    const cuts = new Set<number>();
    // Every cut through the last three records and the first two, then random ones.
    for (let c = log.offsets.at(-3) as number; c < size; c++) cuts.add(c);
    for (let c = 0; c <= (log.offsets[2] as number); c++) cuts.add(c);
    for (let i = 0; i < 1_000; i++) cuts.add(prng.nextBelow(size));
    const fd = openForDamage(log);
    try {
      const ordered = [...cuts].sort((a, b) => b - a);
      const violations = ordered.map((c) => checkCut(log, fd, c)).filter((v) => v !== null);
      expect(violations.slice(0, 5), `seed ${SEED + 1}`).toEqual([]);
      restore(log);
      const fromStart = ordered.filter((_, i) => i % 25 === 0).map((c) => checkCut(log, fd, c, true)).filter((v) => v !== null);
      expect(fromStart.slice(0, 5)).toEqual([]);
    } finally {
      closeDamage(fd);
      restore(log);
    }
  });

  it('a record rewritten with good CRCs and a malformed payload is damage at its byte, or replays with named errors only', () => {
    const prng = new Prng(SEED + 2);
    const scratch = join(dir, 'mutated.bbx');
    const violations: string[] = [];
    for (let i = 0; i < 400; i++) {
      const k = i < 60 ? 0 : i < 100 ? log.offsets.length - 1 : prng.nextBelow(log.offsets.length);
      const v = checkMutation(log, scratch, k, SEED * 1_000 + i);
      if (v !== null) violations.push(v);
    }
    expect(violations.slice(0, 5)).toEqual([]);
  });
});

/** The file with record k replaced by `value` encoded and framed with good CRCs. */
function withRecord(source: FuzzLog, k: number, value: unknown, name: string): string {
  const start = source.offsets[k] as number;
  const end = k + 1 < source.offsets.length ? (source.offsets[k + 1] as number) : source.bytes.length;
  const record = framedRecord(new Encoder({ useRecords: false, tagUint8Array: false }).encode(value));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([source.bytes.subarray(0, start), record, source.bytes.subarray(end)]));
  return path;
}

describe('tmr log and tmr replay on damaged logs (through the CLI)', () => {
  it('item 2: a bit flipped in the length field of a record near the end is damage with its offset, exit 1, not a torn tail', async () => {
    assertFreshBuild();
    const k = log.offsets.length - 40;
    const start = log.offsets[k] as number;
    const bytes = Buffer.from(log.bytes);
    // +8,192 bytes: a length still in range, running past the end of the file (read as a torn tail before format 4).
    bytes[start + 1]! ^= 0x20;
    const path = join(dir, 'length-flip.bbx');
    writeFileSync(path, bytes);
    const summary = await runCli(['log', path]);
    expect(summary.code).toBe(1);
    expect(summary.stdout).toContain(`DAMAGED: at byte ${start}: a record's length field fails its CRC`);
    expect(summary.stdout).not.toContain('torn tail');
    const replay = await runCli(['replay', path, '--json']);
    expect(replay.code).toBe(1);
    expect(JSON.parse(replay.stdout)).toMatchObject({ ok: false, damageOffset: start, tornBytes: 0, ticks: k - 1 });
  });

  it('item 3: a header with a good CRC and a malformed field is a named error with its offset, exit 1, never an assertion', async () => {
    const header = readBlackBox(log.path).header!;
    for (const [name, bad, field] of [
      ['excluded', { ...header, initialExcluded: 5 }, 'initialExcluded'],
      ['replicas', { ...header, replicaCount: 4 }, 'replicaCount'],
      ['quorum', { ...header, quorumLossTicksMax: 1_000 }, 'quorumLossTicksMax'],
    ] as const) {
      const path = withRecord(log, 0, [0, bad], `header-${name}.bbx`);
      for (const command of ['log', 'replay']) {
        const result = await runCli([command, path]);
        expect(result.code, `${command} ${name}: ${result.stderr}`).toBe(1);
        expect(result.stdout).toContain(`DAMAGED: at byte 8: the header record: ${field}`);
        expect(result.stderr + result.stdout).not.toMatch(/assertion|is not iterable|at .*\.js:\d+/);
      }
    }
  });

  it('item 3: tick records that no run could write (a replica out of range, a probation for one in service) are named, never an assertion', async () => {
    const ticks = readBlackBox(log.path).ticks;
    const t = ticks[10]!;
    const asArray = (r: typeof t): unknown[] => [1, r.tick, r.inputs, r.onTimeMask, r.outputs, r.digests, r.lateReplies, r.protocolErrors, r.linkDownMask, r.commands, 0, 0, r.inServiceMask, r.events, 0];
    const outOfRange = withRecord(log, 11, asArray({ ...t, events: [['replicaExcluded', 7, 'X']] }), 'event-replica.bbx');
    const result = await runCli(['replay', outOfRange]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`DAMAGED: at byte ${log.offsets[11]}: the record after tick 9: events[0]`);
    const probation = withRecord(log, 11, asArray({ ...t, events: [['probationStarted', 1, '']] }), 'event-probation.bbx');
    const replay = await runCli(['replay', probation]);
    expect(replay.code).toBe(1);
    expect(replay.stdout).toContain('replay stopped: tick 10: probationStarted for replica 1, which the voter has inService');
    expect(replay.stderr).toBe('');
  });

  it('item 8: tmr log refuses a device and a FIFO at once, naming the path, instead of reading without bound or hanging', async () => {
    const zero = await runCli(['log', '/dev/zero'], { timeoutMs: 10_000 });
    expect(zero.code).toBe(2);
    expect(zero.stderr).toBe('tmr: log /dev/zero: a character device, not a regular file\n');
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const replay = await runCli(['replay', fifo], { timeoutMs: 10_000 });
    expect(replay.code).toBe(2);
    expect(replay.stderr).toBe(`tmr: log ${fifo}: a FIFO, not a regular file\n`);
  });
});

describe('item 1: tmr log and tmr replay stream a log in bounded memory', () => {
  it('a 200,000-tick log is summarised, exported and replayed with a 48 MB heap (the whole log read at once needs about 150 MB)', async () => {
    const big = join(dir, 'big.bbx');
    const sim = await runCli(['sim', '--ticks', '200000', '--inject', 'wrong:1@1000+50', '--log', big], { timeoutMs: 60_000 });
    expect(sim.code, sim.stderr).toBe(0);
    expect(statSync(big).size).toBeGreaterThan(12_000_000);
    const env = { ...process.env, NODE_OPTIONS: '--max-old-space-size=48' };
    for (const args of [['log', big], ['replay', big, '--json']]) {
      const result = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 20 });
      expect(result.status, `${args.join(' ')}: ${result.stderr.slice(0, 500)}`).toBe(0);
    }
    const csv = spawnSync('bash', ['-c', `node ${CLI} log ${big} --csv | tail -n 1`], { env, encoding: 'utf8', timeout: 120_000 });
    expect(csv.stdout).toMatch(/^199999,/);
  }, 180_000);
});

describe('item 4 and 10: a log that cannot be written never stops the loop, and names its path', () => {
  it('a file-size limit mid-run: the run completes, the log ends at its last whole record, the failure is named, exit 5', () => {
    const path = join(dir, 'limited.bbx');
    // ulimit -f counts 1024-byte blocks: 20 KB, a few hundred ticks of log. The fault's health
    // changes flush the log at once (about tick 100); the next write, of a half-full buffer, fails.
    const run = spawnSync('bash', ['-c', `ulimit -f 20 && exec node ${CLI} sim --ticks 3000 --inject wrong:1@100+5 --log ${path} --json`], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(5);
    expect(run.stderr).toMatch(new RegExp(`^tmr: --log ${path}: write failed at tick \\d+ \\(EFBIG: file too large\\); the log holds ticks 0 to \\d+, cut back to its last complete record; the run goes on without it\\n$`));
    const summary = JSON.parse(run.stdout) as { ticks: number; blackBox: { complete: boolean; failure: { code: string; lastTickOnDisk: number } } };
    expect(summary.ticks).toBe(3_000);
    expect(summary.blackBox).toMatchObject({ path, complete: false, failure: { code: 'EFBIG' } });
    expect(statSync(path).size).toBeLessThanOrEqual(20 * 1024);
    const read = readBlackBox(path);
    expect(read).toMatchObject({ tornBytes: 0, damage: null, end: null });
    expect(read.ticks.length - 1).toBe(summary.blackBox.failure.lastTickOnDisk);
  });

  it('a log path that is not a regular file, or cannot be written, is refused before the run, naming the path', async () => {
    const full = await runCli(['sim', '--ticks', '10', '--log', '/dev/full']);
    expect(full.code).toBe(2);
    expect(full.stderr).toBe('tmr: --log /dev/full: not a regular file; a black-box log must be a file\n');
    const proc = await runCli(['sim', '--ticks', '10', '--log', '/proc/version']);
    expect(proc.code).toBe(2);
    expect(proc.stderr).toMatch(/^tmr: --log \/proc\/version: cannot (create|write) \(E[A-Z]+: [^)]+\)\n$/);
    const dirLog = await runCli(['sim', '--ticks', '10', '--log', dir]);
    expect(dirLog.stderr).toBe(`tmr: --log ${dir}: not a regular file; a black-box log must be a file\n`);
  });

  it('a trace that cannot be written names its path; a run refused at start-up leaves no log holding only the magic', async () => {
    const trace = await runCli(['sim', '--ticks', '100', '--trace', '/dev/full']);
    expect(trace.code).toBe(1);
    expect(trace.stderr).toBe('tmr: --trace /dev/full: write failed (ENOSPC: no space left on device)\n');
    const path = join(dir, 'never.bbx');
    const refused = await runCli(['run', '--replica', 'serial:/dev/tmr-no-such-port', '--replica', 'node', '--replica', 'node', '--ticks', '10', '--log', path], { timeoutMs: 30_000 });
    expect(refused.code, refused.stderr).toBe(1);
    expect(statSync(path, { throwIfNoEntry: false })).toBeUndefined();
  });

  it('the magic a log starts with is the checked-length format', () => {
    expect(log.bytes.toString('latin1', 0, 8)).toBe(BLACK_BOX_MAGIC);
    expect(recordAt(log, 8)).toBe(0);
  });
});
