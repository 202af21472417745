/**
 * Launches the simulated Firmata plant board (firmata-plant-main.ts) on its own socat
 * pseudo-terminal pair and owns both processes, stopped by PID. The host opens `hostPath` as it
 * would a real board's /dev/ttyACM0 (`tmr run --io firmata:PATH`, or `--io firmata-sim`, which
 * starts one). What the board reports (PlantEvent lines, and its counters at exit) is collected in
 * `events`; faults go to it as JSON lines on its stdin; `vanish()` unplugs it.
 *
 * SimBoardProcess, the part every simulated Firmata board shares (pty pair, owned process, JSON
 * lines, waiting for an event, stopping), is also what SimFirmataDrive (firmata-drive-board.ts)
 * is made of.
 */
import { isAbsolute, resolve } from 'node:path';
import type { PlantCounters, PlantEvent } from './firmata-plant.js';
import type { PlantKind } from './firmata-plant-models.js';
import { OwnedProcess, programCommand } from './owned-process.js';
import { PtyPair } from './pty-pair.js';

/** Lines kept from a board's output: far more than it prints in any run (a few events, some faults). */
const EVENTS_MAX = 1_000;
/** How much of a line without a newline is kept before it is dropped (a board's lines are short). */
const LINE_BYTES_MAX = 64 * 1024;
/** How long `fault` waits for the board to answer a command. */
const FAULT_ANSWER_TIMEOUT_MS = 5_000;

type AnyLine = { readonly event: string };

/** A simulated board process on a pty pair, with the JSON lines it prints. */
export class SimBoardProcess<Line extends AnyLine> {
  readonly events: Line[] = [];
  private stdoutTail = '';
  private waiters: (() => void)[] = [];

