/**
 * The process around a simulated Firmata board (the plant, firmata-plant-main.ts, and the drive,
 * firmata-drive-main.ts), on the board end of a pseudo-terminal: it opens the port, announces the
 * board until the host's first byte, runs the board's clock, hands it the host's bytes and, for
 * the plant, the command lines on stdin, prints its events as JSON lines and a final `status` line.
 *
 * Life: it prints `ready PATH` once the port is open. It exits (status line first) on SIGTERM, or
 * when its stdin ends or fails: whoever launched it is gone. A launcher that is killed outright
 * cannot close a pipe in time for a process stopped by a signal, so launchers start it through
 * OwnedProcess (owned-process.ts), which adds a parent-death signal (setpriv --pdeathsig KILL).
 *
 * Bounds: what the board sends waits in serialport's queue while the host does not read (a host
 * that has gone while reporting was on); beyond OUT_QUEUE_BYTES_MAX it is dropped and counted
 * (`bytesDropped`). A stdin line longer than the board's limit reaches it cut short, and is refused
 * there. The clock does not make up ticks the process was descheduled through (a stall of the
 * board's own process is not the host's silence); how many ran more than a period late is counted
 * (`lateTicks`).
 */
import { parseArgs } from 'node:util';
import { SerialPort } from 'serialport';
import type { FirmataDevice } from './firmata-plant-protocol.js';

/** How often the board announces itself until the host speaks (StandardFirmata does it once, at reset: a pty has no DTR to reset it by). */
const ANNOUNCE_PERIOD_MS = 200;
/** Bytes the board may have queued for a host that does not read: about 1 s of analog reports of all six channels at 100 Hz. */
export const OUT_QUEUE_BYTES_MAX = 2_048;

export function fatal(program: string, message: string): never {
  process.stderr.write(`${program}: ${message}\n`);
  process.exit(2);
}

/** The string flags a board program takes: an unknown flag is fatal (exit 2), naming it. */
export function parseFlags<K extends string>(program: string, names: readonly K[]): Partial<Record<K, string>> {
  const options = Object.fromEntries(names.map((name) => [name, { type: 'string' as const }]));
  try {
    return parseArgs({ options, strict: true, allowPositionals: false }).values as Partial<Record<K, string>>;
  } catch (error) {
    fatal(program, error instanceof Error ? error.message.split('\n')[0]! : String(error));
  }
}

export function wholeFlag(program: string, text: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) fatal(program, `--${flag} must be a whole number in ${min}..${max}, got '${text}'`);
  return Number(text);
}

/** One JSON line on stdout: an event or the status. */
export function printLine(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

export interface BoardProcessSpec<B extends FirmataDevice> {
  readonly program: string;
  readonly path: string;
  readonly baudRate: number;
  readonly rateHz: number;
  /** The board's logic, given how it sends bytes to the host. */
  readonly board: (send: (bytes: Uint8Array) => void) => B;
  /** One tick of its clock. */
  readonly tick: (board: B) => void;
  /** Its counters and state, for the final status line. */
  readonly status: (board: B) => Record<string, unknown>;
  /** A command line from stdin, at most `lineBytesMax` bytes (absent: lines are dropped). */
  readonly line?: (board: B, line: string) => void;
  readonly lineBytesMax?: number;
}

const LINE_BYTES_MAX_DEFAULT = 1_024;
/** On a stop: how long the port must have been quiet, how often that is checked, and the longest wait, ms. */
const EXIT_QUIET_MS = 30;
const EXIT_POLL_MS = 5;
const EXIT_WAIT_MS_MAX = 300;

export function runBoardProcess<B extends FirmataDevice>(spec: BoardProcessSpec<B>): void {
  let port: SerialPort | null = null;
  let bytesDropped = 0;
  let lateTicks = 0;
  const board = spec.board((bytes) => {
    if (port === null || !port.isOpen) return;
    if (port.writableLength + bytes.length > OUT_QUEUE_BYTES_MAX) bytesDropped += bytes.length;
    else port.write(Buffer.from(bytes));
  });

  let exiting = false;
  let lastDataMs = performance.now();
  // Told to stop, the board first takes what is already on the wire (the host's last writes, its
  // safe values among them, may still sit in the pty when the stop comes): it exits once the port
  // has been quiet for EXIT_QUIET_MS, or after EXIT_WAIT_MS_MAX at most.
  const exit = (): void => {
    if (exiting) return;
    exiting = true;
    const startMs = performance.now();
    const finish = (): void => {
      const nowMs = performance.now();
      if (port !== null && nowMs - lastDataMs < EXIT_QUIET_MS && nowMs - startMs < EXIT_WAIT_MS_MAX) {
        setTimeout(finish, EXIT_POLL_MS);
        return;
      }
      printLine({ event: 'status', ...spec.status(board), bytesDropped, lateTicks });
      process.exit(0);
    };
    finish();
  };

  const candidate = new SerialPort({ path: spec.path, baudRate: spec.baudRate, autoOpen: false, lock: false });
  candidate.open((error) => {
    if (error) fatal(spec.program, `cannot open ${spec.path}: ${error.message}`);
    port = candidate;
    candidate.on('data', (chunk: Buffer) => {
      lastDataMs = performance.now();
      board.receive(chunk);
    });
    // The host's end going away is no error of the board's: it keeps running, as a board does.
    candidate.on('error', () => {});
    const announcing = setInterval(() => (board.connected ? clearInterval(announcing) : board.announce()), ANNOUNCE_PERIOD_MS);
    board.announce();
    // The board's own clock, one tick per period (the one endless loop of this process).
    const periodMs = 1000 / spec.rateHz;
    let dueMs = performance.now() + periodMs;
    const step = (): void => {
      const nowMs = performance.now();
      if (nowMs - dueMs > periodMs) lateTicks++;
      spec.tick(board);
      dueMs = Math.max(dueMs + periodMs, nowMs);
      setTimeout(step, dueMs - nowMs);
    };
    setTimeout(step, periodMs);
    process.stdout.write(`ready ${spec.path}\n`);
  });

  readLines(spec.lineBytesMax ?? LINE_BYTES_MAX_DEFAULT, (line) => spec.line?.(board, line), exit);
  process.on('SIGTERM', exit);
}

/**
 * Calls `onLine` for each line of stdin (a line longer than `bytesMax` arrives cut to bytesMax + 1
 * bytes, the rest of it dropped), and `onEnd` when stdin ends or fails.
 */
function readLines(bytesMax: number, onLine: (line: string) => void, onEnd: () => void): void {
  let pending = Buffer.alloc(0);
  let skippingRest = false;
  process.stdin.on('data', (chunk: Buffer) => {
    let data = Buffer.concat([pending, chunk]);
    // Bounded: each pass takes one line off `data`.
    for (let newline = data.indexOf(0x0a); newline >= 0; newline = data.indexOf(0x0a)) {
      if (!skippingRest) onLine(data.subarray(0, newline).toString('utf8').replace(/\r$/, ''));
      skippingRest = false;
      data = data.subarray(newline + 1);
    }
    if (!skippingRest && data.length > bytesMax) {
      onLine(data.subarray(0, bytesMax + 1).toString('utf8'));
      skippingRest = true;
    }
    pending = skippingRest ? Buffer.alloc(0) : Buffer.from(data);
  });
  process.stdin.on('end', onEnd);
  process.stdin.on('error', onEnd);
  process.stdin.resume();
}
