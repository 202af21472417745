/**
 * The seeded in-memory link (src/sim/sim-link.ts) in simulated time: replay from a seed, order
 * within a direction, delay / jitter / loss / bit-error statistics over many frames, stalled
 * receivers, the in-flight bound, drop / exit / close, and the checks on its options.
 */
import { describe, expect, it } from 'vitest';
import { TmrAssertionError } from '../../src/core/assert.js';
import { Prng } from '../../src/core/prng.js';
import { SimScheduler } from '../../src/sim/sim-clock.js';
import { createSimLink, SIM_LINK_IN_FLIGHT_BYTES_DEFAULT, type SimLink, type SimLinkDirection, type SimLinkOptions } from '../../src/sim/sim-link.js';
import type { Transport } from '../../src/transport/transport.js';
import { advanceTo } from '../helpers/sim-time.js';

const LIMITS = { simMsMax: 10_000_000, eventsMax: 10_000_000 };
const CLEAN: SimLinkDirection = { delayMs: 1, jitterMs: 0, lossProbability: 0, bitErrorProbability: 0 };

function makeLink(scheduler: SimScheduler, seed: number, overrides: Partial<SimLinkOptions> = {}): SimLink {
  return createSimLink(scheduler, { replicaOwner: 'replica 1', prng: new Prng(seed), toReplica: CLEAN, toHost: CLEAN, ...overrides });
}

/**
 * A frame carrying a sequence number (6 bits in each of its first 4 body bytes, repeated after).
 * Every body byte has its top two bits set, so one flipped bit never makes a 0x00.
 */
function numberedFrame(n: number, bodyBytes = 6): Uint8Array {
  const frame = new Uint8Array(bodyBytes + 1);
  for (let i = 0; i < bodyBytes; i++) frame[i] = 0xc0 | ((n >>> (6 * (i % 4))) & 0x3f);
  frame[bodyBytes] = 0;
  return frame;
}

function numberOf(body: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < 4; i++) n |= (body[i]! & 0x3f) << (6 * i);
  return n;
}

interface Arrival {
  atMs: number;
  hex: string;
}

/** Records every frame `transport` hands over, with the simulated time. */
function record(scheduler: SimScheduler, transport: Transport): Arrival[] {
  const arrivals: Arrival[] = [];
  transport.onFrame((frame) => arrivals.push({ atMs: scheduler.nowMs, hex: Buffer.from(frame).toString('hex') }));
  return arrivals;
}

function bitsDiffering(a: Uint8Array, b: Uint8Array): number {
  let bits = 0;
  for (let i = 0; i < a.length; i++) for (let x = a[i]! ^ b[i]!; x !== 0; x &= x - 1) bits++;
  return bits;
}

describe('replay', () => {
  const NOISY: SimLinkDirection = { delayMs: 0.5, jitterMs: 2, lossProbability: 0.1, bitErrorProbability: 0.2 };

  /** 300 frames each way, sent every 0.3 ms; what arrived where and when. */
  async function trace(seed: number): Promise<string> {
    const scheduler = new SimScheduler();
    const link = makeLink(scheduler, seed, { toReplica: NOISY, toHost: NOISY });
    const atReplica = record(scheduler, link.replica);
    const atHost = record(scheduler, link.host);
    const clock = scheduler.clockFor('test');
    for (let i = 0; i < 300; i++) {
      clock.setTimer(i * 0.3, () => {
        link.host.send(numberedFrame(i));
        link.replica.send(numberedFrame(1_000 + i));
      });
    }
    await advanceTo(scheduler, 500, LIMITS);
    expect(link.counters.toReplica.framesLost + link.counters.toHost.framesLost, 'test bug: no frame lost').toBeGreaterThan(0);
    expect(link.counters.toReplica.framesCorrupted + link.counters.toHost.framesCorrupted, 'test bug: no frame damaged').toBeGreaterThan(0);
    return JSON.stringify({ atReplica, atHost, counters: link.counters });
  }

  it('the same seed gives the same delivery times, order and damaged bytes; another seed does not', async () => {
    const a = await trace(11);
    expect(await trace(11)).toBe(a);
    expect(await trace(12)).not.toBe(a);
  });
});

