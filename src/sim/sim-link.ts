/**
 * A seeded in-memory link between the host and one simulated replica, in simulated time (the
 * scheduler of sim-clock.ts). Each direction has a base delay, a uniform jitter, a chance to lose
 * a whole frame and a chance to flip one bit of it, all drawn from the link's own PRNG, so a run
 * replays exactly. Both ends are Transports (src/transport/transport.ts): received bytes go
 * through the bounded FrameSplitter and each frame is handed to the frame handler.
 *
 * - Never reordered: a frame is delivered no earlier than the one sent before it in the same
 *   direction (max(previous delivery, now + delay + jitter)).
 * - A delivery is an event of the receiving process (hostOwner or replicaOwner), so a stalled
 *   receiver gets its bytes when it runs again, in order.
 * - Every send that is accepted draws three numbers (loss, bit error, jitter) whatever the
 *   probabilities, and a fourth (which bit) only for a frame it damages: the stream of draws does
 *   not depend on the probabilities until a frame is damaged. Both directions share the PRNG, in
 *   the order frames are sent.
 * - A flipped bit is never in the frame's trailing 0x00 delimiter (the frame would merge with the
 *   next: that is a lost delimiter, not a bit error); it may make a 0x00 inside the frame, which
 *   splits it, as on a real line.
 * - Bytes in flight per direction are bounded (inFlightBytesMax, by default a pipe's 64 KiB kernel
 *   buffer plus the transport's QUEUED_BYTES_MAX): past it send() refuses and counts the frame,
 *   as a real transport does when its peer stops reading.
 * - drop() is a cut: both ends go down at once, and frames in flight either way are lost. exit()
 *   is a replica process ending: its end goes down at once (frames to it are lost), the host reads
 *   what it had already sent and then sees the link go down, as a pipe gives EOF after the data.
 */
import { assert } from '../core/assert.js';
import type { Prng } from '../core/prng.js';
import { FrameSplitter } from '../protocol/bounded-delimiter-parser.js';
import { FRAME_DELIMITER } from '../protocol/frame.js';
import { LIMITS } from '../protocol/messages.js';
import type { Timer } from '../core/clock.js';
import { createTransportStats, QUEUED_BYTES_MAX, type DownHandler, type FrameHandler, type Transport } from '../transport/transport.js';
import type { SimScheduler } from './sim-clock.js';

/** One direction's line. */
export interface SimLinkDirection {
  /** Base one-way delay, ms, 0..SIM_LINK_DELAY_MS_MAX. */
  readonly delayMs: number;
  /** Extra delay per frame, uniform in [0, jitterMs) ms, 0..SIM_LINK_DELAY_MS_MAX. Never reorders. */
  readonly jitterMs: number;
  /** Chance a whole frame is lost, 0..1. */
  readonly lossProbability: number;
  /** Chance a frame arrives with one bit flipped, 0..1. */
  readonly bitErrorProbability: number;
  /** Frames in one direction never overtake each other; false is the only value. */
  readonly reorder?: false;
}

export interface SimLinkOptions {
  /** Owner of deliveries to the host. Default 'host'. */
  readonly hostOwner?: string;
  /** Owner of deliveries to the replica: 'replica 1'. */
  readonly replicaOwner: string;
  /** This link's own stream. */
  readonly prng: Prng;
  readonly toReplica: SimLinkDirection;
  readonly toHost: SimLinkDirection;
  /** For messages: "simulated replica 1". Default `simulated ${replicaOwner}`. */
  readonly name?: string;
  /** Bytes one direction may have in flight, 1..SIM_LINK_IN_FLIGHT_BYTES_LIMIT. Default SIM_LINK_IN_FLIGHT_BYTES_DEFAULT. */
  readonly inFlightBytesMax?: number;
}

/** Counters of one direction. Frames here are what send() accepted. */
export interface SimDirectionStats {
  framesSent: number;
  /** Lost on the line (drawn). */
  framesLost: number;
  /** Delivered with one bit flipped (drawn). */
  framesCorrupted: number;
  /** In flight when the link went down, or arrived at an end already down: never delivered. */
  framesUndelivered: number;
  /** Bytes sent and not yet delivered, lost or cut. */
  bytesInFlight: number;
}

export const SIM_LINK_DELAY_MS_MAX = 10_000;
/** A pipe's kernel buffer (Linux default) plus the transport's own outgoing queue. */
export const SIM_LINK_IN_FLIGHT_BYTES_DEFAULT = 65_536 + QUEUED_BYTES_MAX;
/** Largest inFlightBytesMax: a write's bits must stay countable by Prng.nextBelow (2^21). */
export const SIM_LINK_IN_FLIGHT_BYTES_LIMIT = 256 * 1024;