  protected constructor(
    readonly name: string,
    protected readonly pair: PtyPair,
    protected readonly board: OwnedProcess,
  ) {
    board.child.stdout!.on('data', (chunk: Buffer) => {
      this.stdoutTail += chunk.toString();
      let newline: number;
      while ((newline = this.stdoutTail.indexOf('\n')) >= 0) {
        const line = this.stdoutTail.slice(0, newline);
        this.stdoutTail = this.stdoutTail.slice(newline + 1);
        if (line.startsWith('{') && this.events.length < EVENTS_MAX) this.events.push(JSON.parse(line) as Line);
      }
      if (this.stdoutTail.length > LINE_BYTES_MAX) this.stdoutTail = '';
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** Opens a pty pair named `name` and starts `program` (a firmware-sim program) on its board end. */
  protected static async launch(name: string, program: string, args: (boardPath: string) => string[]): Promise<{ pair: PtyPair; board: OwnedProcess }> {
    const pair = await PtyPair.open({ name });
    try {
      return { pair, board: await OwnedProcess.start(name, programCommand(program, args(pair.boardPath)), 'ready ') };
    } catch (error) {
      await pair.stop();
      throw error;
    }
  }

  get hostPath(): string {
    return this.pair.hostPath;
  }

  get pid(): number | undefined {
    return this.board.child.pid;
  }

  /** socat's PID while the link is plugged in (undefined once it is gone). */
  get linkPid(): number | undefined {
    return this.pair.pid;
  }

  /** The first event of this kind, waiting up to `timeoutMs` for it; null if it never came. */
  waitFor<K extends Line['event']>(event: K, timeoutMs: number): Promise<Extract<Line, { event: K }> | null> {
    return this.waitUntil((e) => e.event === event, timeoutMs) as Promise<Extract<Line, { event: K }> | null>;
  }

  /** The first event (from `from` on) that `matches`, waiting up to `timeoutMs`; null if none came or the board exited. */
  protected async waitUntil(matches: (event: Line) => boolean, timeoutMs: number, from = 0): Promise<Line | null> {
    const deadlineMs = Date.now() + timeoutMs;
    // Bounded by the deadline: each pass waits for output or the rest of the time.
    for (;;) {
      const found = this.events.slice(from).find(matches);
      if (found !== undefined) return found;
      const leftMs = deadlineMs - Date.now();
      if (leftMs <= 0 || !this.board.running) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, leftMs);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Stops the board (it prints its counters as it exits) and socat; returns the counters (null: it printed none). */
  async stop(): Promise<Extract<Line, { event: 'status' }> | null> {
    await this.board.stop();
    await this.pair.stop();
    return (this.events.find((e) => e.event === 'status') as Extract<Line, { event: 'status' }> | undefined) ?? null;
  }
}

export interface FirmataPlantOptions {
  readonly plant: PlantKind;
  /** The I/O map the board is wired by (relative paths from the working directory). */
  readonly mapPath: string;
  /** A shipped law's name: the map is checked against it. */
  readonly law: string;
  /** The board's clock, Hz (default 200). */
  readonly rateHz?: number;
  /** Seeds the plant's sensor noise and the noise fault (default 1). */
  readonly seed?: number;
  /** The drives' dead-man time, ms (default 50). */
  readonly watchdogMs?: number;
  /** Names the pty links (default 'firmata-plant'). */
  readonly name?: string;
}

/** The board's last line: its counters, what its outputs command, what its plant does, and the process's own counts. */
export type PlantStatus = PlantCounters & {
  readonly event: 'status';
  readonly samplingIntervalMs: number;
  readonly armed: boolean;
  readonly tripped: boolean;
  readonly commands: Readonly<Record<string, number | null>>;
  readonly plant: Readonly<Record<string, number | boolean>>;
  /** Bytes for a host that did not read them, dropped beyond the process's queue bound. */
  readonly bytesDropped: number;
  /** Board ticks that ran more than a period late (its process was descheduled). */
  readonly lateTicks: number;
};

export type PlantLine = PlantEvent | PlantStatus;

/** A fault for one input pin (see firmata-plant.ts). */
export type PlantFaultCommand =
  | { readonly fault: 'stale' | 'none'; readonly pin: string | number }
  | { readonly fault: 'noise'; readonly pin: string | number; readonly amplitude: number }
  | { readonly fault: 'stuck'; readonly pin: string | number; readonly raw: number };

export class SimFirmataPlant extends SimBoardProcess<PlantLine> {
  private vanished = false;

  static async start(options: FirmataPlantOptions): Promise<SimFirmataPlant> {
    const name = options.name ?? 'firmata-plant';
    const mapPath = isAbsolute(options.mapPath) ? options.mapPath : resolve(options.mapPath);
    const { pair, board } = await SimBoardProcess.launch(name, 'firmata-plant-main', (boardPath) => {
      const args = ['--port', boardPath, '--plant', options.plant, '--map', mapPath, '--law', options.law];
      if (options.rateHz !== undefined) args.push('--rate-hz', String(options.rateHz));
      if (options.seed !== undefined) args.push('--seed', String(options.seed >>> 0));
      if (options.watchdogMs !== undefined) args.push('--watchdog-ms', String(options.watchdogMs));
      return args;
    });
    return new SimFirmataPlant(name, pair, board);
  }

  /**
   * Sends a fault command to the board and waits for its answer: the `fault` event that applied it,
   * or the `refusedCommand` event that says why not (null: no answer, the board is gone).
   */
  async fault(command: PlantFaultCommand): Promise<Extract<PlantLine, { event: 'fault' | 'refusedCommand' }> | null> {
    const from = this.events.length;
    if (!this.board.running) return null;
    this.board.child.stdin!.write(`${JSON.stringify(command)}\n`);
    const answer = await this.waitUntil((e) => e.event === 'fault' || e.event === 'refusedCommand', FAULT_ANSWER_TIMEOUT_MS, from);
    return answer as Extract<PlantLine, { event: 'fault' | 'refusedCommand' }> | null;
  }

  /**
   * The board disappears as an unplugged USB board does: the board process and socat are killed
   * outright (SIGKILL, no status line) and the pty links removed, so the host's end of the link
   * goes away under it. Resolves once both processes have exited.
   */
  async vanish(): Promise<void> {
    this.vanished = true;
    this.board.signal('SIGKILL');
    await this.pair.unplug();
    await this.board.stop();
  }

  get isVanished(): boolean {
    return this.vanished;
  }
}