describe('one direction', () => {
  it('never reorders: with jitter ten times the delay, frames arrive in send order at non-decreasing times', async () => {
    const scheduler = new SimScheduler();
    const link = makeLink(scheduler, 5, { toReplica: { delayMs: 0.2, jitterMs: 2, lossProbability: 0, bitErrorProbability: 0 } });
    const arrivals = record(scheduler, link.replica);
    const clock = scheduler.clockFor('test');
    const count = 2_000;
    for (let i = 0; i < count; i++) clock.setTimer(i * 0.1, () => expect(link.host.send(numberedFrame(i))).toBe(true));
    await advanceTo(scheduler, 1_000, LIMITS);
    expect(arrivals.map((a) => numberOf(Buffer.from(a.hex, 'hex')))).toEqual(Array.from({ length: count }, (_, i) => i));
    for (let i = 1; i < count; i++) expect(arrivals[i]!.atMs).toBeGreaterThanOrEqual(arrivals[i - 1]!.atMs);
    // Jitter did make later frames wait for earlier ones (else this checks nothing).
    const held = arrivals.filter((a, i) => i > 0 && a.atMs === arrivals[i - 1]!.atMs).length;
    expect(held, 'test bug: no frame ever waited behind the one before').toBeGreaterThan(100);
  });

  it('delay, jitter, loss and bit errors over 20,000 frames are what was asked', async () => {
    const scheduler = new SimScheduler();
    const direction: SimLinkDirection = { delayMs: 2, jitterMs: 3, lossProbability: 0.1, bitErrorProbability: 0.2 };
    const link = makeLink(scheduler, 2024, { toHost: direction });
    // Frames go 10 ms apart, longer than delay + jitter: one at a time on the line, so what
    // arrives is the last frame sent (or nothing, if it was lost).
    let last: { atMs: number; frame: Uint8Array; arrived: boolean } | null = null;
    const latenciesMs: number[] = [];
    let damaged = 0;
    const bitsHit = new Set<number>();
    link.host.onFrame((body) => {
      expect(last, 'a frame arrived twice or from nowhere').not.toBeNull();
      expect(last!.arrived, 'a frame arrived twice').toBe(false);
      last!.arrived = true;
      latenciesMs.push(scheduler.nowMs - last!.atMs);
      const original = last!.frame;
      expect(body.length).toBe(original.length - 1);
      const flips = bitsDiffering(body, original);
      expect(flips).toBeLessThanOrEqual(1);
      if (flips === 1) {
        damaged++;
        for (let i = 0; i < body.length; i++) if (body[i] !== original[i]) bitsHit.add(i * 8 + Math.log2(body[i]! ^ original[i]!));
      }
    });
    const clock = scheduler.clockFor('test');
    const count = 20_000;
    for (let i = 0; i < count; i++) {
      clock.setTimer(i * 10, () => {
        const frame = numberedFrame(i);
        last = { atMs: scheduler.nowMs, frame, arrived: false };
        link.replica.send(frame);
      });
    }
    await advanceTo(scheduler, count * 10 + 100, LIMITS);
    const stats = link.counters.toHost;
    expect(stats.framesSent).toBe(count);
    // Every frame sent either arrived or was counted lost.
    expect(link.host.stats.framesIn + stats.framesLost).toBe(count);
    expect(damaged).toBe(stats.framesCorrupted);
    // Binomial bounds at five standard deviations (the numbers are fixed by the seed).
    const within = (observed: number, p: number, n: number): void => {
      const sigma = Math.sqrt(n * p * (1 - p));
      expect(observed, `${observed} of ${n} at p = ${p}`).toBeGreaterThan(n * p - 5 * sigma);
      expect(observed, `${observed} of ${n} at p = ${p}`).toBeLessThan(n * p + 5 * sigma);
    };
    within(stats.framesLost, 0.1, count);
    within(stats.framesCorrupted, 0.2, count - stats.framesLost);
    // Latency: delay + uniform [0, 3) ms; mean 3.5 ms within five standard errors.
    expect(Math.min(...latenciesMs)).toBeGreaterThanOrEqual(2);
    expect(Math.min(...latenciesMs)).toBeLessThan(2.01);
    expect(Math.max(...latenciesMs)).toBeLessThan(5);
    expect(Math.max(...latenciesMs)).toBeGreaterThan(4.99);
    const meanMs = latenciesMs.reduce((sum, x) => sum + x, 0) / latenciesMs.length;
    expect(Math.abs(meanMs - 3.5)).toBeLessThan((5 * 3) / Math.sqrt(12 * latenciesMs.length));
    // Flips land anywhere in the body's 48 bits (never in the delimiter: every frame arrived whole).
    expect(bitsHit.size).toBeGreaterThan(40);
  });

  it('loss 1 delivers nothing, bit error 1 damages every frame but never its delimiter', async () => {
    const scheduler = new SimScheduler();
    const link = makeLink(scheduler, 8, {
      toReplica: { ...CLEAN, lossProbability: 1 },
      toHost: { ...CLEAN, bitErrorProbability: 1 },
    });
    const atReplica = record(scheduler, link.replica);
    const atHost = record(scheduler, link.host);
    for (let i = 0; i < 200; i++) {
      expect(link.host.send(numberedFrame(i))).toBe(true);
      // One body byte: the flip must land in it, and a frame with a flipped delimiter would never end.
      expect(link.replica.send(Uint8Array.of(0xff, 0x00))).toBe(true);
    }
    await advanceTo(scheduler, 10, LIMITS);
    expect(atReplica).toEqual([]);
    expect(link.counters.toReplica.framesLost).toBe(200);
    expect(atHost).toHaveLength(200);
    expect(new Set(atHost.map((a) => a.hex))).toEqual(new Set(['fe', 'fd', 'fb', 'f7', 'ef', 'df', 'bf', '7f']));
    expect(link.counters.toHost.framesCorrupted).toBe(200);
  });

  it('a flipped bit may make a 0x00 inside a frame, which splits it as on a real line', async () => {
    const scheduler = new SimScheduler();
    const link = makeLink(scheduler, 1, { toHost: { ...CLEAN, bitErrorProbability: 1 } });
    const atHost = record(scheduler, link.host);
    // Body bytes 0x01: a flip of bit 0 makes a 0x00.
    for (let i = 0; i < 50; i++) link.replica.send(Uint8Array.of(1, 1, 1, 1, 0));
    await advanceTo(scheduler, 10, LIMITS);
    expect(atHost.length).toBeGreaterThan(50);
    expect(link.host.stats.bytesIn).toBe(250);
  });
});

