/**
 * Child programs that firmware-sim starts (simulated boards, noise proxies, AVR emulators, the
 * Firmata drive): each is waited for until it prints its ready line, and stopped by PID, with
 * SIGKILL if it lingers. Each also dies with the process that started it (a parent-death signal,
 * src/runtime/child-lifetime.ts): they end when their stdin closes, but one stopped by a hang
 * fault (SIGSTOP) cannot see that.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dieWithParent } from '../src/runtime/child-lifetime.js';

const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 1_000;

export interface Command {
  readonly command: string;
  readonly args: readonly string[];
}

/** A firmware-sim program: compiled JavaScript when we are compiled, tsx when run from source. */
export function programCommand(stem: string, args: readonly string[]): Command {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return { command: process.execPath, args: ['--import', import.meta.resolve('tsx'), join(dirname(here), `${stem}.ts`), ...args] };
  return { command: process.execPath, args: [join(dirname(here), `${stem}.js`), ...args] };
}

/** A child program we own: started, waited for until it prints its ready marker, stopped by PID. */
export class OwnedProcess {
  private readonly exited: Promise<void>;
  private stderrTail = '';
  /** The stdout line that matched the ready marker. */
  readyLine = '';

  private constructor(
    readonly label: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stderr!.on('data', (c: Buffer) => (this.stderrTail = (this.stderrTail + c.toString()).slice(-2048)));
  }

  /** Starts `command` and waits for a stdout line containing `readyMarker` (or matching it). */
  static async start(label: string, command: Command, readyMarker: string | RegExp): Promise<OwnedProcess> {
    const started = dieWithParent(command);
    const owned = new OwnedProcess(label, spawn(started.command, [...started.args], { stdio: ['pipe', 'pipe', 'pipe'] }));
    try {
      await owned.waitFor(readyMarker);
    } catch (error) {
      await owned.stop();
      throw error;
    }
    return owned;
  }

  private waitFor(marker: string | RegExp): Promise<void> {
    return new Promise((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(() => reject(new Error(`${this.label}: not ready within ${READY_TIMEOUT_MS} ms: ${this.stderrTail.trim()}`)), READY_TIMEOUT_MS);
      const onData = (c: Buffer): void => {
        stdout = (stdout + c.toString()).slice(-4096);
        const line = stdout.split('\n').find((l) => (typeof marker === 'string' ? l.includes(marker) : marker.test(l)));
        if (line === undefined) return;
        this.readyLine = line;
        clearTimeout(timer);
        this.child.stdout!.off('data', onData);
        resolve();
      };
      this.child.stdout!.on('data', onData);
      this.child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${this.label}: exited (${signal ?? code}) before it was ready: ${this.stderrTail.trim()}`));
      });
    });
  }

  get stderr(): string {
    return this.stderrTail;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(signal: NodeJS.Signals): boolean {
    if (!this.running || this.child.pid === undefined) return false;
    try {
      process.kill(this.child.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  async stop(): Promise<void> {
    if (this.running) {
      this.child.stdin!.end();
      this.signal('SIGCONT');
      this.signal('SIGTERM');
      const timer = setTimeout(() => this.signal('SIGKILL'), STOP_GRACE_MS);
      await this.exited;
      clearTimeout(timer);
    }
  }
}
