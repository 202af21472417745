/**
 * An in-memory Transport pair for tests and the simulator's byte-level paths. Bytes written on
 * one side reach the other side's bounded parser asynchronously (as real I/O does), optionally
 * split into chunks of the given sizes to exercise reassembly.
 */
import { BoundedDelimiterParser } from '../protocol/bounded-delimiter-parser.js';
import { LIMITS } from '../protocol/messages.js';
import { createTransportStats, LinkEvents, QUEUED_BYTES_MAX, type DownHandler, type FrameHandler, type Transport } from './transport.js';

export interface MemoryLinkOptions {
  /** Chunk sizes to cut each write into, used cyclically; empty = whole writes. */
  readonly chunkSizes?: readonly number[];
}

export class MemoryTransport implements Transport {
  readonly stats = createTransportStats();
  private readonly parser = new BoundedDelimiterParser({ bufferBytesMax: LIMITS.frameBytesMax });
  private readonly events = new LinkEvents();
  peer: MemoryTransport | null = null;
  private queuedBytes = 0;
  private chunkCursor = 0;

  constructor(
    readonly description: string,
    private readonly options: MemoryLinkOptions = {},
  ) {
    this.parser.on('data', (frame: Buffer) => {
      this.stats.framesIn++;
      this.events.frame(frame);
    });
  }

  get isUp(): boolean {
    return !this.events.isDown;
  }

  onFrame(handler: FrameHandler): void {
    this.events.onFrame(handler);
  }

  onDown(handler: DownHandler): void {
    this.events.onDown(handler);
  }

  /** Writes raw bytes (not necessarily a frame) to the peer: how garbage gets on the line. */
  writeRaw(bytes: Uint8Array): boolean {
    const peer = this.peer;
    if (this.events.isDown || peer === null || this.queuedBytes + bytes.length > QUEUED_BYTES_MAX) {
      this.stats.sendsDropped++;
      return false;
    }
    this.stats.bytesOut += bytes.length;
    this.queuedBytes += bytes.length;
    const copy = Uint8Array.from(bytes);
    setImmediate(() => {
      this.queuedBytes -= copy.length;
      peer.receive(copy, this.nextChunkSizes(copy.length));
    });
    return true;
  }

  send(frame: Uint8Array): boolean {
    const sent = this.writeRaw(frame);
    if (sent) this.stats.framesOut++;
    return sent;
  }

  /** Simulates the far end dying: both sides go down. */
  kill(reason = 'peer died'): void {
    this.events.markDown(reason);
    this.peer?.events.markDown(reason);
  }

  async close(): Promise<void> {
    this.kill('closed by the host');
  }

  private nextChunkSizes(total: number): number[] {
    const sizes = this.options.chunkSizes ?? [];
    if (sizes.length === 0) return [total];
    const out: number[] = [];
    for (let left = total; left > 0; ) {
      const size = Math.max(1, Math.min(left, sizes[this.chunkCursor++ % sizes.length] ?? left));
      out.push(size);
      left -= size;
    }
    return out;
  }

  private receive(bytes: Uint8Array, chunkSizes: readonly number[]): void {
    if (this.events.isDown) return;
    let at = 0;
    for (const size of chunkSizes) {
      const chunk = Buffer.from(bytes.buffer, bytes.byteOffset + at, size);
      this.stats.bytesIn += size;
      this.parser.write(chunk);
      at += size;
    }
    this.stats.overlongFramesDropped = this.parser.overlongFramesDropped;
  }
}

export function createMemoryLink(options: MemoryLinkOptions = {}): [MemoryTransport, MemoryTransport] {
  const host = new MemoryTransport('memory host side', options);
  const replica = new MemoryTransport('memory replica side', options);
  host.peer = replica;
  replica.peer = host;
  return [host, replica];
}
