/**
 * How the voter ends. Signals during shutdown (issue 17, item 11): SIGINT again and again while a
 * run stops must not cut the shutdown short; the actuator still gets the safe command, the
 * black-box log its end record, and the exit code says interrupted (130).
 *
 * What the voter leaves behind when it dies (issue 17, item 12). `tmr run` with simulated boards
 * starts, per board, socat (a pty pair whose links live in a /tmp/tmr-pty-* directory) and the
 * board process. SIGKILL of the voter runs none of its clean-up: every process it started must
 * still die with it (a board stopped by a hang fault too, which cannot see its stdin close), and
 * the directories it left are removed by the next start.
 *
 * What is asserted holds on a busy machine: the bounds are seconds where the kernel needs
 * microseconds, and everything started is killed by PID in `finally`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SimFirmataDrive } from '../../firmware-sim/firmata-drive-board.js';
import { DEFAULT_ACTUATOR } from '../../src/sim/actuator.js';
import { assertFreshBuild, childPids, CLI, killTree, replicaFlags, ROOT, runCli } from '../helpers/cli.js';
import { timingFigure } from '../helpers/timing-figure.js';

const logDir = mkdtempSync(join(tmpdir(), 'tmr-lifetime-'));
beforeAll(() => assertFreshBuild());
afterAll(() => rmSync(logDir, { recursive: true, force: true }));

/** A process as seen at one moment: its PID and its start time (so a reused PID is not mistaken for it). */
interface SeenProcess {
  readonly pid: number;
  readonly startTime: string;
  readonly command: string;
}

/** /proc/PID/stat's fields after the command name; null if the process is gone. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

function seen(pid: number): SeenProcess | null {
  const fields = statFields(pid);
  if (fields === null) return null;
  let command = '';
  try {
    command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    // gone meanwhile
  }
  // Field 3 is the state, field 22 the start time; fields[] starts at field 3.
  return { pid, startTime: fields[19]!, command };
}

/** Still running (a zombie has ended: only its parent's reaping is left). */
function remains(p: SeenProcess): boolean {
  const fields = statFields(p.pid);
  return fields !== null && fields[0] !== 'Z' && fields[19] === p.startTime;
}

function stateOf(pid: number): string | null {
  return statFields(pid)?.[0] ?? null;
}

/** Every process under `pid`, depth first. Bounded by the process tree. */
function descendants(pid: number): SeenProcess[] {
  const out: SeenProcess[] = [];
  for (const child of childPids(pid)) {
    const p = seen(child);
    if (p !== null) out.push(p, ...descendants(child));
  }
  return out;
}

/** The pty directories socat's links live in, read off socat's command lines. */
function ptyDirectories(processes: readonly SeenProcess[]): string[] {
  const dirs = new Set<string>();
  for (const p of processes) for (const m of p.command.matchAll(/link=(\S+?)(?:,|\s|$)/g)) dirs.add(dirname(m[1]!));
  return [...dirs];
}

function exists(dir: string): boolean {
  try {
    readdirSync(dir);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const untilMs = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > untilMs) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

const started: SeenProcess[] = [];
const leftDirs: string[] = [];
afterEach(() => {
  for (const p of started.splice(0)) if (remains(p)) killTree(p.pid);
  // Only directories this test saw its own voter's socat use.
  for (const dir of leftDirs.splice(0)) if (dir.startsWith(join(tmpdir(), 'tmr-pty-'))) rmSync(dir, { recursive: true, force: true });
});

/** Generous: the kernel delivers a parent-death signal at once; this is a loaded machine. */
const GONE_WITHIN_MS = 10_000;

describe('SIGKILL of the voter with simulated boards (issue 17, item 12)', () => {
  it('every process it started dies with it, a stopped board too; the next start removes the pty directories it left', async () => {
    // Board 1 hangs from tick 20 to the end (SIGSTOP): a board is not killed when it is excluded.
    const args = ['run', ...replicaFlags('sim-board', 'sim-board', 'sim-board'), '--ticks', '100000', '--inject', 'hang:1@20+90000'];
    const voter = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<void>((resolve) => voter.once('exit', () => resolve()));
    let stderr = '';
    voter.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      expect(await waitUntil(() => /replicas ready/.test(stderr), 60_000), `tmr ${args.join(' ')} never got ready: ${stderr}`).toBe(true);
      const processes = descendants(voter.pid!);
      started.push(...processes);
      const dirs = ptyDirectories(processes);
      leftDirs.push(...dirs);
      const socats = processes.filter((p) => p.command.startsWith('socat') || p.command.includes(' socat '));
      expect(socats.length, JSON.stringify(processes)).toBe(3);
      expect(dirs.length, JSON.stringify(processes)).toBe(3);
      // Not vacuous: board 1 is stopped when the voter dies.
      const board1 = processes.find((p) => p.command.includes('sim-board-main') && p.command.includes('sim-board-1'));
      expect(board1, JSON.stringify(processes)).toBeDefined();
      expect(await waitUntil(() => stateOf(board1!.pid) === 'T', 30_000), `board 1 (pid ${board1!.pid}) was never stopped: ${stateOf(board1!.pid)}`).toBe(true);

      const killedAtMs = Date.now();
      voter.kill('SIGKILL');
      await exited;
      await waitUntil(() => !processes.some(remains), GONE_WITHIN_MS);
      const left = processes.filter(remains);
      expect(left, `still running ${GONE_WITHIN_MS} ms after the voter was killed`).toEqual([]);
      timingFigure('ms from SIGKILL of the voter until every process it started was gone (polled every 50 ms)', Date.now() - killedAtMs, 1_000, { processes: processes.length });

      // The next start cleans the directories of a voter that is dead; its own go when it ends.
      expect(dirs.every(exists)).toBe(true);
      const next = await runCli(['run', ...replicaFlags('sim-board', 'sim-board', 'sim-board'), '--ticks', '20', '--json'], { timeoutMs: 120_000 });
      expect(next.code, next.stderr).toBe(0);
      expect(dirs.filter(exists), 'pty directories of the killed voter left after the next start').toEqual([]);
    } finally {
      if (voter.exitCode === null && voter.signalCode === null) voter.kill('SIGKILL');
    }
  }, 240_000);
});

