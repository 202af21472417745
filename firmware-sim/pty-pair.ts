/**
 * A linked pair of pseudo-terminals made by socat: bytes written to one end come out of the other,
 * like the two ends of a serial cable. The host opens `hostPath` through serialport exactly as it
 * would open /dev/ttyACM0; a simulated board (or an echo, or a noise proxy) opens `boardPath`.
 *
 * Both paths are stable symbolic links in a directory of ours, so a pair can be unplugged (socat
 * killed: both ttys vanish) and plugged in again (socat restarted: the links point at new ttys).
 * socat is started and stopped by PID; stop() always reaps it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How long socat may take to print both tty names. */
const SOCAT_START_TIMEOUT_MS = 5_000;
const SOCAT_STOP_GRACE_MS = 1_000;
const SOCAT_STDERR_BYTES_MAX = 4_096;

export class SocatMissingError extends Error {
  override readonly name = 'SocatMissingError';
}

export interface PtyPairOptions {
  /** Directory for the links; a fresh temporary one by default (removed by stop()). */
  readonly directory?: string;
  /** Prefix of the link names, e.g. "board-1" gives board-1.host and board-1.board. */
  readonly name?: string;
}

export class PtyPair {
  private process: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private readonly ownsDirectory: boolean;
  readonly directory: string;
  readonly hostPath: string;
  readonly boardPath: string;

  private constructor(options: PtyPairOptions) {
    this.ownsDirectory = options.directory === undefined;
    this.directory = options.directory ?? mkdtempSync(join(tmpdir(), 'tmr-pty-'));
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
    const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${this.hostPath}`, `pty,raw,echo=0,link=${this.boardPath}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
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
      child.once('exit', (code, signal) => settle(new Error(`socat exited (${signal ?? code}) before the ttys were ready: ${stderr.trim()}`)));
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
