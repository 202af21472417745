/**
 * The Transport contract (src/transport/transport.ts), as one suite run against every
 * implementation: in-memory links, child processes, and later serial ports on pseudo-terminals
 * and real boards.
 *
 * The peer of every implementation is an ECHO: whatever the transport sends comes back byte for
 * byte. `peerWrite` puts bytes on the line as if the peer had sent them (an implementation may do
 * that by sending through the echo itself). No assertion here is about time: every wait is
 * `until(condition, …)` with a generous bound that fails with a message saying what was missing.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cobsEncode, cobsEncodedSizeMax } from '../../src/protocol/cobs.js';
import { encodeMessage } from '../../src/protocol/codec.js';
import { FAULT_KIND, LIMITS, type Message } from '../../src/protocol/messages.js';
import { QUEUED_BYTES_MAX, type Transport, type TransportStats } from '../../src/transport/transport.js';

export interface ContractLink {
  transport: Transport;
  /** bytes written here arrive at the transport as if the peer sent them */
  peerWrite(bytes: Uint8Array): Promise<void> | void;
  /** the far end dies (process killed, cable pulled) */
  killPeer(): Promise<void> | void;
  cleanup(): Promise<void>;
}

/** Bound of every wait in the suite. Generous: a loaded 2-core machine, a slow board. */
export const UNTIL_TIMEOUT_MS = 10_000;
const POLL_PERIOD_MS = 2;