/** One Servo step of the drive: ±12 V onto 1000–2000 µs, truncated by johnny-five. */
const PULSE_STEP_MV = 24;
/** Signals sent, one every SIGNAL_PERIOD_MS, from the first until the voter exits: Ctrl-C, a kill, a closed terminal, in turn. */
const SIGNAL_PERIOD_MS = 10;
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const SIGNALS_MAX = 1_000;

describe('signals during shutdown (issue 17, item 11)', () => {
  it('SIGINT, SIGTERM and SIGHUP in turn every 10 ms from the first until the voter exits: the drive still gets the safe command, the log its end record, exit 130', async () => {
    const drive = await SimFirmataDrive.start({ name: 'shutdown-drive', rateHz: 200 });
    const log = join(logDir, 'shutdown.bbx');
    let voter: ChildProcess | undefined;
    let signals = 0;
    try {
      const run = runCli(['run', '--ticks', '100000', '--log', log, '--actuator', `firmata:${drive.hostPath}`], { timeoutMs: 90_000, onSpawn: (child) => (voter = child) });
      expect(await drive.waitFor('armed', 60_000), 'the drive never saw a heartbeat from tmr run').not.toBeNull();
      await new Promise((r) => setTimeout(r, 500));
      const stillRunning = (): boolean => voter!.exitCode === null && voter!.signalCode === null;
      // Bounded by SIGNALS_MAX (ten seconds of signals; the shutdown takes a fraction of one).
      for (; signals < SIGNALS_MAX && stillRunning(); signals++) {
        try {
          process.kill(voter!.pid!, STOP_SIGNALS[signals % STOP_SIGNALS.length] as NodeJS.Signals);
        } catch {
          break;
        }
        await new Promise((r) => setTimeout(r, SIGNAL_PERIOD_MS));
      }
      const result = await run;
      const context = `${signals} signals; exit ${result.code ?? result.signal}; stderr: ${result.stderr}`;
      // At least one of each: a SIGHUP left to its default action killed the voter outright.
      expect(signals, context).toBeGreaterThan(STOP_SIGNALS.length);
      expect(result.signal, context).toBeNull();
      expect(result.code, context).toBe(130);
      // The actuator: the last command the host sent the drive is the safe one.
      const status = await drive.stop();
      expect(status, context).not.toBeNull();
      expect(Math.abs(status!.lastCommandMv! - DEFAULT_ACTUATOR.safeCommandMv), `${context}; drive: ${JSON.stringify(status)}`).toBeLessThanOrEqual(PULSE_STEP_MV);
      // The log: read back whole, ending with its end record.
      const read = await runCli(['log', log, '--jsonl']);
      expect(read.code, read.stderr).toBe(0);
      const records = read.stdout.trim().split('\n').map((line) => JSON.parse(line) as { record: string; reason?: string });
      expect(records[records.length - 1], context).toMatchObject({ record: 'end', reason: 'interrupted' });
    } finally {
      killTree(voter?.pid);
      await drive.stop();
    }
  }, 120_000);
});
