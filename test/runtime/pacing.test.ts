/**
 * Tick pacing: sleepUntil never wakes before its time (a setTimeout does, by up to a millisecond),
 * and a deadline fires after its time, once, never when cancelled, and with the event loop still
 * reading I/O while it waits. Correctness only; how late they wake is measured in `npm run bench`.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { armDeadline, PRECISE_WAIT_MS, sleepUntil } from '../../src/runtime/pacing.js';
import { Prng } from '../../src/core/prng.js';

describe('sleepUntil', () => {
  it('never resolves before its time, for targets from 50 µs to 4 ms ahead', async () => {
    const prng = new Prng(0x51ee);
    const earlyUs: number[] = [];
    for (let k = 0; k < 200; k++) {
      const atMs = performance.now() + 0.05 + prng.nextBelow(3950) / 1000;
      await sleepUntil(atMs);
      const nowMs = performance.now();
      if (nowMs < atMs) earlyUs.push(Math.round((atMs - nowMs) * 1000));
    }
    expect(earlyUs, `woke early by (µs): ${earlyUs.join(', ')}`).toEqual([]);
  });

  it('resolves at once for a time that has passed', async () => {
    const before = performance.now();
    await sleepUntil(before - 5);
    // No timer and no wait: well under a slice of the precise wait.
    expect(performance.now() - before).toBeLessThan(PRECISE_WAIT_MS);
  });
});

describe('armDeadline', () => {
  it('fires once, after its time, for deadlines both inside and beyond the precise window', async () => {
    for (const aheadMs of [0.2, 1, PRECISE_WAIT_MS + 0.5, 4]) {
      const atMs = performance.now() + aheadMs;
      const firedAt: number[] = [];
      armDeadline(atMs, () => firedAt.push(performance.now()));
      await sleepUntil(atMs + 30);
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(firedAt, `deadline ${aheadMs} ms ahead`).toHaveLength(1);
      expect(firedAt[0]!).toBeGreaterThanOrEqual(atMs);
    }
  });

  it('never fires once cancelled, whether it was waiting on its timer or in its precise window', async () => {
    for (const aheadMs of [0.5, 5]) {
      let fired = 0;
      const deadline = armDeadline(performance.now() + aheadMs, () => fired++);
      await new Promise((resolve) => setImmediate(resolve));
      deadline.cancel();
      await new Promise((resolve) => setTimeout(resolve, aheadMs + 10));
      expect(fired, `deadline ${aheadMs} ms ahead`).toBe(0);
    }
  });

  it('keeps reading I/O while it waits: bytes already in a socket are delivered before the deadline fires', async () => {
    let server: Server | undefined;
    let client: Socket | undefined;
    let accepted: Socket | undefined;
    try {
      const ready = new Promise<Socket>((resolve) => {
        server = createServer((socket) => resolve(socket));
      });
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
      const port = (server!.address() as { port: number }).port;
      client = connect(port, '127.0.0.1');
      accepted = await ready;
      const order: string[] = [];
      const expired = new Promise<void>((resolve) => {
        accepted!.once('data', () => order.push('data'));
        client!.write('reply');
        // Inside the precise window from the start: only its I/O turns between slices can read the bytes.
        armDeadline(performance.now() + PRECISE_WAIT_MS - 0.1, () => {
          order.push('deadline');
          resolve();
        });
      });
      await expired;
      expect(order).toEqual(['data', 'deadline']);
    } finally {
      client?.destroy();
      accepted?.destroy();
      await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
    }
  });
});
