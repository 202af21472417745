/**
 * The Uno firmware's protocol code (boards/uno/src/board.c and below), built for the host with
 * -Wconversion -Werror and run as a process on pipes: the PROTOCOL.md exchange, every invalid
 * example refused, the law vectors through tick and state messages, and every deterministic fault
 * byte for byte equal to the Node replica's. The same checks run against the real firmware in the
 * AVR emulator (avr-board.test.ts); here they are fast and need no emulator.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lawParamsForRate } from '../../src/core/control-law.js';
import { FAULT_KIND, type FaultKind } from '../../src/protocol/messages.js';
import { ChildProcessTransport } from '../../src/transport/child-process-transport.js';
import { parseVectorFile } from '../helpers/law-vectors.js';
import { BoardClient, helloFor } from './board-client.js';
import { checkVectors, faultBytes, playExchange, refuseInvalid } from './board-conformance.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BOARD = join(ROOT, 'boards', 'uno');
const VECTORS = parseVectorFile(readFileSync(join(ROOT, 'test', 'vectors', 'pid-q16-v1.txt'), 'utf8'));
const PARAMS = lawParamsForRate(50);

let dir = '';
let program = '';
const open: ChildProcessTransport[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tmr-host-board-'));
  program = join(dir, 'host_board');
  execFileSync('make', ['-s', '-C', BOARD, `BUILD=${dir}`, program], { stdio: 'pipe' });
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function board(testHooks: boolean): Promise<BoardClient> {
  const transport = await ChildProcessTransport.start({ command: program, args: testHooks ? ['--test-hooks'] : [], name: 'host board' });
  open.push(transport);
  return new BoardClient(transport);
}

describe('the firmware protocol code, built for the host', () => {
  it('answers the PROTOCOL.md exchange (section 18.2) as documented', async () => {
    expect(await playExchange(await board(false))).toBeGreaterThanOrEqual(10);
  });

  it('refuses every invalid example frame without answering', async () => {
    expect(await refuseInvalid(await board(false), PARAMS)).toBeGreaterThanOrEqual(10);
  });

  it('reproduces the law vectors through tick and state messages', async () => {
    const counts = await checkVectors(await board(false), VECTORS, 2_000);
    expect(counts).toEqual({ fullSteps: 10_000, edgeSteps: 2_680, longSteps: 10_000, checkpoints: 10 });
  }, 60_000);

  it('a vector mismatch names the step, the tick and both values', async () => {
    const run = VECTORS.runs[0]!;
    const broken = { ...VECTORS, runs: [{ ...run, records: run.records.map((r, i) => (i === 7 ? { ...r, command: r.command + 1 } : r)) }], longRuns: [] };
    await expect(checkVectors(await board(false), broken, 0)).rejects.toThrow(/step 7 at line \d+ \(tick 7, .*command .* expected .*command/);
  });

  it('answers inject with UNEXPECTED_MESSAGE when the test hooks are off (a production board)', async () => {
    const client = await board(false);
    await client.request(helloFor(PARAMS), 'hello');
    const answer = await client.request({ kind: 'inject', fault: FAULT_KIND.wrong, durationTicks: 0, param: 1500 }, 'inject');
    expect(answer).toMatchObject({ kind: 'error', code: 2 });
  });

  const deterministic: [FaultKind, number][] = [
    ['wrong', 1500],
    ['wrong', 11_000],
    ['stuck', 3],
    ['stuck', 40],
    ['babble', 0x0bab],
    ['state', 50],
    ['state', -12_000],
    ['bitflip', 0xf11b],
    ['hang', 0],
  ];
  it.each(deterministic)('fault %s (param %d) sends exactly the Node replica\'s bytes', async (kind, param) => {
    expect(await faultBytes(await board(true), kind, param, PARAMS)).toBeGreaterThan(0);
  });

  it('fault crash stops the board at the next tick', async () => {
    const client = await board(true);
    await client.request(helloFor(PARAMS), 'hello');
    client.send({ kind: 'inject', fault: FAULT_KIND.crash, durationTicks: 0, param: 0 });
    const down = new Promise<string>((resolve) => client.transport.onDown(resolve));
    client.send({ kind: 'tick', tick: 0, setpointMilliDeg: 0, positionMilliDeg: 0 });
    expect(await down).toMatch(/exit|code 70/);
  });

  it('fault late holds each output back by its parameter', async () => {
    const client = await board(true);
    await client.request(helloFor(PARAMS), 'hello');
    client.send({ kind: 'inject', fault: FAULT_KIND.late, durationTicks: 0, param: 40_000 });
    const sent = Date.now();
    client.send({ kind: 'tick', tick: 0, setpointMilliDeg: 0, positionMilliDeg: 0 });
    const [answer] = await client.take(1, 2_000, 'late output');
    expect(answer!.message).toMatchObject({ kind: 'output', tick: 0 });
    expect(Date.now() - sent).toBeGreaterThanOrEqual(39);
  });
});