const U32_RANGE = 0x1_0000_0000;

function checkDirection(d: SimLinkDirection, which: string): void {
  const delayOk = (ms: number): boolean => ms >= 0 && ms <= SIM_LINK_DELAY_MS_MAX;
  const probabilityOk = (p: number): boolean => p >= 0 && p <= 1;
  assert(delayOk(d.delayMs), `${which}: delayMs ${d.delayMs} outside 0..${SIM_LINK_DELAY_MS_MAX}`);
  assert(delayOk(d.jitterMs), `${which}: jitterMs ${d.jitterMs} outside 0..${SIM_LINK_DELAY_MS_MAX}`);
  assert(probabilityOk(d.lossProbability), `${which}: lossProbability ${d.lossProbability} outside 0..1`);
  assert(probabilityOk(d.bitErrorProbability), `${which}: bitErrorProbability ${d.bitErrorProbability} outside 0..1`);
  assert(d.reorder === undefined || d.reorder === false, `${which}: reordering is not modelled`);
}

/** A frame on its way. */
interface InFlight {
  readonly bytes: Uint8Array;
  timer: Timer | null;
}

/** One direction of the line: its profile, counters, and frames on their way. */
class SimLine {
  readonly stats: SimDirectionStats = { framesSent: 0, framesLost: 0, framesCorrupted: 0, framesUndelivered: 0, bytesInFlight: 0 };
  /** Delivery time of the last frame scheduled, ms: the next is never earlier. */
  lastDeliveryMs = 0;
  readonly inFlight = new Set<InFlight>();

  constructor(
    readonly profile: SimLinkDirection,
    /** Owner of the deliveries: the receiving process. */
    readonly receiverOwner: string,
  ) {}

  /** Frames on their way are lost. */
  cut(): void {
    for (const frame of this.inFlight) {
      frame.timer?.cancel();
      this.stats.framesUndelivered++;
    }
    this.inFlight.clear();
    this.stats.bytesInFlight = 0;
  }
}

