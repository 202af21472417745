/**
 * The TCP transport: the Transport contract against an authenticated echo on loopback, then what
 * only an authenticated network link has: sealed frames split anywhere on the wire, forged and
 * replayed frames refused and counted, a peer with another key or no tmr at all refused at the
 * handshake by name, nothing listening.
 *
 * peerWrite puts bytes on the line as the echo's own frames: each complete frame is sealed by the
 * echo's session (what a peer sends), and a run longer than any frame goes on the wire unsealed,
 * as the garbage it is, so the voter's splitter drops it as over-long.
 */
import { createServer, type Server, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { cobsDecode, cobsEncode, cobsEncodedSizeMax } from '../../src/protocol/cobs.js';
import { encodeMessage } from '../../src/protocol/codec.js';
import { INNER_BODY_BYTES_MAX } from '../../src/transport/secure-channel.js';
import { TcpLinkError, TcpTransport } from '../../src/transport/tcp-transport.js';
import { freePort } from '../helpers/netns.js';
import { bodyOf, expectOneLine, transportContract, until, UNTIL_TIMEOUT_MS, type ContractLink } from './contract.js';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 29 + 3) & 0xff);
const OTHER_KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 41 + 5) & 0xff);

interface Echo {
  readonly port: number;
  /** The echo's end of the first session, once a voter connected. */
  peer(): Promise<TcpTransport>;
  /** Sockets as accepted, before the handshake (to write raw bytes on). */
  readonly sockets: Socket[];
  readonly refusals: string[];
  close(): Promise<void>;
}

