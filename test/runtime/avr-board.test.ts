/**
 * Acceptance of the real Uno firmware (boards/uno), unchanged, in the AVR emulator: its UART is a
 * pseudo-terminal the host opens with serialport as it would open /dev/ttyACM0.
 *   - the build for each shipped law and its size report;
 *   - for each shipped law, talking to the emulated board directly: the protocol (PROTOCOL.md
 *     exchange, invalid frames, hello rules, bad states), the law's vectors through the protocol,
 *     every deterministic fault hook byte for byte against the Node replica, and the stack margin;
 *     for the default law also the watchdog, the reset line and the kept self-test hash;
 *   - short TMR runs through the compiled CLI with an emulated Uno among the replicas (both laws),
 *     asserting what holds whatever the scheduler does, and a Uno built for another law refused.
 * The timing claims with emulated Unos (three at 1,000,000 baud, a reset detected within 2 ticks,
 * every fault kind detected, the long runs with the simulation's exact trace) are in
 * test/soak/avr-board.test.ts, npm run soak.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AvrSim, UNO_DIR } from '../../firmware-sim/avr-sim.js';
import { writeVectors } from '../../src/cli/law-cli.js';
import { DEFAULT_LAW, shippedLaw, shippedLawSources, SHIPPED_LAWS } from '../../src/law/law-loader.js';
import { FAULT_KIND, type FaultKind } from '../../src/protocol/messages.js';
import type { RealtimeSummary } from '../../src/runtime/realtime-runner.js';
import { SerialTransport } from '../../src/transport/serial-transport.js';
import { assertFreshBuild, replicaFlags, tmrJson } from '../helpers/cli.js';
import { runAgainstSim } from '../helpers/fault-free-trace.js';
import { expectHealthyReplicas } from '../helpers/healthy-replicas.js';
import { SOAK } from '../helpers/timing-figure.js';
import { BoardClient, helloFor } from '../boards/board-client.js';
import { checkBadStates, checkHello, checkVectors, faultBytes, parseLawVectors, playExchange, refuseInvalid } from '../boards/board-conformance.js';

/**
 * Vector steps per law on the emulated AVR, in parameter sets of 1,000 steps each with a state
 * transfer (about 1 s a set at 1,000,000 baud): 2,000 in npm test, 10,000 in npm run soak. The
 * host build of the same C checks 10,000 (c-law-vectors.test.ts); here the point is the AVR
 * compiler's int64 arithmetic and the protocol.
 */
const AVR_VECTOR_STEPS = SOAK ? 10_000 : 2_000;
/** Ticks of the TMR runs with an emulated Uno at 50 Hz (a smoke test in npm test; longer in soak). */
const UNO_RUN_TICKS = SOAK ? 500 : 250;
/** Stack bytes the firmware must never have touched, after the boot self-test and every path here. */
const STACK_MARGIN_BYTES_MIN = 200;

beforeAll(() => assertFreshBuild());