/** Waits until `condition()` holds; fails after `timeoutMs` saying what it waited for. */
export async function until(condition: () => boolean, timeoutMs: number, what: string | (() => string)): Promise<void> {
  const deadlineMs = performance.now() + timeoutMs;
  // Bounded by the deadline.
  while (!condition()) {
    if (performance.now() > deadlineMs) {
      throw new Error(`gave up after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    }
    await sleepMs(POLL_PERIOD_MS);
  }
}

/** Lets pending I/O and timers run. Not a timing claim: nothing asserts how long anything took. */
export function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function expectOneLine(reason: string | undefined, what: string): void {
  expect(typeof reason, `${what}: reason`).toBe('string');
  expect(reason!.trim(), `${what}: reason is empty`).not.toBe('');
  expect(reason, `${what}: reason spans lines`).not.toMatch(/[\r\n]/);
}

/** A frame as the receiver delivers it: without its 0x00 delimiter. */
export function bodyOf(frame: Uint8Array): Uint8Array {
  expect(frame[frame.length - 1], 'test bug: a frame ends with its delimiter').toBe(0);
  return frame.subarray(0, frame.length - 1);
}

/** A COBS frame with no CRC or CBOR inside: transports carry any 0x00-free body. */
export function rawCobsFrame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(cobsEncodedSizeMax(payload.length) + 1);
  const bodyBytes = cobsEncode(payload, out);
  out[bodyBytes] = 0;
  return out.slice(0, bodyBytes + 1);
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const hexes = (frames: readonly Uint8Array[]): string[] => frames.map((frame) => Buffer.from(frame).toString('hex'));

/** Bytes first..first+count-1 (mod 256). */
function byteRun(first: number, count: number): Uint8Array {
  return Uint8Array.from({ length: count }, (_, i) => (first + i) & 0xff);
}

/** Varied real protocol frames, small enough that `count` of them stay within QUEUED_BYTES_MAX. */
function messageFrames(count: number): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const variants: Message[] = [
      { kind: 'tick', tick: i, inputs: [(i * 7919) % 500_000, -((i * 104_729) % 500_000)] },
      { kind: 'tick', tick: i, inputs: [i % 2001, (i * 7) % 2001, i & 1] },
      { kind: 'output', tick: i, outputs: [i - 250, 250 - i], stateDigest: (i * 0x9e37_79b9) >>> 0 },
      { kind: 'heartbeat', lastTick: i, stateDigest: 0xffff_ffff - i },
      { kind: 'inject', fault: FAULT_KIND.late, durationTicks: i, param: -i },
      { kind: 'stateRequest', tick: 0x1_0000 * i },
    ];
    frames.push(encodeMessage(variants[i % variants.length]!));
  }
  return frames;
}

/** Real protocol frames whose payloads together hold every byte value. */
function allByteValueMessageFrames(): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let first = 0; first < 256; first += LIMITS.stateBytesMax) {
    frames.push(encodeMessage({ kind: 'state', tick: first, stateBytes: byteRun(first, LIMITS.stateBytesMax), stateDigest: first * 0x0101_0101 }));
  }
  return frames;
}

/** Raw COBS frames covering every byte value, zero runs, full 254-byte groups and the largest frame. */
function allByteValueRawFrames(): Uint8Array[] {
  const largestPayloadBytes = LIMITS.frameBytesMax - 2; // COBS adds one byte, the delimiter another
  return [
    rawCobsFrame(byteRun(0, 128)),
    rawCobsFrame(byteRun(128, 128)),
    rawCobsFrame(Uint8Array.of(0)),
    rawCobsFrame(new Uint8Array(40)),
    rawCobsFrame(new Uint8Array(254).fill(0xff)),
    rawCobsFrame(byteRun(1, 254)),
    rawCobsFrame(byteRun(0x80, largestPayloadBytes)),
  ];
}

export function transportContract(name: string, makeLink: () => Promise<ContractLink>): void {
  describe(`Transport contract: ${name}`, () => {
    let link: ContractLink | null = null;
    /** Every frame delivered to the frame handler, copied. */
    let received: Uint8Array[] = [];

    beforeEach(async () => {
      received = [];
      link = await makeLink();
      link.transport.onFrame((frame) => received.push(Uint8Array.from(frame)));
    });

    afterEach(async () => {
      const current = link;
      link = null;
      await current?.cleanup();
    });

    const current = (): ContractLink => {
      expect(link, 'makeLink() did not produce a link').not.toBeNull();
      return link!;
    };

    const receivedCount = async (count: number, what: string): Promise<void> => {
      await until(() => received.length >= count, UNTIL_TIMEOUT_MS, () => `${count} frames (${what}), received ${received.length}`);
    };

    /** Sends every frame, each accepted, and checks that exactly these come back intact and in order. */
    const roundTrip = async (frames: readonly Uint8Array[], what: string): Promise<void> => {
      const { transport } = current();
      received = [];
      frames.forEach((frame, i) => expect(transport.send(frame), `${what}: send #${i} refused`).toBe(true));
      await receivedCount(frames.length, what);
      expect(hexes(received), what).toEqual(hexes(frames.map(bodyOf)));
    };

    const watchDown = (transport: Transport): { reasons: string[]; upInHandler: boolean[] } => {
      const seen = { reasons: [] as string[], upInHandler: [] as boolean[] };
      transport.onDown((reason) => {
        seen.reasons.push(reason);
        seen.upInHandler.push(transport.isUp);
      });
      return seen;
    };

    it('is up once made and has a description', () => {
      const { transport } = current();
      expect(transport.isUp).toBe(true);
      expectOneLine(transport.description, 'description');
    });

    it('returns one frame intact', async () => {
      await roundTrip([encodeMessage({ kind: 'tick', tick: 1, inputs: [1_000, -20] })], 'one tick frame');
    });

    it('returns 500 back-to-back frames intact and in order', async () => {
      const frames = messageFrames(500);
      const totalBytes = frames.reduce((sum, frame) => sum + frame.length, 0);
      expect(totalBytes, 'test bug: the burst must fit the outgoing queue').toBeLessThanOrEqual(QUEUED_BYTES_MAX);
      await roundTrip(frames, '500 message frames');
    });

    it('carries every byte value inside payloads, in real and raw COBS frames', async () => {
      await roundTrip(allByteValueMessageFrames(), 'state messages holding bytes 0..255');
      await roundTrip(allByteValueRawFrames(), 'raw COBS frames up to frameBytesMax');
    });

    it('delivers a frame that arrives one byte at a time, whole', async () => {
      const { peerWrite } = current();
      const frame = encodeMessage({ kind: 'state', tick: 77, stateBytes: byteRun(250, 20), stateDigest: 5 });
      for (const byte of frame) await peerWrite(Uint8Array.of(byte));
      await receivedCount(1, 'frame written byte by byte');
      expect(hexes(received)).toEqual(hexes([bodyOf(frame)]));
    });

    it('delivers several frames that arrive in one write, whole and in order', async () => {
      const { peerWrite } = current();
      const frames = [...messageFrames(10), ...allByteValueRawFrames()];
      await peerWrite(concatBytes(frames));
      await receivedCount(frames.length, 'frames written in one piece');
      expect(hexes(received)).toEqual(hexes(frames.map(bodyOf)));
    });

    it('delivers nothing for empty frames, so a sender may resynchronise with extra 0x00', async () => {
      const { peerWrite } = current();
      const frames = messageFrames(3);
      const zeros = Uint8Array.of(0, 0);
      await peerWrite(concatBytes([zeros, frames[0]!, zeros, frames[1]!, Uint8Array.of(0), frames[2]!]));
      await receivedCount(frames.length, 'frames around empty ones');
      // A frame after the others proves no empty frame is still on its way.
      const last = rawCobsFrame(Uint8Array.of(9));
      await peerWrite(concatBytes([zeros, last]));
      await receivedCount(frames.length + 1, 'the frame after the empty ones');
      expect(hexes(received)).toEqual(hexes([...frames, last].map(bodyOf)));
    });

    it('delivers two frames split at every possible point', async () => {
      const { peerWrite } = current();
      const frames = [encodeMessage({ kind: 'heartbeat', lastTick: 3, stateDigest: 0x00ff_00ff }), rawCobsFrame(Uint8Array.of(0, 1, 0, 0, 255))];
      const stream = concatBytes(frames);
      for (let cut = 1; cut < stream.length; cut++) {
        received = [];
        await peerWrite(stream.subarray(0, cut));
        await peerWrite(stream.subarray(cut));
        await receivedCount(frames.length, `stream cut at byte ${cut}`);
        expect(hexes(received), `stream cut at byte ${cut}`).toEqual(hexes(frames.map(bodyOf)));
      }
    });

    it('delivers frames split at random points whole (fast-check)', async () => {
      const { peerWrite } = current();
      const payload = fc.uint8Array({ minLength: 1, maxLength: LIMITS.frameBytesMax - 2 });
      await fc.assert(
        fc.asyncProperty(fc.array(payload, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 12 }), async (payloads, cutSeeds) => {
          const frames = payloads.map(rawCobsFrame);
          const stream = concatBytes(frames);
          const cuts = [...new Set(cutSeeds.map((seed) => seed % stream.length))].sort((a, b) => a - b);
          received = [];
          let start = 0;
          for (const cut of [...cuts, stream.length]) {
            if (cut > start) await peerWrite(stream.subarray(start, cut));
            start = cut;
          }
          await receivedCount(frames.length, `${frames.length} frames cut at ${cuts.join(',')}`);
          expect(hexes(received)).toEqual(hexes(frames.map(bodyOf)));
        }),
        // Shrinking would wait out a full timeout per step on a broken link; the seed is printed.
        { numRuns: 25, endOnFailure: true },
      );
    });

    it('drops an over-long run without a delimiter, counts it, and delivers the next frame intact', async () => {
      const { transport, peerWrite } = current();
      const run = Uint8Array.from({ length: 5_000 }, (_, i) => 1 + (i % 255));
      const frame = encodeMessage({ kind: 'tick', tick: 42, inputs: [-1, 1] });
      const before = transport.stats.overlongFramesDropped;
      // In pieces, as a babbling board delivers it; the 0x00 ends the over-long frame.
      for (let at = 0; at < run.length; at += 100) await peerWrite(run.subarray(at, at + 100));
      await peerWrite(Uint8Array.of(0));
      await peerWrite(frame);
      await receivedCount(1, 'the frame after the over-long run');
      expect(transport.stats.overlongFramesDropped).toBe(before + 1);
      expect(hexes(received)).toEqual(hexes([bodyOf(frame)]));

      // The same in one write, followed by two frames.
      received = [];
      const next = [frame, rawCobsFrame(byteRun(0, 200))];
      await peerWrite(concatBytes([run, Uint8Array.of(0), ...next]));
      await receivedCount(2, 'the frames after an over-long run in the same write');
      expect(transport.stats.overlongFramesDropped).toBe(before + 2);
      expect(hexes(received)).toEqual(hexes(next.map(bodyOf)));
    });

    it('counts bytes and frames both ways', async () => {
      const { transport, peerWrite } = current();
      const s0: TransportStats = { ...transport.stats };
      const frames = [...messageFrames(20), ...allByteValueRawFrames()];
      const totalBytes = frames.reduce((sum, frame) => sum + frame.length, 0);
      await roundTrip(frames, 'frames to count');
      const s1: TransportStats = { ...transport.stats };
      expect({
        bytesOut: s1.bytesOut - s0.bytesOut,
        framesOut: s1.framesOut - s0.framesOut,
        bytesIn: s1.bytesIn - s0.bytesIn,
        framesIn: s1.framesIn - s0.framesIn,
        overlongFramesDropped: s1.overlongFramesDropped - s0.overlongFramesDropped,
        sendsDropped: s1.sendsDropped - s0.sendsDropped,
        framesRefused: s1.framesRefused - s0.framesRefused,
      }).toEqual({ bytesOut: totalBytes, framesOut: frames.length, bytesIn: totalBytes, framesIn: frames.length, overlongFramesDropped: 0, sendsDropped: 0, framesRefused: 0 });

      // Bytes the peer sends on its own count as received too.
      received = [];
      const frame = encodeMessage({ kind: 'heartbeat', lastTick: 9, stateDigest: 9 });
      await peerWrite(frame);
      await receivedCount(1, 'a frame from the peer');
      expect(transport.stats.bytesIn - s1.bytesIn).toBe(frame.length);
      expect(transport.stats.framesIn - s1.framesIn).toBe(1);
    });

    it('reports the peer dying once, then refuses and counts sends without throwing', async () => {
      const { transport, killPeer } = current();
      const down = watchDown(transport);
      await roundTrip([encodeMessage({ kind: 'stateRequest', tick: 1 })], 'a round trip before the kill');
      await killPeer();
      await until(() => down.reasons.length > 0, UNTIL_TIMEOUT_MS, 'the down handler after killPeer()');
      expectOneLine(down.reasons[0], 'down reason after killPeer()');
      expect(down.upInHandler, 'isUp while the down handler runs').toEqual([false]);
      expect(transport.isUp).toBe(false);

      const droppedBefore = transport.stats.sendsDropped;
      const frame = encodeMessage({ kind: 'tick', tick: 2, inputs: [0, 0] });
      for (let i = 0; i < 3; i++) {
        let sent: boolean | null = null;
        expect(() => (sent = transport.send(frame)), `send #${i} after the peer died`).not.toThrow();
        expect(sent, `send #${i} after the peer died`).toBe(false);
      }
      expect(transport.stats.sendsDropped).toBe(droppedBefore + 3);

      await transport.close();
      await sleepMs(20);
      expect(down.reasons, 'down handler calls').toHaveLength(1);
    });

    it('close() resolves, is idempotent and reports the link down once', async () => {
      const { transport } = current();
      const down = watchDown(transport);
      await roundTrip([encodeMessage({ kind: 'stateRequest', tick: 2 })], 'a round trip before close()');
      await Promise.all([transport.close(), transport.close()]);
      await transport.close();
      expect(transport.isUp).toBe(false);
      await sleepMs(20);
      expect(down.reasons, 'down handler calls').toHaveLength(1);
      expectOneLine(down.reasons[0], 'down reason after close()');
      expect(down.upInHandler).toEqual([false]);
      const droppedBefore = transport.stats.sendsDropped;
      expect(transport.send(encodeMessage({ kind: 'stateRequest', tick: 3 }))).toBe(false);
      expect(transport.stats.sendsDropped).toBe(droppedBefore + 1);
    });

    it('calls a down handler registered after the link died, once', async () => {
      const { transport, killPeer } = current();
      await killPeer();
      await until(() => !transport.isUp, UNTIL_TIMEOUT_MS, 'isUp to turn false after killPeer()');
      const down = watchDown(transport);
      await until(() => down.reasons.length > 0, UNTIL_TIMEOUT_MS, 'the late down handler');
      expectOneLine(down.reasons[0], 'down reason given to a late handler');
      await transport.close();
      await sleepMs(20);
      expect(down.reasons, 'late down handler calls').toHaveLength(1);
    });
  });
}
