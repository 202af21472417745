/**
 * The Uno firmware's protocol code (boards/common/board.c and below, over the law SDK), built for
 * the host for each shipped law with -Wconversion -Werror and the firmware's own RAM sizing for
 * that law, and run as a process on pipes: the PROTOCOL.md exchange, every invalid example refused,
 * the hello rules, the law's vectors through tick, state request and state messages, bad states,
 * and every deterministic fault byte for byte equal to the Node replica's. The same checks run
 * against the real firmware in the AVR emulator (avr-board.test.ts); here they are fast and need
 * no emulator.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeVectors } from '../../src/cli/law-cli.js';
import { shippedLaw, shippedLawSources, SHIPPED_LAWS, type ShippedLawName } from '../../src/law/law-loader.js';
import { FAULT_KIND, type FaultKind } from '../../src/protocol/messages.js';
import { ChildProcessTransport } from '../../src/transport/child-process-transport.js';
import { BoardClient, helloFor } from './board-client.js';
import { checkBadStates, checkHello, checkVectors, faultBytes, parseLawVectors, playExchange, refuseInvalid, type LawVectors } from './board-conformance.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BOARD = join(ROOT, 'boards', 'uno');
/** Vector steps per law: 4 parameter sets of 1,000 steps. */
const VECTOR_STEPS = 4_000;

let dir = '';
const programs = new Map<ShippedLawName, string>();
const open: ChildProcessTransport[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tmr-host-board-'));
  for (const name of SHIPPED_LAWS) {
    const build = join(dir, name);
    execFileSync('make', ['-s', '-C', BOARD, `BUILD=${build}`, `LAW=${shippedLawSources(name).c}`, `${build}/host_board`], { stdio: 'pipe' });
    programs.set(name, join(build, 'host_board'));
  }
}, 120_000);

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function board(law: ShippedLawName, testHooks: boolean): Promise<BoardClient> {
  const transport = await ChildProcessTransport.start({ command: programs.get(law)!, args: testHooks ? ['--test-hooks'] : [], name: `host board (${law})` });
  open.push(transport);
  return new BoardClient(transport);
}

function vectorsOf(name: ShippedLawName, steps: number, seed: number): LawVectors {
  const chunks: string[] = [];
  writeVectors(shippedLaw(name), steps, seed, (text) => chunks.push(text));
  return parseLawVectors(chunks.join(''));
}

describe.each(SHIPPED_LAWS)('the firmware protocol code for law %s, built for the host', (name) => {
  const law = shippedLaw(name);
  const params = law.paramsForRate(50);

  it('answers the PROTOCOL.md exchange for its law as documented', async () => {
    expect(await playExchange(await board(name, false), law)).toBeGreaterThanOrEqual(name === 'pid-q16' ? 10 : 3);
  });

  it('refuses every invalid example frame without answering', async () => {
    expect(await refuseInvalid(await board(name, false), law, params)).toBeGreaterThanOrEqual(10);
  });

  it('follows the hello rules: another version or law is answered with its own identity, bad parameters with BAD_LAW_PARAMS, each leaving it unconfigured; bad inputs are INPUT_OUT_OF_RANGE', async () => {
    expect(await checkHello(await board(name, false), law, params)).toBeGreaterThanOrEqual(9);
  });

  it(`reproduces ${VECTOR_STEPS} vector steps of the TypeScript twin through tick, state request and state messages`, async () => {
    const counts = await checkVectors(await board(name, false), law, vectorsOf(name, VECTOR_STEPS, 0x4b0a7d));
    expect(counts).toEqual({ episodes: 4, steps: VECTOR_STEPS, transfers: 4 });
  }, 60_000);

  it('a vector mismatch names the line, the tick and both outputs', async () => {
    const vectors = vectorsOf(name, 20, 3);
    const episode = vectors.episodes[0]!;
    const steps = episode.steps.map((s, i) => (i === 14 ? { ...s, outputs: s.outputs.map((o, c) => (c === 0 ? o + 1 : o)) } : s));
    await expect(checkVectors(await board(name, false), law, { ...vectors, episodes: [{ ...episode, steps }] })).rejects.toThrow(
      new RegExp(`line ${episode.steps[14]!.lineNumber} \\(tick 15, inputs .*\\): board gave tick 15 outputs .* expected tick 15 outputs`),
    );
  });

  it("refuses states of another length, with a digest that is not their CRC, or that the law's deserialize refuses (BAD_STATE), keeping its own", async () => {
    expect(await checkBadStates(await board(name, false), law, params)).toBeGreaterThanOrEqual(4);
  });

  it('answers inject with UNEXPECTED_MESSAGE when the test hooks are off (a production board)', async () => {
    const client = await board(name, false);
    await client.request(helloFor(law, params), 'hello');
    const answer = await client.request({ kind: 'inject', fault: FAULT_KIND.wrong, durationTicks: 0, param: 1500 }, 'inject');
    expect(answer).toMatchObject({ kind: 'error', code: 2 });
  });

  const deterministic: [FaultKind, number][] = [
    ['wrong', 1500],
    ['wrong', -7],
    ['wrong', 0x7fff_ffff],
    ['stuck', 3],
    ['stuck', 40],
    ['babble', 0x0bab],
    ['state', 50],
    ['state', -12_000],
    ['state', 0x7fff_ffff],
    ['bitflip', 0xf11b],
    ['hang', 0],
  ];
  it.each(deterministic)("fault %s (param %d) sends exactly the Node replica's bytes", async (kind, param) => {
    expect(await faultBytes(await board(name, true), law, kind, param, params)).toBeGreaterThan(0);
  });

  it('an accepted hello clears an armed fault: the next tick is answered as the law computes it', async () => {
    const client = await board(name, true);
    await client.request(helloFor(law, params), 'hello');
    client.send({ kind: 'inject', fault: FAULT_KIND.wrong, durationTicks: 0, param: 1500 });
    await client.request(helloFor(law, params), 'hello after the inject');
    const inputs = Int32Array.from(law.definition.inputs.map((c) => c.max));
    const state = law.definition.init(Int32Array.from(params));
    const outputs = new Int32Array(law.outputCount);
    law.definition.step(state, inputs, outputs);
    const answer = await client.request({ kind: 'tick', tick: 9, inputs }, 'tick');
    expect(answer).toEqual({ kind: 'output', tick: 9, outputs: Array.from(outputs), stateDigest: law.digest(state) });
  });

  it('fault crash stops the board at the next tick', async () => {
    const client = await board(name, true);
    await client.request(helloFor(law, params), 'hello');
    client.send({ kind: 'inject', fault: FAULT_KIND.crash, durationTicks: 0, param: 0 });
    const down = new Promise<string>((resolve) => client.transport.onDown(resolve));
    client.send({ kind: 'tick', tick: 0, inputs: law.definition.inputs.map((c) => c.min) });
    expect(await down).toMatch(/exit|code 70/);
  });

  it('fault late holds each output back by its parameter', async () => {
    const client = await board(name, true);
    await client.request(helloFor(law, params), 'hello');
    client.send({ kind: 'inject', fault: FAULT_KIND.late, durationTicks: 0, param: 40_000 });
    const sent = Date.now();
    client.send({ kind: 'tick', tick: 0, inputs: law.definition.inputs.map((c) => c.min) });
    const [answer] = await client.take(1, 2_000, 'late output');
    expect(answer!.message).toMatchObject({ kind: 'output', tick: 0 });
    expect(Date.now() - sent).toBeGreaterThanOrEqual(39);
  });
});
