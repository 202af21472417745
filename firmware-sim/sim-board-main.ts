/**
 * A simulated board: a separate process on the board end of a pseudo-terminal, behaving at the
 * byte level as our firmware will. It boots (optionally printing noise first, as real boards do),
 * answers the handshake, runs the control law on ticks, sends heartbeats while idle, applies state
 * transfers and exhibits every fault kind (a crash is a reboot: state and configuration are lost).
 * When its tty vanishes (the cable is pulled) it keeps trying to re-open it; when it comes back the
 * board boots again, as a USB board does when it is powered anew.
 *
 *   sim-board --port PATH [--baud N] [--name NAME] [--boot-noise] [--law NAME|PATH] [--law-hash N]
 *             [--protocol-version N] [--reboot-ms N] [--flood garbage|max-frames]
 *             [--flood-after-ms N]
 *
 * --flood makes a broken board that writes without pause, whatever the host says: garbage with no
 * frame delimiter, or back-to-back frames of the maximum size whose payload is no valid message;
 * --flood-after-ms delays that until the board has run for a while (it goes bad mid-run).
 *
 * It prints "ready PATH" on stdout each time the port opens, and exits when its stdin closes
 * (whoever launched it is gone).
 */
import { DEFAULT_LAW, importLaw } from '../src/law/law-loader.js';
import type { LoadedLaw } from '../src/law/law-runtime.js';
import { parseArgs } from 'node:util';
import { SerialPort } from 'serialport';
import { deriveSeed, Prng } from '../src/core/prng.js';
import { encodeFrame } from '../src/protocol/frame.js';
import { LIMITS } from '../src/protocol/messages.js';
import { HEARTBEAT_PERIOD_MS, ReplicaEndpoint } from '../src/replica/replica-endpoint.js';

export const SIM_BOARD_IMPLEMENTATION = 'sim-board/3';
const REOPEN_DELAY_MS_INITIAL = 50;
const REOPEN_DELAY_MS_MAX = 1_000;
const BOOT_NOISE_BYTES_MAX = 48;

function fatal(message: string): never {
  process.stderr.write(`sim-board: ${message}\n`);
  process.exit(2);
}

function integer(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) fatal(`--${flag} must be a whole number, got '${text}'`);
  return Number(text);
}

const OPTIONS = {
  port: { type: 'string' },
  baud: { type: 'string' },
  name: { type: 'string' },
  'boot-noise': { type: 'boolean' },
  law: { type: 'string' },
  'law-hash': { type: 'string' },
  'protocol-version': { type: 'string' },
  'reboot-ms': { type: 'string' },
  flood: { type: 'string' },
  'flood-after-ms': { type: 'string' },
} as const;

function parseOptions(): ReturnType<typeof parseArgs<{ options: typeof OPTIONS; strict: true }>>['values'] {
  try {
    return parseArgs({ options: OPTIONS, strict: true }).values;
  } catch (error) {
    return fatal(error instanceof Error ? error.message.split('\n')[0]! : String(error));
  }
}

const values = parseOptions();
const path = values.port ?? fatal('--port PATH is required');
const baudRate = integer(values.baud, 'baud', 115_200);
const name = values.name ?? 'sim-board';
const rebootMs = integer(values['reboot-ms'], 'reboot-ms', 200);
const lawHash = values['law-hash'] === undefined ? undefined : integer(values['law-hash'], 'law-hash', 0);
const protocolVersion = values['protocol-version'] === undefined ? undefined : integer(values['protocol-version'], 'protocol-version', 0);
let law: LoadedLaw;
try {
  law = await importLaw(values.law ?? DEFAULT_LAW);
} catch (error) {
  fatal(error instanceof Error ? error.message : String(error));
}

const flood = values.flood;
if (flood !== undefined && flood !== 'garbage' && flood !== 'max-frames') fatal(`--flood must be garbage or max-frames, got '${flood}'`);
/** Bytes written per flood burst, and the burst period: about 1 MB/s, far beyond any baud rate. */
const FLOOD_BURST_BYTES = 1_024;
const FLOOD_PERIOD_MS = 1;

