/**
 * The real Node replica process, started exactly as `tmr run` starts it (nodeReplicaCommand() with
 * --law, as nodeProvider does: the compiled replica in dist/ when there is one, so build first,
 * else tsx from the .ts sources), behind ChildProcessTransport and ReplicaLink.
 *
 * tsx costs about a second of start-up per process, so one healthy pid-q16 replica serves every
 * test that leaves it alive; each of those tests makes its own ReplicaLink (fresh counters) and
 * says hello again, which resets the replica's law state. A tank replica shows a second law shape
 * (three inputs, three outputs) through the same process path. Four processes in all. No timing
 * assertions: a "late" reply is late because the test ends the tick before the reply can arrive.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Prng } from '../../src/core/prng.js';
import { createObservations, resetObservations, type Observations } from '../../src/core/tmr-core.js';
import { shippedLaw } from '../../src/law/law-loader.js';
import { drawInputs, helloFor, resetWalk, type LoadedLaw } from '../../src/law/law-runtime.js';
import { encodeFrame } from '../../src/protocol/frame.js';
import { encodeMessage } from '../../src/protocol/codec.js';
import { FAULT_KIND, PROTOCOL_VERSION, type HelloMessage } from '../../src/protocol/messages.js';
import { NODE_REPLICA_IMPLEMENTATION, ReplicaLogic } from '../../src/replica/replica-logic.js';
import { nodeReplicaCommand } from '../../src/runtime/realtime-runner.js';
import { ReplicaLink } from '../../src/runtime/replica-link.js';
import { ChildProcessTransport } from '../../src/transport/child-process-transport.js';
import { concatBytes, until } from '../transport/contract.js';
import { processExists, stopTransport } from '../helpers/processes.js';

/** tsx start-up plus a loaded 2-core machine. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
const REPLY_TIMEOUT_MS = 10_000;
const REPLICA_INDEX = 0;
/**
 * replica-main.ts's CRASH_EXIT_CODE, written out: importing that module would run a replica inside
 * the test worker (it listens on stdin and exits when stdin ends).
 */
const CRASH_EXIT_CODE = 70;

const PID = shippedLaw('pid-q16');
const TANK = shippedLaw('tank');
/** pid-q16 at 1 kHz: gains differ from the declared (200 Hz) defaults, so the parameters travel. */
const HELLO: HelloMessage = helloFor(PID, REPLICA_INDEX, PID.paramsForRate(1_000));

/** One tick's inputs, one value per input channel of the law. */
type Inputs = readonly number[];

/** A replica process as `tmr run` starts it (nodeProvider): the law is named on the command line. */
async function startReplica(law: LoadedLaw = PID, extraArgs: readonly string[] = []): Promise<ChildProcessTransport> {
  const replica = nodeReplicaCommand();
  return ChildProcessTransport.start({
    command: replica.command,
    args: [...replica.args, `--law=${law.source}`, ...extraArgs],
    name: `replica ${REPLICA_INDEX} (${law.name})`,
  });
}

const stopReplica = stopTransport;


function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A fresh link (fresh counters and observations) on a running replica of `law`. */
function linkTo(transport: ChildProcessTransport, law: LoadedLaw = PID): { link: ReplicaLink; obs: Observations } {
  const obs = createObservations(1, law.outputCount);
  return { link: new ReplicaLink(REPLICA_INDEX, transport, obs, law), obs };
}

async function helloOk(link: ReplicaLink, hello: HelloMessage = HELLO): Promise<void> {
  const outcome = await link.handshake(hello, HANDSHAKE_TIMEOUT_MS);
  expect(outcome, `handshake with ${link.transport.description}`).toMatchObject({ ok: true });
}

function tickFrame(tick: number, inputs: Inputs): Uint8Array {
  return encodeMessage({ kind: 'tick', tick, inputs });
}

