/**
 * The in-memory link: the Transport contract on its host side (the replica side echoes), whole
 * writes and writes cut into chunks of 1, 3 and 7 bytes; then what only a memory link has.
 */
import { describe, expect, it } from 'vitest';
import { encodeMessage } from '../../src/protocol/codec.js';
import { createMemoryLink, type MemoryLinkOptions } from '../../src/transport/memory-transport.js';
import { QUEUED_BYTES_MAX } from '../../src/transport/transport.js';
import { bodyOf, concatBytes, expectOneLine, sleepMs, transportContract, until, UNTIL_TIMEOUT_MS, type ContractLink } from './contract.js';

function makeEchoLink(options: MemoryLinkOptions): () => Promise<ContractLink> {
  return async () => {
    const [host, replica] = createMemoryLink(options);
    // The echo: every frame the replica side receives goes back with its delimiter.
    replica.onFrame((frame) => {
      replica.writeRaw(concatBytes([frame, Uint8Array.of(0)]));
    });
    return {
      transport: host,
      peerWrite: (bytes) => {
        if (!replica.writeRaw(bytes)) throw new Error('peerWrite: the replica side refused the bytes (down or queue full)');
      },
      killPeer: () => replica.kill('replica side died'),
      cleanup: async () => {
        await host.close();
        await replica.close();
      },
    };
  };
}

transportContract('memory link', makeEchoLink({}));
transportContract('memory link cut into chunks of 1, 3 and 7 bytes', makeEchoLink({ chunkSizes: [1, 3, 7] }));

describe('memory link', () => {
  const tick = (n: number): Uint8Array => encodeMessage({ kind: 'tick', tick: n, inputs: [n, -n] });

  it('delivers asynchronously, never inside send()', async () => {
    const [host, replica] = createMemoryLink();
    try {
      const received: Uint8Array[] = [];
      replica.onFrame((frame) => received.push(Uint8Array.from(frame)));
      expect(host.send(tick(1))).toBe(true);
      expect(received).toHaveLength(0);
      await until(() => received.length === 1, UNTIL_TIMEOUT_MS, 'the frame on the replica side');
      expect(received[0]).toEqual(bodyOf(tick(1)));
    } finally {
      await host.close();
    }
  });

  it('refuses and counts sends once QUEUED_BYTES_MAX bytes are queued; the accepted ones arrive in order', async () => {
    const [host, replica] = createMemoryLink();
    try {
      const received: Uint8Array[] = [];
      replica.onFrame((frame) => received.push(Uint8Array.from(frame)));
      const frames = Array.from({ length: 2_000 }, (_, i) => tick(i));
      const accepted = frames.filter((frame) => host.send(frame));
      const acceptedBytes = accepted.reduce((sum, frame) => sum + frame.length, 0);
      expect(accepted.length).toBeLessThan(frames.length);
      expect(acceptedBytes).toBeLessThanOrEqual(QUEUED_BYTES_MAX);
      expect(host.stats.sendsDropped).toBe(frames.length - accepted.length);
      expect(host.stats.framesOut).toBe(accepted.length);
      // The accepted frames are the first ones: a full queue drops new frames, not queued ones.
      expect(accepted).toEqual(frames.slice(0, accepted.length));
      await until(() => received.length === accepted.length, UNTIL_TIMEOUT_MS, () => `${accepted.length} frames, got ${received.length}`);
      expect(received).toEqual(accepted.map(bodyOf));
      // Drained: sending works again.
      expect(host.send(tick(9))).toBe(true);
    } finally {
      await host.close();
    }
  });

  it('kill() takes both sides down with the same reason, once each', async () => {
    const [host, replica] = createMemoryLink();
    const hostReasons: string[] = [];
    const replicaReasons: string[] = [];
    host.onDown((reason) => hostReasons.push(reason));
    replica.onDown((reason) => replicaReasons.push(reason));
    replica.kill('cable pulled');
    host.kill('second kill');
    await host.close();
    expect(hostReasons).toEqual(['cable pulled']);
    expect(replicaReasons).toEqual(['cable pulled']);
    expectOneLine(hostReasons[0], 'memory down reason');
    expect(host.isUp || replica.isUp).toBe(false);
  });

  it('bytes in flight when the link dies are not delivered', async () => {
    const [host, replica] = createMemoryLink();
    const received: Uint8Array[] = [];
    replica.onFrame((frame) => received.push(frame));
    expect(host.send(tick(1))).toBe(true);
    host.kill('gone');
    await sleepMs(10);
    expect(received).toHaveLength(0);
    expect(replica.stats.bytesIn).toBe(0);
  });
});
