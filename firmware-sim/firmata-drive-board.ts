/**
 * Launches the simulated Firmata drive (firmata-drive-main.ts) on its own socat pseudo-terminal
 * pair and owns both processes, stopped by PID. The host opens `hostPath` as it would a drive
 * board's /dev/ttyACM0 (`tmr run --actuator firmata:PATH`, `tmr hil --firmata PATH`). What the
 * drive reports (DriveEvent lines, and its counters at exit) is collected in `events`. The
 * launching, the lines and the stopping are the plant board's (SimBoardProcess).
 */
import type { DriveCounters, DriveEvent } from './firmata-drive.js';
import { SimBoardProcess } from './firmata-plant-board.js';

export interface FirmataDriveOptions {
  readonly name?: string;
  readonly rateHz?: number;
  readonly watchdogTicks?: number;
  readonly pwmRangeUs?: readonly [number, number];
}

export type DriveStatus = DriveCounters & {
  event: 'status';
  lastCommandMv: number | null;
  appliedMv: number;
  brakeEngaged: boolean;
  watchdogTrips: number;
  bytesDropped: number;
  lateTicks: number;
};

export class SimFirmataDrive extends SimBoardProcess<DriveEvent | DriveStatus> {
  static async start(options: FirmataDriveOptions = {}): Promise<SimFirmataDrive> {
    const name = options.name ?? 'firmata-drive';
    const { pair, board } = await SimBoardProcess.launch(name, 'firmata-drive-main', (boardPath) => {
      const args = ['--port', boardPath, '--rate-hz', String(options.rateHz ?? 200)];
      if (options.watchdogTicks !== undefined) args.push('--watchdog-ticks', String(options.watchdogTicks));
      if (options.pwmRangeUs !== undefined) args.push('--pwm-range', options.pwmRangeUs.join(','));
      return args;
    });
    return new SimFirmataDrive(name, pair, board);
  }
}
