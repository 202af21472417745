/**
 * The actuator path of the bench: the voted command leaves the voter through johnny-five, as it
 * would on a user's bench. Each tick the bench calls `servo.to(commandMv)` and toggles the drive's
 * heartbeat pin with a johnny-five `Pin`.
 *
 *   sim      johnny-five Board on our IO plugin (hil/sim-drive-io.ts), backed by the actuator
 *            model. The Servo's degree range and pulse range are both ±supply, so the value that
 *            reaches the plugin is the command in mV, bit for bit.
 *   firmata  the same, plus a second johnny-five Board on a Firmata board on a serial port
 *            (StandardFirmata): its Servo maps ±supply to pulses of pwmRangeUs (1 µs steps, so
 *            24 mV a step for 1000–2000 µs at 12 V). The loop still closes through the actuator
 *            and plant models (no feedback is read from the board yet).
 *
 * johnny-five is always constructed with repl, debug and sigint off (with them on it evaluates
 * stdin, exits after "ready" or exits on Ctrl-C past our handlers).
 */
import { SerialPort } from 'serialport';
import firmataIo from 'firmata-io';
import five from 'johnny-five';
import { assert } from '../src/core/assert.js';
import { FIRMATA_BAUD_DEFAULT } from './firmata-target.js';
import { DEFAULT_WIRING, SimDriveIo, type DriveWiring } from './sim-drive-io.js';

export type ActuatorPathSpec =
  | { readonly kind: 'sim' }
  | {
      readonly kind: 'firmata';
      readonly path: string;
      readonly baudRate: number;
      /** Pulse widths for −supply and +supply, µs. */
      readonly pwmRangeUs: readonly [number, number];
      /** How long to wait for the board's Firmata version report. */
      readonly readyTimeoutMs: number;
    };

export const FIRMATA_DEFAULTS = { baudRate: FIRMATA_BAUD_DEFAULT, pwmRangeUs: [1000, 2000] as const, readyTimeoutMs: 5_000 };

/** The world's fault, not ours: a board that is not there, a port that cannot be opened. */
export class ActuatorPathError extends Error {
  override readonly name = 'ActuatorPathError';
}

export interface ActuatorPath {
  /** One line for reports: where the commands went. */
  readonly description: string;
  /** Sends this tick's command through johnny-five; returns what the simulated drive received this tick. */
  deliver(commandMv: number): number | null;
  /** A tick with the voter dead: nothing is written; returns what the drive received (null). */
  silentTick(): number | null;
  /** Writes to the simulated drive's command pin so far (tests compare it with the ticks). */
  readonly commandWrites: number;
  close(): Promise<void>;
}

interface J5Drive {
  readonly servo: InstanceType<typeof five.Servo>;
  readonly heartbeat: InstanceType<typeof five.Pin>;
}

function waitReady(board: InstanceType<typeof five.Board>, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (board.timer !== null) clearTimeout(board.timer);
      reject(new ActuatorPathError(`${what}: no board answered within ${timeoutMs} ms`));
    }, timeoutMs);
    board.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
    board.once('error', (error: unknown) => {
      clearTimeout(timer);
      reject(new ActuatorPathError(`${what}: ${error instanceof Error ? error.message : String(error)}`));
    });
  });
}

function attachDrive(board: InstanceType<typeof five.Board>, wiring: DriveWiring, supplyMvMax: number, pwmRange: readonly [number, number]): J5Drive {
  const span: [number, number] = [-supplyMvMax, supplyMvMax];
  const servo = new five.Servo({ pin: wiring.commandPin, board, pwmRange: [pwmRange[0], pwmRange[1]], degreeRange: span, range: span });
  const heartbeat = new five.Pin({ pin: wiring.heartbeatPin, board, type: 'digital' });
  return { servo, heartbeat };
}

async function openSimBoard(wiring: DriveWiring): Promise<{ io: SimDriveIo; board: InstanceType<typeof five.Board> }> {
  const io = new SimDriveIo(wiring);
  const board = new five.Board({ io, repl: false, debug: false, sigint: false, id: 'tmr-sim-drive' });
  await waitReady(board, 1_000, 'simulated drive');
  return { io, board };
}

