/**
 * The simulated Firmata drive as a process of its own on the board end of a pseudo-terminal (see
 * firmata-drive.ts), so it outlives a voter that dies: its clock and its watchdog keep running.
 *
 *   firmata-drive --port PATH [--baud N] [--rate-hz R] [--watchdog-ticks N]
 *                 [--pwm-range LOW,HIGH] [--command-pin N] [--heartbeat-pin N]
 *
 * Until the host sends its first byte, the drive announces itself (version and firmware report),
 * as StandardFirmata does once at reset: a pty has no DTR to reset it by. It prints "ready PATH"
 * once the port is open, then one JSON line per DriveEvent, and a final "status" JSON line with
 * its counters when it exits: on SIGTERM, or when its stdin closes (whoever launched it is gone).
 * The process around the drive is the one the plant board has: firmata-plant-process.ts.
 */
import { DEFAULT_ACTUATOR } from '../src/sim/actuator.js';
import { FirmataDrive } from './firmata-drive.js';
import { fatal, parseFlags, printLine, runBoardProcess, wholeFlag } from './firmata-plant-process.js';

const PROGRAM = 'firmata-drive';
const flags = parseFlags(PROGRAM, ['port', 'baud', 'rate-hz', 'watchdog-ticks', 'pwm-range', 'command-pin', 'heartbeat-pin']);
const whole = (flag: keyof typeof flags, fallback: number, min: number, max: number): number => wholeFlag(PROGRAM, flags[flag], flag, fallback, min, max);
const path = flags.port ?? fatal(PROGRAM, '--port PATH is required');
const range = /^(\d+),(\d+)$/.exec(flags['pwm-range'] ?? '1000,2000') ?? fatal(PROGRAM, `--pwm-range must be LOW,HIGH in µs, got '${flags['pwm-range']}'`);
const pwmRangeUs = [Number(range[1]), Number(range[2])] as const;
if (pwmRangeUs[0] < 544 || pwmRangeUs[1] <= pwmRangeUs[0] || pwmRangeUs[1] > 16_383) fatal(PROGRAM, `--pwm-range must satisfy 544 <= LOW < HIGH <= 16383`);
const watchdogTicks = whole('watchdog-ticks', DEFAULT_ACTUATOR.watchdogTicks, 1, 10_000);
const commandPin = whole('command-pin', 9, 0, 13);
const heartbeatPin = whole('heartbeat-pin', 8, 0, 13);

// The watchdog counts the drive's ticks, each at least a period long (see firmata-plant-process.ts).
runBoardProcess({
  program: PROGRAM,
  path,
  baudRate: whole('baud', 57_600, 300, 2_000_000),
  rateHz: whole('rate-hz', 200, 1, 2_000),
  board: (send) => new FirmataDrive({ commandPin, heartbeatPin, pwmRangeUs, actuator: { ...DEFAULT_ACTUATOR, watchdogTicks } }, send, printLine),
  tick: (drive) => drive.driveTick(),
  status: (drive) => ({ ...drive.counters, lastCommandMv: drive.lastCommandMv, appliedMv: drive.actuator.appliedMv, brakeEngaged: drive.actuator.brakeEngaged, watchdogTrips: drive.actuator.watchdogTrips }),
});