export class SimTransport implements Transport {
  readonly stats = createTransportStats();
  readonly #splitter = new FrameSplitter(LIMITS.frameBytesMax);
  readonly #deliver = (frame: Uint8Array): void => {
    this.stats.framesIn++;
    this.#frameHandler(frame);
  };
  #frameHandler: FrameHandler = () => {};
  #downHandler: DownHandler = () => {};
  #downReason: string | null = null;
  #peer: SimTransport | null = null;

  constructor(
    readonly description: string,
    /** Which end this is, for close()'s reason. */
    private readonly side: 'host' | 'replica',
    private readonly scheduler: SimScheduler,
    private readonly prng: Prng,
    /** What this end sends. */
    private readonly outgoing: SimLine,
    private readonly inFlightBytesMax: number,
  ) {}

  get isUp(): boolean {
    return this.#downReason === null;
  }

  /** Why it went down, or null while up. */
  get downReason(): string | null {
    return this.#downReason;
  }

  /** Frames this end sent that were lost on the line. */
  get framesLost(): number {
    return this.outgoing.stats.framesLost;
  }

  /** Frames this end sent that arrive damaged. */
  get framesCorrupted(): number {
    return this.outgoing.stats.framesCorrupted;
  }

  onFrame(handler: FrameHandler): void {
    this.#frameHandler = handler;
  }

  onDown(handler: DownHandler): void {
    this.#downHandler = handler;
    if (this.#downReason !== null) handler(this.#downReason);
  }

  send(frame: Uint8Array): boolean {
    const line = this.outgoing;
    const peer = this.#peer;
    if (this.#downReason !== null || peer === null || line.stats.bytesInFlight + frame.length > this.inFlightBytesMax) {
      this.stats.sendsDropped++;
      return false;
    }
    this.stats.bytesOut += frame.length;
    this.stats.framesOut++;
    line.stats.framesSent++;
    const profile = line.profile;
    const prng = this.prng;
    const lost = prng.nextU32() < profile.lossProbability * U32_RANGE;
    const damaged = prng.nextU32() < profile.bitErrorProbability * U32_RANGE;
    const jitterMs = (prng.nextU32() / U32_RANGE) * profile.jitterMs;
    if (lost) {
      line.stats.framesLost++;
      return true;
    }
    const bytes = Uint8Array.from(frame);
    // The trailing delimiter is not a bit that can flip (see the header).
    const flippableBytes = bytes.length > 0 && bytes[bytes.length - 1] === FRAME_DELIMITER ? bytes.length - 1 : bytes.length;
    if (damaged && flippableBytes > 0) {
      const bit = prng.nextBelow(flippableBytes * 8);
      bytes[bit >> 3] = (bytes[bit >> 3] as number) ^ (1 << (bit & 7));
      line.stats.framesCorrupted++;
    }
    const atMs = Math.max(line.lastDeliveryMs, this.scheduler.nowMs + profile.delayMs + jitterMs);
    line.lastDeliveryMs = atMs;
    const entry: InFlight = { bytes, timer: null };
    line.inFlight.add(entry);
    line.stats.bytesInFlight += bytes.length;
    entry.timer = this.scheduler.schedule(line.receiverOwner, atMs, () => {
      line.inFlight.delete(entry);
      line.stats.bytesInFlight -= bytes.length;
      if (!peer.#receive(bytes)) line.stats.framesUndelivered++;
    });
    return true;
  }

  /** Both ends go down now ('closed by the host', 'closed by the replica'); frames in flight are lost. */
  async close(): Promise<void> {
    this.cut(`closed by the ${this.side}`);
  }

  /** Links two ends; called once by createSimLink. */
  static pair(a: SimTransport, b: SimTransport): void {
    assert(a.#peer === null && b.#peer === null, 'a sim transport is paired once');
    a.#peer = b;
    b.#peer = a;
  }

  /** Takes received bytes through the splitter; false if this end is down (the bytes are lost). */
  #receive(bytes: Uint8Array): boolean {
    if (this.#downReason !== null) return false;
    this.stats.bytesIn += bytes.length;
    this.#splitter.push(bytes, this.#deliver);
    this.stats.overlongFramesDropped = this.#splitter.overlongFramesDropped;
    return true;
  }

  /** The link is cut: both ends go down now (each handler hears `reason` once), frames in flight either way are lost. */
  cut(reason: string): void {
    this.outgoing.cut();
    this.#peer?.outgoing.cut();
    this.markDown(reason);
    this.#peer?.markDown(reason);
  }

  /** This end alone goes down with `reason` (once: later calls do nothing). For SimLink.exit. */
  markDown(reason: string): void {
    if (this.#downReason !== null) return;
    this.#downReason = reason;
    this.#downHandler(reason);
  }
}

export interface SimLink {
  /** The host's end: frames sent here go toward the replica. */
  readonly host: SimTransport;
  /** The replica's end. */
  readonly replica: SimTransport;
  readonly counters: { readonly toReplica: Readonly<SimDirectionStats>; readonly toHost: Readonly<SimDirectionStats> };
  /** A cut: both ends go down now, each down handler hears `reason` once; frames in flight are lost. */
  drop(reason: string): void;
  /**
   * The replica's process ended: its end goes down now and frames toward it are lost; what it sent
   * before still reaches the host, which then sees its end go down (an event of hostOwner, one
   * toward-host delay from now at the earliest, after the last frame sent).
   */
  exit(reason: string): void;
}

export function createSimLink(scheduler: SimScheduler, options: SimLinkOptions): SimLink {
  const hostOwner = options.hostOwner ?? 'host';
  const name = options.name ?? `simulated ${options.replicaOwner}`;
  const inFlightBytesMax = options.inFlightBytesMax ?? SIM_LINK_IN_FLIGHT_BYTES_DEFAULT;
  assert(hostOwner.length > 0 && options.replicaOwner.length > 0 && hostOwner !== options.replicaOwner, `${name}: two distinct owners, got '${hostOwner}' and '${options.replicaOwner}'`);
  assert(Number.isInteger(inFlightBytesMax) && inFlightBytesMax >= 1 && inFlightBytesMax <= SIM_LINK_IN_FLIGHT_BYTES_LIMIT, `${name}: inFlightBytesMax ${inFlightBytesMax}`);
  checkDirection(options.toReplica, `${name} toward the replica`);
  checkDirection(options.toHost, `${name} toward the host`);
  const toReplica = new SimLine(options.toReplica, options.replicaOwner);
  const toHost = new SimLine(options.toHost, hostOwner);
  const host = new SimTransport(name, 'host', scheduler, options.prng, toReplica, inFlightBytesMax);
  const replica = new SimTransport(`${name} (its end)`, 'replica', scheduler, options.prng, toHost, inFlightBytesMax);
  SimTransport.pair(host, replica);
  return {
    host,
    replica,
    counters: { toReplica: toReplica.stats, toHost: toHost.stats },
    drop: (reason) => host.cut(reason),
    exit: (reason) => {
      if (!replica.isUp) return;
      toReplica.cut();
      replica.markDown(reason);
      const atMs = Math.max(toHost.lastDeliveryMs, scheduler.nowMs + options.toHost.delayMs);
      // Scheduled after the last delivery: at an equal time it runs after it.
      scheduler.schedule(hostOwner, atMs, () => host.markDown(reason));
    },
  };
}