async function openFirmataBoard(spec: Extract<ActuatorPathSpec, { kind: 'firmata' }>): Promise<{ board: InstanceType<typeof five.Board>; port: SerialPort }> {
  const what = `actuator firmata:${spec.path}`;
  const port = new SerialPort({ path: spec.path, baudRate: spec.baudRate, autoOpen: false });
  await new Promise<void>((resolve, reject) =>
    port.open((error) => (error ? reject(new ActuatorPathError(`${what}: cannot open the port: ${error.message}`)) : resolve())),
  );
  const io = new firmataIo.Firmata(port, { reportVersionTimeout: Math.max(100, Math.floor(spec.readyTimeoutMs / 2)) });
  const board = new five.Board({ io, repl: false, debug: false, sigint: false, timeout: spec.readyTimeoutMs * 4, id: `tmr-firmata-${spec.path}` });
  // firmata-io announces 'connect' when its transport opens, and johnny-five holds back 'ready'
  // until it has seen 'connect'. The port was opened above (to name an open failure), before the
  // Firmata instance existed, so say it here; without this the board was never ready.
  io.emit('connect');
  try {
    await waitReady(board, spec.readyTimeoutMs, `${what} (${spec.baudRate} baud)`);
  } catch (error) {
    clearTimeout(io.reportVersionTimeoutId);
    await closePort(port);
    if (error instanceof ActuatorPathError) {
      throw new ActuatorPathError(`${error.message}: no Firmata version report (is StandardFirmata flashed, and is this the board's port?)`);
    }
    throw error;
  }
  return { board, port };
}

function closePort(port: SerialPort): Promise<void> {
  return new Promise((resolve) => {
    if (!port.isOpen) resolve();
    else port.close(() => resolve());
  });
}

/** The voted command's way out to a drive board: johnny-five over Firmata (tmr run --actuator). */
export interface FirmataDrivePath {
  readonly description: string;
  /** This tick's command on the Servo, and a heartbeat edge for the drive's watchdog. */
  deliver(commandMv: number): void;
  close(): Promise<void>;
}

export async function openFirmataDrive(spec: Extract<ActuatorPathSpec, { kind: 'firmata' }>, supplyMvMax: number, wiring: DriveWiring = DEFAULT_WIRING): Promise<FirmataDrivePath> {
  const { board, port } = await openFirmataBoard(spec);
  const drive = attachDrive(board, wiring, supplyMvMax, spec.pwmRangeUs);
  let level = false;
  return {
    description: `johnny-five Servo (pin ${wiring.commandPin}) + heartbeat Pin (pin ${wiring.heartbeatPin}) → Firmata on ${spec.path} @${spec.baudRate} (${spec.pwmRangeUs[0]}–${spec.pwmRangeUs[1]} µs)`,
    deliver(commandMv) {
      level = !level;
      drive.servo.to(commandMv);
      if (level) drive.heartbeat.high();
      else drive.heartbeat.low();
    },
    close: () => closePort(port),
  };
}

export async function openActuatorPath(spec: ActuatorPathSpec, supplyMvMax: number, wiring: DriveWiring = DEFAULT_WIRING): Promise<ActuatorPath> {
  assert(Number.isInteger(supplyMvMax) && supplyMvMax > 0, 'supply');
  const firmata = spec.kind === 'firmata' ? await openFirmataBoard(spec) : null;
  let sim: Awaited<ReturnType<typeof openSimBoard>>;
  try {
    sim = await openSimBoard(wiring);
  } catch (error) {
    if (firmata !== null) await closePort(firmata.port);
    throw error;
  }
  const drives: J5Drive[] = [attachDrive(sim.board, wiring, supplyMvMax, [-supplyMvMax, supplyMvMax])];
  if (firmata !== null && spec.kind === 'firmata') drives.push(attachDrive(firmata.board, wiring, supplyMvMax, spec.pwmRangeUs));
  let level = false;
  const description =
    spec.kind === 'sim'
      ? `johnny-five Servo (pin ${wiring.commandPin}) + heartbeat Pin (pin ${wiring.heartbeatPin}) → tmr sim-drive IO plugin → actuator model`
      : `johnny-five Servo → Firmata on ${spec.path} (${spec.pwmRangeUs[0]}–${spec.pwmRangeUs[1]} µs) and → tmr sim-drive IO plugin → actuator model`;
  return {
    description,
    deliver(commandMv) {
      level = !level;
      for (const drive of drives) {
        drive.servo.to(commandMv);
        if (level) drive.heartbeat.high();
        else drive.heartbeat.low();
      }
      return sim.io.takeTick();
    },
    silentTick: () => sim.io.takeTick(),
    get commandWrites() {
      return sim.io.commandWrites;
    },
    async close() {
      if (firmata !== null) await closePort(firmata.port);
    },
  };
}
