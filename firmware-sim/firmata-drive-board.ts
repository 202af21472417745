/**
 * Launches the simulated Firmata drive (firmata-drive-main.ts) on its own socat pseudo-terminal
 * pair and owns both processes, stopped by PID. The host opens `hostPath` as it would a drive
 * board's /dev/ttyACM0 (`tmr run --actuator firmata:PATH`, `tmr hil --firmata PATH`). What the
 * drive reports (DriveEvent lines, and its counters at exit) is collected in `events`.
 */
import type { DriveCounters, DriveEvent } from './firmata-drive.js';
import { OwnedProcess, programCommand } from './owned-process.js';
import { PtyPair } from './pty-pair.js';

export interface FirmataDriveOptions {
  readonly name?: string;
  readonly rateHz?: number;
  readonly watchdogTicks?: number;
  readonly pwmRangeUs?: readonly [number, number];
}

export type DriveStatus = DriveCounters & { event: 'status'; lastCommandMv: number | null; appliedMv: number; brakeEngaged: boolean; watchdogTrips: number };
type Line = DriveEvent | DriveStatus;

/** Lines kept from the drive's output: far more than it prints in any run (a few events). */
const EVENTS_MAX = 1_000;

export class SimFirmataDrive {
  readonly events: Line[] = [];
  private stdoutTail = '';
  private waiters: (() => void)[] = [];

  private constructor(
    readonly name: string,
    private readonly pair: PtyPair,
    private readonly drive: OwnedProcess,
  ) {
    drive.child.stdout!.on('data', (chunk: Buffer) => {
      this.stdoutTail += chunk.toString();
      let newline: number;
      while ((newline = this.stdoutTail.indexOf('\n')) >= 0) {
        const line = this.stdoutTail.slice(0, newline);
        this.stdoutTail = this.stdoutTail.slice(newline + 1);
        if (line.startsWith('{') && this.events.length < EVENTS_MAX) this.events.push(JSON.parse(line) as Line);
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static async start(options: FirmataDriveOptions = {}): Promise<SimFirmataDrive> {
    const name = options.name ?? 'firmata-drive';
    const pair = await PtyPair.open({ name });
    try {
      const args = ['--port', pair.boardPath, '--rate-hz', String(options.rateHz ?? 200)];
      if (options.watchdogTicks !== undefined) args.push('--watchdog-ticks', String(options.watchdogTicks));
      if (options.pwmRangeUs !== undefined) args.push('--pwm-range', options.pwmRangeUs.join(','));
      return new SimFirmataDrive(name, pair, await OwnedProcess.start(name, programCommand('firmata-drive-main', args), 'ready '));
    } catch (error) {
      await pair.stop();
      throw error;
    }
  }

  get hostPath(): string {
    return this.pair.hostPath;
  }

  get pid(): number | undefined {
    return this.drive.child.pid;
  }

  /** The first event of this kind, waiting up to `timeoutMs` for it; null if it never came. */
  async waitFor<K extends Line['event']>(event: K, timeoutMs: number): Promise<Extract<Line, { event: K }> | null> {
    const deadlineMs = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find((e) => e.event === event);
      if (found !== undefined) return found as Extract<Line, { event: K }>;
      const leftMs = deadlineMs - Date.now();
      if (leftMs <= 0 || !this.drive.running) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, leftMs);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Stops the drive (it prints its counters as it exits) and socat; returns the counters. */
  async stop(): Promise<DriveStatus | null> {
    await this.drive.stop();
    await this.pair.stop();
    return (this.events.find((e) => e.event === 'status') as DriveStatus | undefined) ?? null;
  }
}