let port: SerialPort | null = null;
let rebootingUntilMs = 0;
let reopenDelayMs = REOPEN_DELAY_MS_INITIAL;
let boots = 0;

const endpoint = new ReplicaEndpoint(
  {
    write: (bytes) => {
      if (port?.isOpen && Date.now() >= rebootingUntilMs) port.write(Buffer.from(bytes));
    },
    crash: () => boot('crash'),
  },
  {
    law,
    implementation: SIM_BOARD_IMPLEMENTATION,
    ...(lawHash === undefined ? {} : { lawHash }),
    ...(protocolVersion === undefined ? {} : { protocolVersion }),
  },
);

/** What a board prints while it boots: text, then bytes from an unconfigured UART, then a 0x00 to resynchronise the host. */
function bootNoise(): Buffer {
  const prng = new Prng(deriveSeed(0xb007, boots));
  const text = Buffer.from(`\r\n${name} boot #${boots}\r\n`, 'latin1');
  const junk = Buffer.alloc(prng.nextBelow(BOOT_NOISE_BYTES_MAX));
  for (let i = 0; i < junk.length; i++) junk[i] = prng.nextBelow(256);
  return Buffer.concat([text, junk, Buffer.from([0])]);
}

/** Power-on or reset: everything volatile is lost; silent for rebootMs after a crash. */
function boot(reason: 'power-on' | 'crash'): void {
  boots++;
  endpoint.reset();
  if (reason === 'crash') rebootingUntilMs = Date.now() + rebootMs;
  const delayMs = reason === 'crash' ? rebootMs : 0;
  if (values['boot-noise']) setTimeout(() => port?.isOpen && port.write(bootNoise()), delayMs);
}

function open(): void {
  const candidate = new SerialPort({ path, baudRate, autoOpen: false, lock: false });
  candidate.open((error) => {
    if (error) {
      setTimeout(open, reopenDelayMs);
      reopenDelayMs = Math.min(REOPEN_DELAY_MS_MAX, reopenDelayMs * 2);
      return;
    }
    reopenDelayMs = REOPEN_DELAY_MS_INITIAL;
    port = candidate;
    candidate.on('data', (chunk: Buffer) => {
      if (Date.now() >= rebootingUntilMs) endpoint.push(chunk);
    });
    candidate.on('close', () => {
      if (port === candidate) port = null;
      // The cable was pulled (or the host side vanished): wait for it to come back.
      setTimeout(open, reopenDelayMs);
    });
    candidate.on('error', () => {});
    boot('power-on');
    process.stdout.write(`ready ${path}\n`);
  });
}

/** A frame of exactly LIMITS.frameBytesMax bytes with a valid CRC around a payload that is no message. */
function maxSizeJunkFrame(prng: Prng): Uint8Array {
  const payload = new Uint8Array(LIMITS.payloadBytesMax);
  for (let i = 0; i < payload.length; i++) payload[i] = 1 + prng.nextBelow(255);
  return encodeFrame(payload);
}

function startFlood(kind: 'garbage' | 'max-frames'): void {
  const prng = new Prng(0xf100d);
  setInterval(() => {
    if (!port?.isOpen || port.writableLength > 4 * FLOOD_BURST_BYTES) return;
    if (kind === 'max-frames') {
      const frames: Uint8Array[] = [];
      for (let bytes = 0; bytes < FLOOD_BURST_BYTES; bytes += LIMITS.frameBytesMax) frames.push(maxSizeJunkFrame(prng));
      port.write(Buffer.concat(frames));
    } else {
      const junk = Buffer.alloc(FLOOD_BURST_BYTES);
      for (let i = 0; i < junk.length; i++) junk[i] = 1 + prng.nextBelow(255);
      port.write(junk);
    }
  }, FLOOD_PERIOD_MS);
}

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
setInterval(() => endpoint.heartbeatIfIdle(Date.now()), HEARTBEAT_PERIOD_MS).unref();
open();
if (flood !== undefined) setTimeout(() => startFlood(flood), integer(values['flood-after-ms'], 'flood-after-ms', 0));