/** Sends one tick and waits for its on-time reply (or the link dying); the deadline then passes. */
async function tickAndWait(link: ReplicaLink, obs: Observations, tick: number, inputs: Inputs): Promise<void> {
  resetObservations(obs);
  const settled = new Promise<void>((resolve) => {
    link.onSettled = resolve;
  });
  link.beginTick(tick, tickFrame(tick, inputs));
  await withTimeout(settled, REPLY_TIMEOUT_MS, `the reply to tick ${tick}`);
  link.onSettled = () => {};
  link.endTick();
  expect(obs.onTime[REPLICA_INDEX], `tick ${tick} on time (link down: ${link.linkDownReason})`).toBe(1);
}

/** One line per tick, as the host saw it and as an in-process ReplicaLogic computes it. */
function remoteLine(tick: number, obs: Observations): string {
  const base = REPLICA_INDEX * obs.channelCount;
  return `${tick} ${Array.from(obs.outputs.subarray(base, base + obs.channelCount)).join(' ')} ${obs.digests[REPLICA_INDEX]}`;
}

function localLine(logic: ReplicaLogic, tick: number, inputs: Inputs): string {
  const outcome = logic.onTick(tick, inputs);
  if (!outcome.ok) throw new Error(`in-process replica refused tick ${tick}: ${outcome.error.detail}`);
  return `${tick} ${Array.from(logic.outputs).join(' ')} ${outcome.stateDigest}`;
}

function helloedLocalLogic(law: LoadedLaw = PID, hello: HelloMessage = HELLO): ReplicaLogic {
  const logic = new ReplicaLogic(law);
  expect(logic.onHello(hello).kind).toBe('helloAck');
  return logic;
}

/** Varied law inputs from a seeded generator (the self-test's mix of range ends, draws and walks). */
function inputSequence(seed: number, count: number, law: LoadedLaw = PID): Inputs[] {
  const prng = new Prng(seed);
  const inputs = new Int32Array(law.inputCount);
  const previous = new Float64Array(law.inputCount);
  resetWalk(law.definition, previous);
  const out: Inputs[] = [];
  for (let i = 0; i < count; i++) {
    drawInputs(prng, law.definition, previous, inputs);
    out.push(Array.from(inputs));
  }
  return out;
}

