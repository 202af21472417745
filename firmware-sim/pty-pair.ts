/**
 * A linked pair of pseudo-terminals made by socat: bytes written to one end come out of the other,
 * like the two ends of a serial cable. The host opens `hostPath` through serialport exactly as it
 * would open /dev/ttyACM0; a simulated board (or an echo, or a noise proxy) opens `boardPath`.
 *
 * Both paths are stable symbolic links in a directory of ours, so a pair can be unplugged (socat
 * killed: both ttys vanish) and plugged in again (socat restarted: the links point at new ttys).
 * socat is started and stopped by PID; stop() always reaps it.
 *
 * When the process that made a pair is killed outright, stop() never runs: socat dies with it (a
 * parent-death signal, src/runtime/child-lifetime.ts), and its directory is left behind. So the
 * directory's name says whose it is (PID and start time), and the first pair a process opens
 * removes every such directory whose owner is gone (sweepStalePtyDirectories).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dieWithParent } from '../src/runtime/child-lifetime.js';

/** How long socat may take to print both tty names. */
const SOCAT_START_TIMEOUT_MS = 5_000;
const SOCAT_STOP_GRACE_MS = 1_000;
const SOCAT_STDERR_BYTES_MAX = 4_096;
/** The exit code of a program that could not execute the one it was asked to (setpriv, a shell). */
const COMMAND_NOT_FOUND = 127;

export class SocatMissingError extends Error {
  override readonly name = 'SocatMissingError';
}

export interface PtyPairOptions {
  /** Directory for the links; a fresh temporary one by default (removed by stop()). */
  readonly directory?: string;
  /** Prefix of the link names, e.g. "board-1" gives board-1.host and board-1.board. */
  readonly name?: string;
}

/** Prefix of the directories pairs make: `tmr-pty-PID.START-XXXXXX` (the owner's PID and start time). */
export const PTY_DIRECTORY_PREFIX = 'tmr-pty-';
const OWNED_DIRECTORY = /^tmr-pty-(\d+)\.(\d+)-[A-Za-z0-9]{6}$/;
/** Directories looked at in one sweep: far more than runs leave behind in practice. */
const SWEEP_ENTRIES_MAX = 100_000;

/** Whether this system has /proc (Linux): without it, a directory's owner is told by its PID alone. */
const PROC_AVAILABLE = existsSync('/proc/self/stat');
/** The start time written into a directory's name where there is no /proc to read it from. */
const START_UNKNOWN = '0';

/**
 * A process's start time in clock ticks since boot (/proc/PID/stat, field 22): with the PID it
 * names one process, whatever PID reuse does later. Null if the process is gone (a zombie has
 * ended too); START_UNKNOWN where there is no /proc.
 */
export function processStartTime(pid: number): string | null {
  if (!PROC_AVAILABLE) return START_UNKNOWN;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may hold spaces; field 3 follows the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return null;
  return fields[19] ?? START_UNKNOWN;
}

let ownTag: string | undefined;

/** This process's directory-name tag: PID.START. */
function ownerTag(): string {
  ownTag ??= `${process.pid}.${processStartTime(process.pid) ?? START_UNKNOWN}`;
  return ownTag;
}

/**
 * Removes the pty directories (in `parent`, the temporary directory by default) whose owner
 * process is gone: a PID that no longer runs, or runs a process started at another time. A
 * directory of a live owner, or one not named by an owner (another program's, an older tmr's),
 * is left alone. Returns the directories removed. Never throws: a sweep is housekeeping.
 */
export function sweepStalePtyDirectories(parent: string = tmpdir()): string[] {
  let entries: string[];
  try {
    entries = readdirSync(parent).filter((name) => name.startsWith(PTY_DIRECTORY_PREFIX)).slice(0, SWEEP_ENTRIES_MAX);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of entries) {
    const owner = OWNED_DIRECTORY.exec(name);
    if (owner === null) continue;
    const pid = Number(owner[1]);
    if (pid === process.pid) continue;
    const start = processStartTime(pid);
    const ownerRuns = start === START_UNKNOWN || owner[2] === START_UNKNOWN ? start !== null && pidRuns(pid) : start === owner[2];
    if (ownerRuns) continue;
    try {
      rmSync(join(parent, name), { recursive: true, force: true });
      removed.push(name);
    } catch {
      // Someone else's to remove (permissions), or gone meanwhile.
    }
  }
  return removed;
}

function pidRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Once per process, before its first pair: what killed runs left is cleaned before more is made. */
let swept = false;

export class PtyPair {
  private process: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private readonly ownsDirectory: boolean;
  readonly directory: string;
  readonly hostPath: string;
  readonly boardPath: string;

  private constructor(options: PtyPairOptions) {
    this.ownsDirectory = options.directory === undefined;
    if (this.ownsDirectory && !swept) {
      swept = true;
      sweepStalePtyDirectories();
    }
    this.directory = options.directory ?? mkdtempSync(join(tmpdir(), `${PTY_DIRECTORY_PREFIX}${ownerTag()}-`));
    const name = options.name ?? 'link';
    this.hostPath = join(this.directory, `${name}.host`);
    this.boardPath = join(this.directory, `${name}.board`);
  }

  /** Creates the pair and waits until both ttys exist. */
  static async open(options: PtyPairOptions = {}): Promise<PtyPair> {
    const pair = new PtyPair(options);
    await pair.plugIn();
    return pair;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  get isPlugged(): boolean {
    return this.process !== null;
  }

  /** Starts socat (again): the links now name live ttys. */
  async plugIn(): Promise<void> {
    if (this.process !== null) return;
    // socat never reads its stdin: only a parent-death signal ends it when we are killed.
    const socat = dieWithParent({ command: 'socat', args: ['-d', '-d', `pty,raw,echo=0,link=${this.hostPath}`, `pty,raw,echo=0,link=${this.boardPath}`] });
    const child = spawn(socat.command, [...socat.args], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.process = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', () => {
      if (this.process === child) this.process = null;
    });
    await new Promise<void>((resolve, reject) => {
      let stderr = '';
      let settled = false;
      const settle = (error: Error | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error === null) resolve();
        else {
          child.kill('SIGKILL');
          reject(error);
        }
      };
      const timer = setTimeout(() => settle(new Error(`socat printed no tty names within ${SOCAT_START_TIMEOUT_MS} ms: ${stderr.trim()}`)), SOCAT_START_TIMEOUT_MS);
      child.once('error', (error: NodeJS.ErrnoException) => {
        this.process = null;
        settle(error.code === 'ENOENT' ? new SocatMissingError('socat is not installed (Debian: apt-get install socat)') : error);
      });
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-SOCAT_STDERR_BYTES_MAX);
        // socat -d -d says "starting data transfer loop" once both ends exist.
        if (/starting data transfer loop/.test(stderr)) settle(null);
      });
      child.once('exit', (code, signal) => {
        // Through setpriv, a missing program is setpriv's exit code 127 rather than a spawn error.
        if (code === COMMAND_NOT_FOUND && socat.command !== 'socat') settle(new SocatMissingError(`socat is not installed (Debian: apt-get install socat): ${stderr.trim()}`));
        else settle(new Error(`socat exited (${signal ?? code}) before the ttys were ready: ${stderr.trim()}`));
      });
    });
  }

  /**
   * Pulls the cable: socat is killed with SIGKILL, so both ttys vanish at once, and both links are
   * removed, as a device node disappears when a USB board is unplugged.
   */
  async unplug(): Promise<void> {
    const child = this.process;
    if (child === null) return;
    child.kill('SIGKILL');
    await this.exited;
    // A link left behind would point at a pseudo-terminal number the kernel soon gives to another
    // pair: measured with both suites running, a re-open then found that pair's port busy.
    rmSync(this.hostPath, { force: true });
    rmSync(this.boardPath, { force: true });
  }

  /** Stops socat (SIGTERM, then SIGKILL), removes the links and, if ours, the directory. */
  async stop(): Promise<void> {
    const child = this.process;
    if (child !== null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), SOCAT_STOP_GRACE_MS);
      await this.exited;
      clearTimeout(timer);
    }
    rmSync(this.hostPath, { force: true });
    rmSync(this.boardPath, { force: true });
    if (this.ownsDirectory) rmSync(this.directory, { recursive: true, force: true });
  }
}