describe('stalled receivers', () => {
  it('a stalled replica gets the frames due meanwhile at the end of its stall, in order; the host\'s keep flowing', async () => {
    const scheduler = new SimScheduler();
    const link = makeLink(scheduler, 3, { toReplica: { ...CLEAN, jitterMs: 0.5 } });
    scheduler.stall('replica 1', 5, 50);
    const atReplica = record(scheduler, link.replica);
    const atHost = record(scheduler, link.host);
    const clock = scheduler.clockFor('test');
    for (let i = 0; i < 60; i++) {
      clock.setTimer(i, () => {
        link.host.send(numberedFrame(i));
        link.replica.send(numberedFrame(i));
      });
    }
    await advanceTo(scheduler, 100, LIMITS);
    expect(atReplica.map((a) => numberOf(Buffer.from(a.hex, 'hex')))).toEqual(Array.from({ length: 60 }, (_, i) => i));
    // Due in [5, 50) (sent at 4..48 or so, delay 1 + jitter): all at 50.
    const at50 = atReplica.filter((a) => a.atMs === 50).map((a) => numberOf(Buffer.from(a.hex, 'hex')));
    expect(at50.length).toBeGreaterThan(40);
    expect(atReplica.every((a) => a.atMs < 5 || a.atMs >= 50)).toBe(true);
    // The host is not stalled: frame i reaches it at i + 1.
    expect(atHost.map((a) => a.atMs)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  });

  it('a stopped replica (SIGSTOP) gets its frames on resume; past the in-flight bound, sends are refused and counted', async () => {
    const scheduler = new SimScheduler();
    const link = makeLink(scheduler, 4, { inFlightBytesMax: 70 });
    const atReplica = record(scheduler, link.replica);
    const accepted: boolean[] = [];
    const clock = scheduler.clockFor('test');
    clock.setTimer(0, () => scheduler.stallOpen('replica 1'));
    for (let i = 0; i < 15; i++) clock.setTimer(1 + i, () => accepted.push(link.host.send(numberedFrame(i))));
    clock.setTimer(30, () => {
      expect(link.counters.toReplica.bytesInFlight).toBe(70);
      scheduler.resume('replica 1');
    });
    clock.setTimer(31, () => accepted.push(link.host.send(numberedFrame(99))));
    await advanceTo(scheduler, 40, LIMITS);
    // Frames of 7 bytes: ten fit in 70.
    expect(accepted).toEqual([...Array<boolean>(10).fill(true), ...Array<boolean>(5).fill(false), true]);
    expect(link.host.stats.sendsDropped).toBe(5);
    expect(atReplica.map((a) => [a.atMs, numberOf(Buffer.from(a.hex, 'hex'))])).toEqual([...Array.from({ length: 10 }, (_, i) => [30, i]), [32, 99]]);
    expect(link.counters.toReplica.bytesInFlight).toBe(0);
  });
});

describe('going down', () => {
  it('drop: both ends go down now, each handler once with the reason; frames in flight are lost; sends refused', async () => {
    const scheduler = new SimScheduler();
    const link = makeLink(scheduler, 6);
    const down: string[] = [];
    const upInHandler: boolean[] = [];
    link.host.onDown((reason) => (down.push(`host: ${reason}`), upInHandler.push(link.host.isUp)));
    link.replica.onDown((reason) => (down.push(`replica: ${reason}`), upInHandler.push(link.replica.isUp)));
    const atReplica = record(scheduler, link.replica);
    const atHost = record(scheduler, link.host);
    const clock = scheduler.clockFor('test');
    clock.setTimer(0, () => {
      link.host.send(numberedFrame(1));
      link.replica.send(numberedFrame(2));
    });
    clock.setTimer(0.5, () => {
      link.drop('cable cut');
      expect(down).toEqual(['host: cable cut', 'replica: cable cut']);
      // Lost at once, not when they would have arrived.
      expect(link.counters.toReplica).toMatchObject({ framesUndelivered: 1, bytesInFlight: 0 });
      expect(link.counters.toHost).toMatchObject({ framesUndelivered: 1, bytesInFlight: 0 });
      link.drop('again');
      link.host.close();
    });
    clock.setTimer(2, () => {
      expect(link.host.send(numberedFrame(3))).toBe(false);
      expect(link.replica.send(numberedFrame(4))).toBe(false);
    });
    await advanceTo(scheduler, 10, LIMITS);
    expect(down).toEqual(['host: cable cut', 'replica: cable cut']);
    expect(upInHandler).toEqual([false, false]);
    expect(atReplica).toEqual([]);
    expect(atHost).toEqual([]);
    expect(link.counters.toReplica.framesUndelivered).toBe(1);
    expect(link.counters.toHost.framesUndelivered).toBe(1);
    expect(link.host.stats.sendsDropped).toBe(1);
    expect(link.replica.stats.sendsDropped).toBe(1);
    expect(scheduler.pendingEvents, 'cut deliveries leave no live events').toBe(0);
    // A handler registered after the link went down hears the reason at once.
    const late: string[] = [];
    link.host.onDown((reason) => late.push(reason));
    expect(late).toEqual(['cable cut']);
  });

  it('exit: the replica\'s end goes down now; the host reads what it had sent, then sees it go down', async () => {
    const scheduler = new SimScheduler();
    const link = makeLink(scheduler, 7, { toHost: { ...CLEAN, delayMs: 2, jitterMs: 1 } });
    const log: string[] = [];
    link.host.onDown((reason) => log.push(`host down@${scheduler.nowMs}: ${reason}`));
    link.replica.onDown((reason) => log.push(`replica down@${scheduler.nowMs}: ${reason}`));
    link.host.onFrame((body) => log.push(`host got ${numberOf(body)}`));
    link.replica.onFrame((body) => log.push(`replica got ${numberOf(body)}`));
    const clock = scheduler.clockFor('test');
    clock.setTimer(0, () => {
      link.host.send(numberedFrame(1));
      link.replica.send(numberedFrame(2));
      link.replica.send(numberedFrame(3));
    });
    clock.setTimer(0.5, () => link.exit('the replica process exited'));
    // The host does not know yet: its send is accepted, and lost at the dead end.
    clock.setTimer(0.6, () => expect(link.host.send(numberedFrame(4))).toBe(true));
    await advanceTo(scheduler, 10, LIMITS);
    expect(log).toEqual(['replica down@0.5: the replica process exited', 'host got 2', 'host got 3', expect.stringMatching(/^host down@2\.\d+: the replica process exited$/)]);
    expect(link.counters.toReplica.framesUndelivered).toBe(2);
  });

  it('close on either end takes both down once, saying who closed it', async () => {
    for (const side of ['host', 'replica'] as const) {
      const scheduler = new SimScheduler();
      const link = makeLink(scheduler, 9);
      const down: string[] = [];
      link.host.onDown((reason) => down.push(reason));
      link.replica.onDown((reason) => down.push(reason));
      await link[side].close();
      await link[side].close();
      expect(down).toEqual([`closed by the ${side}`, `closed by the ${side}`]);
      expect(link.host.isUp || link.replica.isUp).toBe(false);
    }
  });

  it('counts an over-long run without a delimiter and delivers the next frame', async () => {
    const scheduler = new SimScheduler();
    const link = makeLink(scheduler, 10);
    const atHost = record(scheduler, link.host);
    link.replica.send(new Uint8Array(600).fill(7));
    link.replica.send(Uint8Array.of(0, 5, 0));
    await advanceTo(scheduler, 10, LIMITS);
    expect(link.host.stats.overlongFramesDropped).toBe(1);
    expect(atHost.map((a) => a.hex)).toEqual(['05']);
  });
});

describe('options', () => {
  it('defaults: host owner \'host\', a name from the replica owner, the in-flight bound of a pipe', async () => {
    const scheduler = new SimScheduler();
    const link = makeLink(scheduler, 1);
    expect(link.host.description).toBe('simulated replica 1');
    scheduler.stall('host', 0, 5);
    const atHost = record(scheduler, link.host);
    link.replica.send(numberedFrame(1));
    await advanceTo(scheduler, 10, LIMITS);
    expect(atHost.map((a) => a.atMs)).toEqual([5]);
    expect(SIM_LINK_IN_FLIGHT_BYTES_DEFAULT).toBe(65_536 + 16 * 1024);
  });

  it.each([
    ['a probability above 1', { toHost: { ...CLEAN, lossProbability: 1.01 } }],
    ['a negative probability', { toReplica: { ...CLEAN, bitErrorProbability: -0.1 } }],
    ['a NaN probability', { toReplica: { ...CLEAN, lossProbability: Number.NaN } }],
    ['a delay over 10 s', { toHost: { ...CLEAN, delayMs: 10_001 } }],
    ['a negative jitter', { toReplica: { ...CLEAN, jitterMs: -1 } }],
    ['a NaN delay', { toReplica: { ...CLEAN, delayMs: Number.NaN } }],
    ['one owner on both ends', { hostOwner: 'replica 1' }],
    ['a zero in-flight bound', { inFlightBytesMax: 0 }],
  ] as [string, Partial<SimLinkOptions>][])('refuses %s (assertion)', (_, overrides) => {
    expect(() => makeLink(new SimScheduler(), 1, overrides)).toThrow(TmrAssertionError);
  });

  it('accepts the ends of the ranges', () => {
    const edge: SimLinkDirection = { delayMs: 10_000, jitterMs: 10_000, lossProbability: 1, bitErrorProbability: 1, reorder: false };
    expect(() => makeLink(new SimScheduler(), 1, { toHost: edge, toReplica: { ...CLEAN, delayMs: 0 } })).not.toThrow();
  });
});