describe('a Node replica process', () => {
  let replica: ChildProcessTransport | null = null;

  const running = (): ChildProcessTransport => {
    expect(replica, 'the shared replica did not start').not.toBeNull();
    expect(replica!.isUp, `the shared replica is down (stderr: ${replica!.stderr})`).toBe(true);
    return replica!;
  };

  beforeAll(async () => {
    replica = await startReplica();
  });

  afterAll(async () => {
    const current = replica;
    replica = null;
    if (current !== null) await stopReplica(current);
  });

  it('answers hello with its implementation and the law hash of our law', async () => {
    const { link } = linkTo(running());
    const outcome = await link.handshake(HELLO, HANDSHAKE_TIMEOUT_MS);
    if (!outcome.ok) throw new Error(`handshake failed: ${outcome.reason}: ${outcome.detail}`);
    expect(outcome.ack).toEqual({
      kind: 'helloAck',
      protocolVersion: PROTOCOL_VERSION,
      replicaIndex: REPLICA_INDEX,
      implementation: NODE_REPLICA_IMPLEMENTATION,
      lawName: 'pid-q16',
      lawVersion: PID.version,
      lawHash: PID.selfTestHash,
    });
  });

  it('answers a hello for another law with its own identity and is refused with LAW_MISMATCH, naming both laws', async () => {
    const { link, obs } = linkTo(running());
    const outcome = await link.handshake(helloFor(TANK, REPLICA_INDEX, TANK.paramsForRate(1_000)), HANDSHAKE_TIMEOUT_MS);
    expect(outcome).toMatchObject({ ok: false, reason: 'LAW_MISMATCH' });
    if (outcome.ok) return;
    expect(outcome.detail).toContain(`pid-q16 v${PID.version}`);
    expect(outcome.detail).toContain(`tank v${TANK.version}`);
    // It stayed unconfigured (a tick is refused), and a hello for its own law configures it again.
    resetObservations(obs);
    link.beginTick(0, tickFrame(0, [0, 0]));
    await until(() => link.counters.replicaErrors > 0, REPLY_TIMEOUT_MS, 'the NOT_CONFIGURED error');
    link.endTick();
    expect(link.lastReplicaError).toMatch(/^code 3: /);
    await helloOk(link);
  });

  it('computes bit-identical outputs and digests to an in-process ReplicaLogic over 200 varied ticks', async () => {
    const { link, obs } = linkTo(running());
    await helloOk(link);
    const local = helloedLocalLogic();
    const remote: string[] = [];
    const expected: string[] = [];
    const seed = 0x5eed_0200;
    const inputs = inputSequence(seed, 200);
    for (const [tick, tickInputs] of inputs.entries()) {
      await tickAndWait(link, obs, tick, tickInputs);
      remote.push(remoteLine(tick, obs));
      expected.push(localLine(local, tick, tickInputs));
    }
    expect(remote, `seed ${seed}`).toEqual(expected);
    expect(link.counters).toMatchObject({ corruptFrames: 0, lateReplies: 0, unexpectedMessages: 0, replicaErrors: 0 });
  });

  it('survives corrupt frames, never answers them, and keeps computing', async () => {
    const transport = running();
    const { link, obs } = linkTo(transport);
    await helloOk(link);
    const local = helloedLocalLogic();
    const inputs = inputSequence(7, 4);
    await tickAndWait(link, obs, 0, inputs[0]!);
    expect(remoteLine(0, obs)).toBe(localLine(local, 0, inputs[0]!));

    const valid = tickFrame(1, inputs[1]!);
    const oneByteChanged = Uint8Array.from(valid);
    oneByteChanged[2] = oneByteChanged[2] === 0xff ? 0xfe : oneByteChanged[2]! + 1; // still no 0x00 inside
    const prng = new Prng(0xbad);
    const randomFrames = Array.from({ length: 20 }, () => Uint8Array.from({ length: 1 + prng.nextBelow(250) }, () => 1 + prng.nextBelow(255)));
    const garbage: [string, Uint8Array][] = [
      ['a tick frame with one byte changed', oneByteChanged],
      ['truncated frame', concatBytes([valid.subarray(0, 6), Uint8Array.of(0)])],
      ['valid frame, not CBOR', encodeFrame(Uint8Array.of(0xff))],
      ['valid frame, unknown message type', encodeFrame(Uint8Array.of(0x81, 0x18, 0x63))],
      ['over-long run', concatBytes([new Uint8Array(5_000).fill(0x42), Uint8Array.of(0)])],
      ['empty frames', Uint8Array.of(0, 0, 0)],
      ...randomFrames.map((body, i): [string, Uint8Array] => [`random frame ${i}`, concatBytes([body, Uint8Array.of(0)])]),
    ];
    for (const [what, bytes] of garbage) expect(transport.send(bytes), what).toBe(true);

    for (let tick = 1; tick < inputs.length; tick++) {
      await tickAndWait(link, obs, tick, inputs[tick]!);
      expect(remoteLine(tick, obs), `tick ${tick} after garbage`).toBe(localLine(local, tick, inputs[tick]!));
    }
    expect(transport.isUp).toBe(true);
    // Garbage is counted by the replica, never answered: nothing odd came back.
    expect(link.counters).toMatchObject({ corruptFrames: 0, unexpectedMessages: 0, replicaErrors: 0, lateReplies: 0 });
  });

  it('garbage from a babbling replica is counted as protocol errors, and the replica recovers', async () => {
    const transport = running();
    const { link, obs } = linkTo(transport);
    await helloOk(link);
    const local = helloedLocalLogic();
    const babbleTicks = 5;
    const inputs = inputSequence(11, babbleTicks + 2);
    expect(transport.send(encodeMessage({ kind: 'inject', fault: FAULT_KIND.babble, durationTicks: babbleTicks, param: 1 }))).toBe(true);
    let protocolErrors = 0;
    for (let tick = 0; tick < babbleTicks; tick++) {
      resetObservations(obs);
      const corruptBefore = link.counters.corruptFrames;
      link.beginTick(tick, tickFrame(tick, inputs[tick]!));
      await until(() => link.counters.corruptFrames > corruptBefore, REPLY_TIMEOUT_MS, `garbage for babbling tick ${tick}`);
      link.endTick();
      expect(obs.onTime[REPLICA_INDEX], `babbling tick ${tick}`).toBe(0);
      protocolErrors += obs.protocolErrors[REPLICA_INDEX]!;
      localLine(local, tick, inputs[tick]!); // the replica's law still steps while it babbles
    }
    expect(protocolErrors).toBeGreaterThanOrEqual(babbleTicks);
    expect(protocolErrors).toBe(link.counters.corruptFrames);

    for (let tick = babbleTicks; tick < inputs.length; tick++) {
      await tickAndWait(link, obs, tick, inputs[tick]!);
      expect(remoteLine(tick, obs), `tick ${tick} after babbling`).toBe(localLine(local, tick, inputs[tick]!));
      expect(obs.protocolErrors[REPLICA_INDEX]).toBe(0);
    }
  });

  it('a reply arriving after endTick() is counted as late', async () => {
    const transport = running();
    const { link, obs } = linkTo(transport);
    await helloOk(link);
    const lateTicks = 3;
    const inputs = inputSequence(13, lateTicks + 1);
    expect(transport.send(encodeMessage({ kind: 'inject', fault: FAULT_KIND.late, durationTicks: lateTicks, param: 20_000 }))).toBe(true);
    for (let tick = 0; tick < lateTicks; tick++) {
      resetObservations(obs);
      link.beginTick(tick, tickFrame(tick, inputs[tick]!));
      // The late reply to the previous tick arrived between ticks; it is charged to this one.
      expect(obs.lateReplies[REPLICA_INDEX], `late replies carried into tick ${tick}`).toBe(tick === 0 ? 0 : 1);
      // The deadline passes at once: no reply can arrive inside this synchronous step.
      link.endTick();
      await until(() => link.counters.lateReplies === tick + 1, REPLY_TIMEOUT_MS, `the late reply to tick ${tick}`);
      expect(obs.onTime[REPLICA_INDEX]).toBe(0);
    }
    resetObservations(obs);
    await tickAndWait(link, obs, lateTicks, inputs[lateTicks]!);
    expect(obs.lateReplies[REPLICA_INDEX], 'the last late reply, carried into the next tick').toBe(1);
    expect(link.counters).toMatchObject({ lateReplies: lateTicks, corruptFrames: 0, unexpectedMessages: 0 });
  });

  it('sends heartbeats while no ticks arrive', async () => {
    const { link } = linkTo(running());
    await helloOk(link);
    await until(() => link.counters.heartbeats > 0, REPLY_TIMEOUT_MS, 'a heartbeat from an idle replica');
    expect(link.counters).toMatchObject({ corruptFrames: 0, unexpectedMessages: 0, replicaErrors: 0 });
  });

  // Last: it ends the shared replica.
  it('exits by itself when its stdin closes (the host is gone)', async () => {
    const transport = running();
    const { link } = linkTo(transport);
    const pid = transport.pid!;
    transport.child.stdin!.end();
    await until(() => link.isDown, REPLY_TIMEOUT_MS, 'the replica to exit after its stdin closed');
    expect(link.linkDownReason).toBe('process exited with code 0');
    await until(() => !processExists(pid), REPLY_TIMEOUT_MS, `pid ${pid} to disappear`);
  });
});