/** An authenticated echo on 127.0.0.1: every frame it receives it sends back, sealed by its own session. */
async function startEcho(key: Uint8Array = KEY, echo = true): Promise<Echo> {
  const sockets: Socket[] = [];
  const refusals: string[] = [];
  const peers: TcpTransport[] = [];
  const waiting: ((t: TcpTransport) => void)[] = [];
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    void TcpTransport.accept(socket, { key, timeoutMs: 5_000 }, 'echo').then((outcome) => {
      if (!outcome.ok) {
        refusals.push(`${outcome.code}: ${outcome.reason}`);
        return;
      }
      const t = outcome.transport;
      if (echo) {
        t.onFrame((frame) => {
          const copy = new Uint8Array(frame.length + 1);
          copy.set(frame, 0);
          t.send(copy);
        });
      }
      peers.push(t);
      waiting.splice(0).forEach((w) => w(t));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    sockets,
    refusals,
    peer: () => (peers[0] !== undefined ? Promise.resolve(peers[0]) : new Promise((resolve) => waiting.push(resolve))),
    async close() {
      await Promise.all(peers.map((p) => p.close()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Feeds bytes to the echo's end as if its program wrote them: whole frames sealed, over-long runs raw. */
function peerWriter(peer: TcpTransport): (bytes: Uint8Array) => void {
  let pending: number[] = [];
  let overlong = false;
  return (bytes) => {
    for (const byte of bytes) {
      if (byte === 0) {
        if (overlong || pending.length === 0) peer.writeRaw(Uint8Array.of(0));
        else peer.send(Uint8Array.from([...pending, 0]));
        pending = [];
        overlong = false;
      } else if (overlong) peer.writeRaw(Uint8Array.of(byte));
      else {
        pending.push(byte);
        if (pending.length > INNER_BODY_BYTES_MAX) {
          peer.writeRaw(Uint8Array.from(pending));
          pending = [];
          overlong = true;
        }
      }
    }
  };
}

const connect = (port: number, key: Uint8Array = KEY, timeoutMs = 5_000): Promise<TcpTransport> => TcpTransport.connect({ host: '127.0.0.1', port, key, name: 'replica 1', timeoutMs });

transportContract('tcp (authenticated echo on loopback)', async (): Promise<ContractLink> => {
  const echo = await startEcho();
  const transport = await connect(echo.port);
  const peer = await echo.peer();
  const write = peerWriter(peer);
  return {
    transport,
    peerWrite: (bytes) => write(bytes),
    killPeer: () => {
      for (const s of echo.sockets) s.destroy();
    },
    cleanup: async () => {
      await transport.close();
      await echo.close();
    },
  };
});

describe('tcp transport', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const echoFor = async (key?: Uint8Array, echo?: boolean): Promise<Echo> => {
    const e = await startEcho(key, echo);
    cleanups.push(() => e.close());
    return e;
  };
  const voterFor = async (port: number, key?: Uint8Array): Promise<TcpTransport> => {
    const t = await connect(port, key);
    cleanups.push(() => t.close());
    return t;
  };

  it('takes sealed frames split anywhere on the wire: one byte at a time, and at random points (fast-check)', async () => {
    const echo = await echoFor(KEY, false);
    const voter = await voterFor(echo.port);
    const peer = await echo.peer();
    const received: string[] = [];
    voter.onFrame((f) => received.push(Buffer.from(f).toString('hex')));
    const frame = (n: number): Uint8Array => encodeMessage({ kind: 'output', tick: n, outputs: [n * 1000, -n], stateDigest: n });
    const sealed = peer.sealOnly(frame(0));
    for (const byte of sealed) {
      peer.writeRaw(Uint8Array.of(byte));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await until(() => received.length === 1, UNTIL_TIMEOUT_MS, 'the frame written byte by byte');
    let next = 1;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.array(fc.nat(), { maxLength: 10 }), async (count, cutSeeds) => {
        received.length = 0;
        const frames = Array.from({ length: count }, () => frame(next++));
        const stream = Buffer.concat(frames.map((f) => peer.sealOnly(f)));
        const cuts = [...new Set(cutSeeds.map((seed) => seed % stream.length))].sort((a, b) => a - b);
        let start = 0;
        for (const cut of [...cuts, stream.length]) {
          if (cut > start) peer.writeRaw(stream.subarray(start, cut));
          start = cut;
          await new Promise((resolve) => setImmediate(resolve));
        }
        await until(() => received.length === frames.length, UNTIL_TIMEOUT_MS, `${frames.length} frames cut at ${cuts.join(',')}`);
        expect(received).toEqual(frames.map((f) => Buffer.from(bodyOf(f)).toString('hex')));
      }),
      { numRuns: 25, endOnFailure: true },
    );
    expect(voter.stats.framesRefused).toBe(0);
  });

  it('refuses and counts a forged frame (a tag that does not match) and a replayed one; neither is delivered, and the link goes on', async () => {
    const echo = await echoFor(KEY, false);
    const voter = await voterFor(echo.port);
    const peer = await echo.peer();
    const received: string[] = [];
    voter.onFrame((f) => received.push(Buffer.from(f).toString('hex')));
    const first = encodeMessage({ kind: 'output', tick: 1, outputs: [5], stateDigest: 1 });
    const sealed = peer.sealOnly(first);
    peer.writeRaw(sealed);
    await until(() => received.length === 1, UNTIL_TIMEOUT_MS, 'the first frame');
    // Replay the very bytes that went over the wire.
    peer.writeRaw(sealed);
    // Forge: a frame with one byte of its tag changed (re-encoded, so it is valid COBS).
    const forgedFrom = peer.sealOnly(encodeMessage({ kind: 'output', tick: 2, outputs: [7], stateDigest: 2 }));
    const decoded = new Uint8Array(forgedFrom.length);
    const n = cobsDecode(forgedFrom.subarray(0, forgedFrom.length - 1), decoded);
    const forged = decoded.slice(0, n);
    forged[n - 1] = (forged[n - 1] as number) ^ 1;
    const out = new Uint8Array(cobsEncodedSizeMax(n) + 1);
    peer.writeRaw(out.slice(0, cobsEncode(forged, out) + 1));
    const second = encodeMessage({ kind: 'output', tick: 2, outputs: [6], stateDigest: 2 });
    peer.send(second);
    await until(() => received.length === 2, UNTIL_TIMEOUT_MS, 'the frame after the forged and replayed ones');
    expect(received).toEqual([first, second].map((f) => Buffer.from(bodyOf(f)).toString('hex')));
    expect(voter.stats.framesRefused).toBe(2);
    expect(voter.authStats).toMatchObject({ refusedReplayed: 1, refusedBadTag: 1, framesMissing: 1 });
    expect(voter.isUp).toBe(true);
  });

  it('a replica with another key is refused at the handshake, by name: both key ids, never the key', async () => {
    const echo = await echoFor(OTHER_KEY);
    const error = await connect(echo.port, KEY).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TcpLinkError);
    const e = error as TcpLinkError;
    expect(e.code).toBe('WRONG_KEY');
    expectOneLine(e.message, 'wrong key');
    expect(e.message).toMatch(/wrong key: .*key [0-9a-f]{16}.*we hold [0-9a-f]{16}/);
    expect(e.message).not.toContain(Buffer.from(KEY).toString('hex').slice(0, 12));
    expect(e.message).not.toContain(Buffer.from(OTHER_KEY).toString('hex').slice(0, 12));
  });

  it('a peer that is not a tmr replica is refused by name; so is nothing listening, after the deadline', async () => {
    // It reads what it is sent (a socket that never reads never sees the peer close, and keeps server.close() waiting).
    const server = createServer((socket) => socket.resume().end('HTTP/1.1 400 Bad Request\r\n\r\n\u0000'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
    const port = (server.address() as { port: number }).port;
    const notTmr = await connect(port).then(
      () => null,
      (e: unknown) => e as TcpLinkError,
    );
    expect(notTmr?.code).toBe('NOT_TMR');
    expectOneLine(notTmr?.message, 'not tmr');

    // A port nothing listens on.
    const refused = await connect(await freePort(), KEY, 600).then(
      () => null,
      (e: unknown) => e as TcpLinkError,
    );
    expect(refused?.code).toBe('UNREACHABLE');
    expect(refused?.message).toMatch(/^ECONNREFUSED: nothing listens there \(tried for 600 ms\)$/);
  });

  it('the echo counts a voter with the wrong key as refused, named', async () => {
    const echo = await echoFor(KEY);
    // A voter holding another key stops at the echo's proof: it closes, and the echo sees the handshake end.
    await connect(echo.port, OTHER_KEY).catch(() => {});
    await until(() => echo.refusals.length === 1, UNTIL_TIMEOUT_MS, 'the echo to see the handshake end');
    expectOneLine(echo.refusals[0], 'refusal');
  });
});
