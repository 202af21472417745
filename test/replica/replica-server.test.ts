/**
 * The replica server (`tmr replica --listen`) in-process, over real TCP on loopback: one voter
 * session at a time for a voter alone, a redundant set's voters sharing it (a join without a
 * reset, each tick stepped once), an injected crash that reboots the replica in place (its session closes,
 * its law state is gone, a new session is served), a voter with another key refused and counted,
 * forged and replayed frames counted per session. Nothing here depends on timing: every wait is
 * for an event, with a generous bound.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { shippedLaw } from '../../src/law/law-loader.js';
import { helloFor } from '../../src/law/law-runtime.js';
import { decodeMessage, encodeMessage } from '../../src/protocol/codec.js';
import { FAULT_KIND, type Message } from '../../src/protocol/messages.js';
import { ReplicaServer } from '../../src/replica/replica-server.js';
import { keyIdHex } from '../../src/transport/secure-channel.js';
import { TcpTransport } from '../../src/transport/tcp-transport.js';
import { until, UNTIL_TIMEOUT_MS } from '../transport/contract.js';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 13 + 1) & 0xff);
const OTHER = Uint8Array.from({ length: 32 }, (_, i) => (i * 17 + 2) & 0xff);
const law = shippedLaw('pid-q16');

interface Voter {
  readonly transport: TcpTransport;
  readonly received: Message[];
  readonly downReasons: string[];
}

describe('replica server', () => {
  const closing: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });

  async function server(): Promise<{ server: ReplicaServer; log: string[] }> {
    const log: string[] = [];
    const s = await ReplicaServer.start({ host: '127.0.0.1', port: 0, key: { key: KEY, id: keyIdHex(KEY), path: '(test)' }, law, log: (line) => log.push(line) });
    closing.push(() => s.close());
    return { server: s, log };
  }

  async function voter(port: number, key = KEY, epoch = 0): Promise<Voter> {
    const transport = await TcpTransport.connect({ host: '127.0.0.1', port, key, name: 'voter', timeoutMs: 5_000, epoch });
    closing.push(() => transport.close());
    const v: Voter = { transport, received: [], downReasons: [] };
    transport.onFrame((frame) => {
      const decoded = decodeMessage(frame);
      // Heartbeats come whenever a session has been idle for 100 ms, which a busy machine decides
      // (CI saw one in the middle of a case): the replies to what was sent are what is compared.
      if (decoded.ok && decoded.message.kind !== 'heartbeat') v.received.push(decoded.message);
    });
    transport.onDown((reason) => v.downReasons.push(reason));
    return v;
  }

  const send = (v: Voter, message: Message): void => {
    expect(v.transport.send(encodeMessage(message))).toBe(true);
  };
  const hello = helloFor(law, 1, law.paramsForRate(200));
  const tick = (n: number): Message => ({ kind: 'tick', tick: n, inputs: [1000 * n, 0] });
  const kinds = (v: Voter): string[] => v.received.map((m) => (m.kind === 'output' ? `output ${m.tick}` : m.kind));

  it('serves a voter: hello, ticks, outputs', async () => {
    const { server: s } = await server();
    const v = await voter(s.address.port);
    send(v, hello);
    for (let n = 0; n < 3; n++) send(v, tick(n));
    await until(() => v.received.length === 4, UNTIL_TIMEOUT_MS, 'helloAck and three outputs');
    expect(kinds(v)).toEqual(['helloAck', 'output 0', 'output 1', 'output 2']);
    expect(s.stats.sessionsAccepted).toBe(1);
  });

  it('an injected crash reboots the replica in place: the session closes, the state is gone, a new session is served', async () => {
    const { server: s, log } = await server();
    const first = await voter(s.address.port);
    send(first, hello);
    send(first, tick(0));
    send(first, { kind: 'inject', fault: FAULT_KIND.crash, durationTicks: 0, param: 0 });
    send(first, tick(1));
    await until(() => first.downReasons.length === 1, UNTIL_TIMEOUT_MS, 'the session to close on the crash');
    expect(first.downReasons[0]).toMatch(/closed/);
    expect(s.stats.crashes).toBe(1);
    expect(log.some((line) => line.startsWith('crash (injected)'))).toBe(true);

    const second = await voter(s.address.port);
    // Unconfigured after the reboot: a tick before hello is answered with an error.
    send(second, tick(2));
    send(second, hello);
    send(second, tick(0));
    await until(() => second.received.length === 3, UNTIL_TIMEOUT_MS, 'an error, helloAck and an output');
    expect(kinds(second)).toEqual(['error', 'helloAck', 'output 0']);
    expect(s.stats.sessionsAccepted).toBe(2);
  });

  it('a second voter takes the session over; the first is closed, named', async () => {
    const { server: s, log } = await server();
    const first = await voter(s.address.port);
    const second = await voter(s.address.port);
    await until(() => first.downReasons.length === 1, UNTIL_TIMEOUT_MS, 'the first session to close');
    expect(log.some((line) => /^session from \S+ replaced by one from \S+$/.test(line))).toBe(true);
    send(second, hello);
    await until(() => second.received.length === 1, UNTIL_TIMEOUT_MS, 'helloAck on the second session');
    expect(first.received).toEqual([]);
  });

  describe('the voters of a redundant set (epoch > 0)', () => {
    it('share the replica: the second joins without a reset, each tick steps once whoever sends it first, and both get the same replies', async () => {
      const { server: s, log } = await server();
      const a = await voter(s.address.port, KEY, 5);
      send(a, hello);
      send(a, tick(0));
      send(a, tick(1));
      await until(() => a.received.length === 3, UNTIL_TIMEOUT_MS, 'helloAck and two outputs on the first voter');
      const b = await voter(s.address.port, KEY, 7);
      // The server logs the session once it has taken it, which may come after the voter's side is done.
      await until(() => log.some((line) => /voter epoch 7/.test(line)), UNTIL_TIMEOUT_MS, 'the server to take the second session');
      expect(a.downReasons).toEqual([]);
      // The same hello joins the running replica: its law state and tick go on.
      send(b, hello);
      send(b, tick(1));
      send(b, tick(2));
      await until(() => b.received.length === 3, UNTIL_TIMEOUT_MS, 'helloAck and two outputs on the second voter');
      send(a, tick(2));
      send(a, tick(3));
      await until(() => a.received.length === 5, UNTIL_TIMEOUT_MS, 'two more outputs on the first voter');
      expect(kinds(b)).toEqual(['helloAck', 'output 1', 'output 2']);
      expect(kinds(a)).toEqual(['helloAck', 'output 0', 'output 1', 'output 2', 'output 3']);
      // Tick 1 to the joining voter and tick 2 to the first are the replies already sent, not new steps.
      expect(b.received[1]).toEqual(a.received[2]);
      expect(a.received[3]).toEqual(b.received[2]);
      expect(s.stats.joins).toBe(1);
      expect(s.stats.repeatsAnswered).toBe(2);
      // The controller ran once per tick: the outputs equal a replica that only one voter drove.
      const alone = await server();
      const only = await voter(alone.server.address.port);
      send(only, hello);
      for (let n = 0; n < 4; n++) send(only, tick(n));
      await until(() => only.received.length === 5, UNTIL_TIMEOUT_MS, 'helloAck and four outputs alone');
      expect(a.received.slice(1)).toEqual(only.received.slice(1));
    });

    it("a stale voter's old ticks, or the last tick with other inputs, never step the law", async () => {
      const { server: s } = await server();
      const a = await voter(s.address.port, KEY, 5);
      const b = await voter(s.address.port, KEY, 7);
      send(a, hello);
      send(b, hello);
      for (let n = 0; n < 3; n++) send(a, tick(n));
      await until(() => a.received.length === 4 && b.received.length === 1, UNTIL_TIMEOUT_MS, 'both acks and three outputs');
      send(b, tick(0));
      send(b, { kind: 'tick', tick: 2, inputs: [5, 5] });
      await until(() => b.received.length === 3, UNTIL_TIMEOUT_MS, 'two answers to the stale voter');
      expect(b.received.slice(1).map((m) => (m.kind === 'error' ? m.code : m.kind))).toEqual([7, 7]);
      send(a, tick(3));
      await until(() => a.received.length === 5, UNTIL_TIMEOUT_MS, 'the next tick still steps');
      expect(kinds(a).at(-1)).toBe('output 3');
      expect(s.stats.repeatsAnswered).toBe(0);
    });

    it('a voter alone (epoch 0) still takes the replica over from the set, and its hello resets the law', async () => {
      const { server: s } = await server();
      const a = await voter(s.address.port, KEY, 5);
      send(a, hello);
      send(a, tick(0));
      await until(() => a.received.length === 2, UNTIL_TIMEOUT_MS, 'helloAck and an output');
      const alone = await voter(s.address.port);
      await until(() => a.downReasons.length === 1, UNTIL_TIMEOUT_MS, 'the set voter to be replaced');
      send(alone, hello);
      send(alone, tick(0));
      await until(() => alone.received.length === 2, UNTIL_TIMEOUT_MS, 'a fresh start at tick 0');
      expect(kinds(alone)).toEqual(['helloAck', 'output 0']);
      expect(s.stats.joins).toBe(0);
    });
  });

  it('a voter with another key never gets a session; the server says why', async () => {
    const { server: s, log } = await server();
    await expect(voter(s.address.port, OTHER)).rejects.toThrow(/wrong key/);
    await until(() => s.stats.refusedOther + s.stats.refusedWrongKey === 1, UNTIL_TIMEOUT_MS, 'the server to count the refusal');
    expect(s.stats.sessionsAccepted).toBe(0);
    expect(log.join('\n')).toMatch(/refused \S+ at the handshake: the voter closed the connection after our proof: it holds another key than ours/);
  });

  it('forged and replayed frames are refused in the session, counted when it ends, and never reach the replica', async () => {
    const { server: s, log } = await server();
    const v = await voter(s.address.port);
    const sealed = v.transport.sealOnly(encodeMessage(hello));
    v.transport.writeRaw(sealed);
    v.transport.writeRaw(sealed);
    const forged = Uint8Array.from(sealed);
    forged[5] = (forged[5]! % 255) + 1;
    v.transport.writeRaw(forged);
    send(v, tick(0));
    await until(() => v.received.length === 2, UNTIL_TIMEOUT_MS, 'one helloAck and one output');
    expect(kinds(v)).toEqual(['helloAck', 'output 0']);
    await v.transport.close();
    await until(() => s.stats.framesRefused === 2, UNTIL_TIMEOUT_MS, () => `the server to count 2 refused frames (${s.stats.framesRefused})`);
    expect(log.join('\n')).toMatch(/refused 2 frames \((1 bad tag, 1 replayed, 0 malformed|0 bad tag, 1 replayed, 1 malformed)\)/);
  });
});