describe('a Node replica process running another law (tank: 3 inputs, 3 outputs)', () => {
  let replica: ChildProcessTransport | null = null;
  const hello = helloFor(TANK, REPLICA_INDEX, TANK.paramsForRate(1_000));

  afterAll(async () => {
    const current = replica;
    replica = null;
    if (current !== null) await stopReplica(current);
  });

  it('says it runs tank, and computes bit-identical outputs and digests to an in-process ReplicaLogic over 200 varied ticks', async () => {
    replica = await startReplica(TANK);
    const { link, obs } = linkTo(replica, TANK);
    const outcome = await link.handshake(hello, HANDSHAKE_TIMEOUT_MS);
    if (!outcome.ok) throw new Error(`handshake failed: ${outcome.reason}: ${outcome.detail}`);
    expect(outcome.ack).toMatchObject({ lawName: 'tank', lawVersion: TANK.version, lawHash: TANK.selfTestHash });
    const local = helloedLocalLogic(TANK, hello);
    const seed = 0x7a4c_0200;
    const inputs = inputSequence(seed, 200, TANK);
    const remote: string[] = [];
    const expected: string[] = [];
    for (const [tick, tickInputs] of inputs.entries()) {
      await tickAndWait(link, obs, tick, tickInputs);
      remote.push(remoteLine(tick, obs));
      expected.push(localLine(local, tick, tickInputs));
    }
    expect(remote, `seed ${seed}`).toEqual(expected);
    // The inputs reached the alarm and the pump both ways, or the comparison proves little.
    for (const channel of [1, 2]) expect(new Set(expected.map((line) => line.split(' ')[1 + channel])).size, `output ${channel} varied`).toBe(2);
    expect(link.counters).toMatchObject({ corruptFrames: 0, lateReplies: 0, unexpectedMessages: 0, replicaErrors: 0 });
  });
});