describe('the Uno firmware build', () => {
  it.each(SHIPPED_LAWS)('make LAW=src/laws/%s/law.c builds both images from source with the Debian toolchain and prints flash and RAM use within the part', (name) => {
    const dir = mkdtempSync(join(tmpdir(), 'tmr-uno-build-'));
    try {
      const out = execFileSync('make', ['-C', UNO_DIR, `BUILD=${dir}`, `LAW=${shippedLawSources(name).c}`], { encoding: 'utf8' });
      const sizes = [...out.matchAll(/(tmr-uno-\d+\.elf) \(law (\S+)\): flash (\d+) of (\d+) bytes .* static RAM (\d+) of (\d+) bytes/g)];
      expect(sizes.map((m) => m[1]).sort(), out).toEqual(['tmr-uno-1000000.elf', 'tmr-uno-115200.elf']);
      for (const m of sizes) {
        expect(m[2]).toBe(name);
        expect(Number(m[3])).toBeLessThan(Number(m[4]) * 0.75); // flash margin
        expect(Number(m[5])).toBeLessThan(Number(m[6]) * 0.75); // RAM margin for the stack
      }
      console.log(sizes.map((m) => m[0]).join('\n'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the emulator harness (firmware-sim/avr)', () => {
  it('passes its own checks: echo round trips at both baud rates, a 2 KB burst in order, reopen, reset, watchdog, exits', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmr-harness-'));
    try {
      const out = execFileSync('make', ['-s', '-C', join(UNO_DIR, '..', '..', 'firmware-sim', 'avr'), `BUILD=${dir}`, 'check'], { encoding: 'utf8', timeout: 120_000 });
      expect(out).toMatch(/echo-check .*echo\.elf: ok/);
      expect(out).toMatch(/echo-check .*echo-115200\.elf: ok/);
      expect(out).toMatch(/probe-check .*: ok/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.each(SHIPPED_LAWS)('one emulated Uno running law %s at 1,000,000 baud, talked to directly', (name) => {
  const law = shippedLaw(name);
  const params = law.paramsForRate(50);
  let sim: AvrSim;
  let transport: SerialTransport;
  let client: BoardClient;

  beforeAll(async () => {
    sim = await AvrSim.start({ name: `conformance-${name}`, baudRate: 1_000_000, law: name });
    transport = await SerialTransport.open({ path: sim.hostPath, baudRate: 1_000_000, name: `emulated uno (${name})` });
    client = new BoardClient(transport);
  }, 180_000);

  afterAll(async () => {
    await transport?.close();
    await sim?.stop();
  });

  it('answers the PROTOCOL.md exchange for its law as documented', async () => {
    expect(await playExchange(client, law)).toBeGreaterThanOrEqual(name === DEFAULT_LAW ? 10 : 3);
  });

  it('refuses every invalid example frame without answering, and counts them', async () => {
    const before = await sim.diag();
    const sent = await refuseInvalid(client, law, params);
    const after = await sim.diag();
    expect(after.framesRefused + after.framesOverlong - before.framesRefused - before.framesOverlong).toBeGreaterThanOrEqual(sent);
  });

  it('follows the hello rules and refuses bad inputs and bad states', async () => {
    expect(await checkHello(client, law, params)).toBeGreaterThanOrEqual(9);
    expect(await checkBadStates(client, law, params)).toBeGreaterThanOrEqual(4);
  });

  it(`reproduces ${AVR_VECTOR_STEPS} vector steps of the TypeScript twin through tick, state request and state messages`, async () => {
    const chunks: string[] = [];
    writeVectors(law, AVR_VECTOR_STEPS, 0xa7a, (text) => chunks.push(text));
    const before = await sim.diag();
    const counts = await checkVectors(client, law, parseLawVectors(chunks.join('')));
    expect(counts).toEqual({ episodes: AVR_VECTOR_STEPS / 1_000, steps: AVR_VECTOR_STEPS, transfers: AVR_VECTOR_STEPS / 1_000 });
    const diag = await sim.diag();
    expect(diag.rxOverflowBytes - before.rxOverflowBytes, 'the receive ring lost bytes of back-to-back ticks').toBe(0);
    console.log(`emulated Uno (${name}): ${counts.steps} vector steps; worst tick ${diag.tickCyclesMax} cycles, last ${diag.tickCyclesLast}`);
  }, 400_000);

  const deterministic: [FaultKind, number][] = [
    ['wrong', 1500],
    ['wrong', 0x7fff_ffff],
    ['stuck', 3],
    ['babble', 0x0bab],
    ['state', 50],
    ['state', -12_000],
    ['bitflip', 0xf11b],
    ['hang', 0],
  ];
  it.each(deterministic)("fault %s (param %d) sends exactly the Node replica's bytes", async (kind, param) => {
    expect(await faultBytes(client, law, kind, param, params)).toBeGreaterThan(0);
  });

  it('fault late holds each output back by its parameter', async () => {
    await client.request(helloFor(law, params), 'hello');
    client.send({ kind: 'inject', fault: FAULT_KIND.late, durationTicks: 1, param: 40_000 });
    const sent = Date.now();
    client.send({ kind: 'tick', tick: 0, inputs: law.definition.inputs.map((c) => c.min) });
    const [answer] = await client.take(1, 2_000, 'late output');
    expect(answer!.message).toMatchObject({ kind: 'output', tick: 0 });
    expect(Date.now() - sent).toBeGreaterThanOrEqual(39);
  });

  it(`never touched the last ${STACK_MARGIN_BYTES_MIN} bytes of its stack (the boot self-test and everything above)`, async () => {
    // The firmware measures its painted stack about once a second while idle.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const diag = await sim.diag();
    console.log(`emulated Uno (${name}): ${diag.stackUnusedMinBytes} bytes of stack never used`);
    expect(diag.stackUnusedMinBytes).toBeGreaterThanOrEqual(STACK_MARGIN_BYTES_MIN);
  });
});

describe(`one emulated Uno running law ${DEFAULT_LAW}: watchdog, reset line, the kept self-test hash`, () => {
  const law = shippedLaw(DEFAULT_LAW);
  const params = law.paramsForRate(50);
  const zeros = law.definition.inputs.map((c) => Math.max(c.min, Math.min(0, c.max)));
  let sim: AvrSim;
  let transport: SerialTransport;
  let client: BoardClient;

  beforeAll(async () => {
    sim = await AvrSim.start({ name: 'resets', baudRate: 1_000_000 });
    transport = await SerialTransport.open({ path: sim.hostPath, baudRate: 1_000_000, name: 'emulated uno' });
    client = new BoardClient(transport);
  }, 180_000);

  afterAll(async () => {
    await transport?.close();
    await sim?.stop();
  });

  it('fault crash reboots the MCU by its watchdog: silent at the tick, then unconfigured', async () => {
    await sim.reset(); // the reset cause is now external, not the watchdog
    await new Promise((resolve) => setTimeout(resolve, 300));
    // On a busy machine the emulated boot can take longer than 300 ms of wall time (seen in CI).
    const before = await sim.diagWhenBooted();
    await client.request(helloFor(law, params), 'hello');
    client.send({ kind: 'inject', fault: FAULT_KIND.crash, durationTicks: 0, param: 0 });
    client.send({ kind: 'tick', tick: 0, inputs: zeros });
    // No answer to the tick. An idle heartbeat sent before the crash (the host paused over 100 ms
    // after the helloAck) is no answer.
    const answered = (await client.drain(300)).filter((r) => r.message?.kind !== 'heartbeat');
    expect(answered.map((r) => Buffer.from(r.raw).toString('hex'))).toEqual([]);
    const answer = await client.request({ kind: 'tick', tick: 1, inputs: zeros }, 'tick after the reboot');
    expect(answer).toMatchObject({ kind: 'error', code: 3 });
    const after = await sim.diag();
    expect(before.resetFlags & 0x08).toBe(0);
    expect(after.resetFlags & 0x08, 'reset cause is not the watchdog').toBe(0x08);
  });

  it('the harness resets the MCU on request: the board comes back unconfigured', async () => {
    await client.request(helloFor(law, params), 'hello');
    await sim.reset();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const answer = await client.request({ kind: 'tick', tick: 0, inputs: zeros }, 'tick after reset');
    expect(answer).toMatchObject({ kind: 'error', code: 3 });
  });

  it("a warm reset keeps the law self-test's hash for this build (the board answers at once); an upset of the kept copy or another build's key makes it run the test again; a power-on always does", async () => {
    const hex = (n: number): string => Buffer.from(Uint32Array.of(n >>> 0).buffer).toString('hex');
    const expected = law.selfTestHash >>> 0;
    const ackHash = async (): Promise<number> => ((await client.request(helloFor(law, params), 'hello', 3_000)) as { lawHash: number }).lawHash >>> 0;
    expect(await ackHash()).toBe(expected); // booted: the self-test has run
    expect(await sim.peek('law_hash_kept')).toBe(hex(expected));
    expect(await sim.peek('law_hash_kept_complement')).toBe(hex(~expected));
    const key = await sim.peek('law_hash_key');
    expect(key).not.toBe('00000000');
    // An upset that breaks the pair: the next (warm) boot runs the self-test again.
    await sim.poke('law_hash_kept', hex(0xdeadbeef));
    await sim.reset();
    expect(await ackHash()).toBe(expected);
    expect(await sim.peek('law_hash_kept')).toBe(hex(expected));
    // A consistent pair under another build's key (a board re-flashed with another law, then
    // reset by DTR): not believed, the test runs again.
    await sim.poke('law_hash_kept', hex(0x12345678));
    await sim.poke('law_hash_kept_complement', hex(~0x12345678));
    await sim.poke('law_hash_key', hex(0x0badc0de));
    await sim.reset();
    expect(await ackHash()).toBe(expected);
    expect(await sim.peek('law_hash_key')).toBe(key);
    // A consistent wrong pair under this build's key is believed on a warm boot (the trade-off,
    // shown): the host refuses the board for its law hash, which is the safe outcome; a power-on
    // reset runs the test.
    await sim.poke('law_hash_kept', hex(0x12345678));
    await sim.poke('law_hash_kept_complement', hex(~0x12345678));
    await sim.reset();
    expect(await ackHash()).toBe(0x12345678);
    const fresh = await AvrSim.start({ name: 'cold-boot', baudRate: 1_000_000 });
    try {
      // Its boot runs the 256-step self-test (about 100 ms of emulated time) before it stores the
      // hash; polled for up to 10 s, generous for a machine whose cores are busy elsewhere.
      let kept = '';
      for (let i = 0; i < 200 && kept !== hex(expected); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        kept = await fresh.peek('law_hash_kept');
      }
      expect(kept).toBe(hex(expected));
    } finally {
      await fresh.stop();
    }
    // Leave this board as the other tests expect it.
    await sim.poke('law_hash_kept', hex(expected));
    await sim.poke('law_hash_kept_complement', hex(~expected));
    await sim.reset();
    expect(await ackHash()).toBe(expected);
  });

  it('without the EEPROM switch (as shipped) inject is refused with UNEXPECTED_MESSAGE', async () => {
    const shipped = await AvrSim.start({ name: 'no-hooks', testHooks: false });
    const link = await SerialTransport.open({ path: shipped.hostPath, baudRate: shipped.baudRate, name: 'no-hooks' });
    try {
      const c = new BoardClient(link);
      await c.request(helloFor(law, params), 'hello');
      expect(await c.request({ kind: 'inject', fault: FAULT_KIND.wrong, durationTicks: 0, param: 1500 }, 'inject')).toMatchObject({ kind: 'error', code: 2 });
      expect((await shipped.diag()).testHooks).toBe(false);
    } finally {
      await link.close();
      await shipped.stop();
    }
  });
});

const tmr = tmrJson;
const replicas = replicaFlags;

describe('TMR runs with emulated Unos', () => {
  it(`{Node replica, emulated Uno, simulated board} at 50 Hz for ${UNO_RUN_TICKS} ticks: no disagreement, nothing unsafe, the simulation's trace up to any timing event`, async () => {
    const common = ['--rate-hz', '50', '--ticks', String(UNO_RUN_TICKS), '--seed', '31'];
    const mix = replicas('node', 'avr-sim', 'sim-board');
    const command = `tmr run ${[...common, ...mix].join(' ')}`;
    const { run } = await runAgainstSim(common, mix, { label: '{node, avr-sim, sim-board}', runTmr: (a) => tmr<RealtimeSummary>(a) });
    expect(run.unsafeCommands, command).toBe(0);
    expectHealthyReplicas(run, [0, 1, 2], command);
    expect(run.links[1]!.description).toMatch(/@1000000/);
  });

  it(`law tank: {Node replica, emulated Uno built for tank (the run's law), simulated board} at 50 Hz for ${UNO_RUN_TICKS} ticks: the simulation's trace up to any timing event`, async () => {
    const common = ['--law', 'tank', '--rate-hz', '50', '--ticks', String(UNO_RUN_TICKS), '--seed', '33'];
    const mix = replicas('node', 'avr-sim', 'sim-board');
    const command = `tmr run ${[...common, ...mix].join(' ')}`;
    const { run } = await runAgainstSim(common, mix, { label: 'tank on {node, avr-sim, sim-board}', runTmr: (a) => tmr<RealtimeSummary>(a) });
    expect(run.law.name, command).toBe('tank');
    expect(run.unsafeCommands, command).toBe(0);
    expectHealthyReplicas(run, [0, 1, 2], command);
  });

  it('an emulated Uno built for another law is refused at the handshake, naming both laws (the run starts without it: --start-policy degraded)', async () => {
    const args = ['run', '--ticks', '20', '--start-policy', 'degraded', ...replicas('node', 'node', 'avr-sim:law=tank')];
    const command = `tmr ${args.join(' ')}`;
    const run = await tmr<RealtimeSummary>(args);
    expect(run.replicas[2]!.reason, command).toBe('HANDSHAKE_REFUSED');
    expect(run.replicas[2]!.detail).toMatch(/^LAW_MISMATCH: .*tank v1.*pid-q16 v2/);
    // The Node replicas were admitted (and only timing could take one out afterwards).
    expectHealthyReplicas(run, [0, 1], command);
  });
});
