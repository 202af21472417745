/**
 * A Transport carries frames between the host and one replica: a child process's pipes, an
 * in-memory link, a serial port. Every implementation passes test/transport/contract.ts.
 *
 * Contract:
 *  - send(frame) writes one complete frame (its 0x00 delimiter included). It never blocks and
 *    never throws for link problems: it returns false when the link is down or its outgoing
 *    queue is over `queuedBytesMax` (the frame is dropped and counted).
 *  - Received bytes are split at 0x00 by a bounded parser; each frame (delimiter removed) is
 *    handed to the frame handler in arrival order. Over-long frames are dropped and counted.
 *    The frame may be a view into the transport's buffer, valid only during the call: a
 *    handler that keeps it copies it.
 *  - The down handler fires at most once, with a one-line reason, when the link dies (peer
 *    exited, port vanished) or close() is called. A re-openable transport (a serial port that
 *    comes back, see SerialTransport.onUp) fires it at most once per loss: after the link is up
 *    again it may fire again. isUp is false while the handler runs, and a handler registered
 *    while the link is down hears the current reason at once.
 *  - The frame passed to send() may be held until it is written (serial writes are
 *    asynchronous): do not modify it afterwards.
 *  - close() releases everything the transport started (processes by PID, file descriptors)
 *    and resolves when they are gone.
 */
export interface TransportStats {
  bytesIn: number;
  bytesOut: number;
  framesIn: number;
  framesOut: number;
  /** Incoming frames longer than the bound, dropped by the parser. */
  overlongFramesDropped: number;
  /** Outgoing frames dropped because the link was down or congested. */
  sendsDropped: number;
  /** Incoming frames an authenticated link refused (a tag that does not match, a replay); 0 on links without authentication. */
  framesRefused: number;
}

export type FrameHandler = (frame: Uint8Array) => void;
export type DownHandler = (reason: string) => void;

export interface Transport {
  /** Human name for messages: "replica 1 (pid 4242)", "/dev/ttyACM0@115200". */
  readonly description: string;
  readonly stats: TransportStats;
  readonly isUp: boolean;
  onFrame(handler: FrameHandler): void;
  onDown(handler: DownHandler): void;
  send(frame: Uint8Array): boolean;
  close(): Promise<void>;
}

export function createTransportStats(): TransportStats {
  return { bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0, overlongFramesDropped: 0, sendsDropped: 0, framesRefused: 0 };
}

/** Outgoing bytes a transport may have queued before it drops frames. */
export const QUEUED_BYTES_MAX = 16 * 1024;

/**
 * The handlers and the once-only down report the transports that go down for good keep by the
 * contract (a serial port that re-opens keeps its own, reporting each loss): a frame
 * handler, a down handler that hears the first reason once (at once, if registered later), and
 * the link down before the handler runs.
 */
export class LinkEvents {
  /** Delivers a frame to the handler registered last. */
  frame: FrameHandler = () => {};
  #downHandler: DownHandler = () => {};
  #reason: string | null = null;

  get isDown(): boolean {
    return this.#reason !== null;
  }

  onFrame(handler: FrameHandler): void {
    this.frame = handler;
  }

  onDown(handler: DownHandler): void {
    this.#downHandler = handler;
    if (this.#reason !== null) handler(this.#reason);
  }

  /** The link is down for `reason`, reported once: later calls change nothing. */
  markDown(reason: string): void {
    if (this.#reason !== null) return;
    this.#reason = reason;
    this.#downHandler(reason);
  }
}
