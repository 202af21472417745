/**
 * The line-noise proxy: joins two ttys (the voter's side and a board's side) and damages what
 * crosses in each direction with seeded noise (see line-noise.ts). Each direction has its own
 * PRNG stream. Exits when its stdin closes; prints its counters as one JSON line on exit.
 *
 *   line-noise-proxy --host PATH --board PATH --ber X [--drop X] [--insert X] [--seed N]
 *                    [--direction both|to-host|to-board]
 */
import { parseArgs } from 'node:util';
import { SerialPort } from 'serialport';
import { deriveSeed } from '../src/core/prng.js';
import { LineNoise } from './line-noise.js';

function fatal(message: string): never {
  process.stderr.write(`line-noise-proxy: ${message}\n`);
  process.exit(2);
}

const OPTIONS = {
  host: { type: 'string' },
  board: { type: 'string' },
  ber: { type: 'string' },
  drop: { type: 'string' },
  insert: { type: 'string' },
  seed: { type: 'string' },
  direction: { type: 'string' },
} as const;

function parse(): ReturnType<typeof parseArgs<{ options: typeof OPTIONS; strict: true }>>['values'] {
  try {
    return parseArgs({ options: OPTIONS, strict: true }).values;
  } catch (error) {
    return fatal(error instanceof Error ? error.message.split('\n')[0]! : String(error));
  }
}

function rate(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value > 0.5) fatal(`--${flag} must be a number from 0 to 0.5, got '${text}'`);
  return value;
}

const values = parse();
const hostPath = values.host ?? fatal('--host PATH is required');
const boardPath = values.board ?? fatal('--board PATH is required');
const bitErrorRate = rate(values.ber, 'ber', 0);
const dropRate = rate(values.drop, 'drop', bitErrorRate);
const insertRate = rate(values.insert, 'insert', bitErrorRate);
const seed = values.seed === undefined ? 1 : Number(values.seed) >>> 0;
const direction = values.direction ?? 'both';
if (!['both', 'to-host', 'to-board'].includes(direction)) fatal(`--direction must be both, to-host or to-board, got '${direction}'`);

const quiet = { bitErrorRate: 0, dropRate: 0, insertRate: 0 };
const noisy = { bitErrorRate, dropRate, insertRate };
const toHost = new LineNoise({ ...(direction === 'to-board' ? quiet : noisy), seed: deriveSeed(seed, 1) });
const toBoard = new LineNoise({ ...(direction === 'to-host' ? quiet : noisy), seed: deriveSeed(seed, 2) });

const host = new SerialPort({ path: hostPath, baudRate: 115_200, lock: false });
const board = new SerialPort({ path: boardPath, baudRate: 115_200, lock: false });
for (const port of [host, board]) port.on('error', (error) => fatal(`${port.path}: ${error.message}`));
host.on('data', (chunk: Buffer) => board.write(Buffer.from(toBoard.apply(chunk))));
board.on('data', (chunk: Buffer) => host.write(Buffer.from(toHost.apply(chunk))));
let opened = 0;
for (const port of [host, board]) {
  port.on('open', () => {
    if (++opened === 2) process.stdout.write('ready\n');
  });
}

function exit(): void {
  process.stderr.write(`${JSON.stringify({ toHost: toHost.counters, toBoard: toBoard.counters })}\n`);
  process.exit(0);
}
process.stdin.on('end', exit);
process.stdin.on('error', exit);
process.stdin.resume();
process.on('SIGTERM', exit);