describe('Node replica processes that fail', () => {
  const started: ChildProcessTransport[] = [];
  const start = async (law: LoadedLaw = PID, extraArgs: readonly string[] = []): Promise<ChildProcessTransport> => {
    const transport = await startReplica(law, extraArgs);
    started.push(transport);
    return transport;
  };

  afterEach(async () => {
    const results = await Promise.allSettled(started.splice(0).map(stopReplica));
    for (const result of results) if (result.status === 'rejected') throw result.reason;
  });

  it('a replica reporting another law hash is refused with LAW_HASH_MISMATCH, naming both hashes', async () => {
    const transport = await start(PID, ['--law-hash=123']);
    const { link } = linkTo(transport);
    const outcome = await link.handshake(HELLO, HANDSHAKE_TIMEOUT_MS);
    const expectedHex = `0x${PID.selfTestHash.toString(16).padStart(8, '0')}`;
    expect(outcome).toMatchObject({ ok: false, reason: 'LAW_HASH_MISMATCH' });
    if (outcome.ok) return;
    expect(outcome.detail).toContain(NODE_REPLICA_IMPLEMENTATION);
    expect(outcome.detail).toContain('0x0000007b'); // what it sent: 123
    expect(outcome.detail).toContain(expectedHex); // what we expected
  });

  it('an injected crash makes the process exit with code 70 and the link go down', async () => {
    const transport = await start();
    const { link, obs } = linkTo(transport);
    await helloOk(link);
    expect(transport.send(encodeMessage({ kind: 'inject', fault: FAULT_KIND.crash, durationTicks: 0, param: 0 }))).toBe(true);
    resetObservations(obs);
    const settled = new Promise<void>((resolve) => {
      link.onSettled = resolve;
    });
    link.beginTick(0, tickFrame(0, [1_000, 0]));
    await withTimeout(settled, REPLY_TIMEOUT_MS, 'the link to go down after the crash');
    link.endTick();
    expect(link.isDown).toBe(true);
    expect(link.linkDownReason).toBe(`process exited with code ${CRASH_EXIT_CODE}`);
    expect(transport.child.exitCode).toBe(CRASH_EXIT_CODE);
    expect(obs.onTime[REPLICA_INDEX]).toBe(0);
    expect(obs.linkDown[REPLICA_INDEX]).toBe(1);
    expect(processExists(transport.pid!)).toBe(false);
  });
});
