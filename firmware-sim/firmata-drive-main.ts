/**
 * The simulated Firmata drive as a process of its own on the board end of a pseudo-terminal (see
 * firmata-drive.ts), so it outlives a voter that dies: its clock and its watchdog keep running.
 *
 *   firmata-drive --port PATH [--baud N] [--rate-hz R] [--watchdog-ticks N]
 *                 [--pwm-range LOW,HIGH] [--command-pin N] [--heartbeat-pin N]
 *
 * Until the host sends its first byte, the drive announces itself (version and firmware report)
 * every ANNOUNCE_PERIOD_MS, as StandardFirmata does once at reset: a pty has no DTR to reset it by.
 * It prints "ready PATH" once the port is open, then one JSON line per DriveEvent, and a final
 * "status" JSON line with its counters when it exits: on SIGTERM, or when its stdin closes
 * (whoever launched it is gone).
 */
import { parseArgs } from 'node:util';
import { SerialPort } from 'serialport';
import { DEFAULT_ACTUATOR } from '../src/sim/actuator.js';
import { FirmataDrive, type DriveEvent } from './firmata-drive.js';

const ANNOUNCE_PERIOD_MS = 200;

function fatal(message: string): never {
  process.stderr.write(`firmata-drive: ${message}\n`);
  process.exit(2);
}

function whole(text: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) fatal(`--${flag} must be a whole number in ${min}..${max}, got '${text}'`);
  return Number(text);
}

const OPTIONS = {
  port: { type: 'string' },
  baud: { type: 'string' },
  'rate-hz': { type: 'string' },
  'watchdog-ticks': { type: 'string' },
  'pwm-range': { type: 'string' },
  'command-pin': { type: 'string' },
  'heartbeat-pin': { type: 'string' },
} as const;

let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; strict: true }>>['values'];
try {
  values = parseArgs({ options: OPTIONS, strict: true }).values;
} catch (error) {
  fatal(error instanceof Error ? error.message.split('\n')[0]! : String(error));
}
const path = values.port ?? fatal('--port PATH is required');
const baudRate = whole(values.baud, 'baud', 57_600, 300, 2_000_000);
const rateHz = whole(values['rate-hz'], 'rate-hz', 200, 1, 2_000);
const watchdogTicks = whole(values['watchdog-ticks'], 'watchdog-ticks', DEFAULT_ACTUATOR.watchdogTicks, 1, 10_000);
const range = /^(\d+),(\d+)$/.exec(values['pwm-range'] ?? '1000,2000') ?? fatal(`--pwm-range must be LOW,HIGH in µs, got '${values['pwm-range']}'`);
const pwmRangeUs = [Number(range[1]), Number(range[2])] as const;
if (pwmRangeUs[0] < 544 || pwmRangeUs[1] <= pwmRangeUs[0] || pwmRangeUs[1] > 16_383) fatal(`--pwm-range must satisfy 544 <= LOW < HIGH <= 16383`);
const commandPin = whole(values['command-pin'], 'command-pin', 9, 0, 13);
const heartbeatPin = whole(values['heartbeat-pin'], 'heartbeat-pin', 8, 0, 13);

let port: SerialPort | null = null;
const print = (event: DriveEvent | Record<string, unknown>): boolean => process.stdout.write(`${JSON.stringify(event)}\n`);
const drive = new FirmataDrive(
  { commandPin, heartbeatPin, pwmRangeUs, actuator: { ...DEFAULT_ACTUATOR, watchdogTicks } },
  (bytes) => port?.write(Buffer.from(bytes)),
  print,
);

function exit(): never {
  print({ event: 'status', ...drive.counters, lastCommandMv: drive.lastCommandMv, appliedMv: drive.actuator.appliedMv, brakeEngaged: drive.actuator.brakeEngaged, watchdogTrips: drive.actuator.watchdogTrips });
  process.exit(0);
}

const candidate = new SerialPort({ path, baudRate, autoOpen: false, lock: false });
candidate.open((error) => {
  if (error) fatal(`cannot open ${path}: ${error.message}`);
  port = candidate;
  candidate.on('data', (chunk: Buffer) => drive.receive(chunk));
  candidate.on('error', () => {});
  const announcing = setInterval(() => (drive.connected ? clearInterval(announcing) : drive.announce()), ANNOUNCE_PERIOD_MS);
  drive.announce();
  // The drive's own clock, one drive tick per period. A tick the process was descheduled through
  // is not made up afterwards (that would count a stall of this process as heartbeats missed):
  // the watchdog counts the drive's ticks, each at least a period long.
  const periodMs = 1000 / rateHz;
  let nextMs = performance.now() + periodMs;
  const step = (): void => {
    drive.driveTick();
    const nowMs = performance.now();
    nextMs = Math.max(nextMs + periodMs, nowMs);
    setTimeout(step, nextMs - nowMs);
  };
  setTimeout(step, periodMs);
  process.stdout.write(`ready ${path}\n`);
});

process.stdin.on('end', exit);
process.stdin.on('error', exit);
process.stdin.resume();
process.on('SIGTERM', exit);
