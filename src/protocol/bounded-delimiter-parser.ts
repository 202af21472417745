/**
 * Splitting a byte stream into frames on 0x00, with a bound.
 *
 * Upstream DelimiterParser concatenates every chunk onto `this.buffer` and grows it forever while
 * no delimiter arrives (a babbling or misconfigured port). The rule here, in FrameSplitter and
 * used unchanged by the stream class:
 *
 * - Bytes between two delimiters form a frame, delivered without the delimiter.
 * - If more than `bufferBytesMax` bytes arrive without a delimiter, the buffered bytes are dropped
 *   (overlongFramesDropped + 1) and every byte up to and including the next 0x00 is discarded, so
 *   the tail of an over-long frame is never taken for a frame of its own. A body of exactly
 *   `bufferBytesMax` bytes is still delivered (with the default that is one byte more than any
 *   valid frame body; decodeFrame refuses it as TOO_LONG).
 * - Zero bytes between delimiters are not a frame: nothing is delivered and emptyFrames counts it.
 *   Senders may put a 0x00 before a frame to resynchronise the receiver, so this is not an error.
 * - Bytes still buffered when the stream ends have no delimiter and are dropped
 *   (unterminatedFramesDropped), unlike upstream, which emits them.
 *
 * Memory is one preallocated buffer of bufferBytesMax bytes. Chunks may split anywhere.
 */
import { Buffer } from 'node:buffer';
import type { TransformCallback, TransformOptions } from 'node:stream';
import { DelimiterParser } from '@serialport/parser-delimiter';
import { assert, fail } from '../core/assert.js';
import { FRAME_DELIMITER } from './frame.js';
import { LIMITS } from './messages.js';

/**
 * Receives one frame without its delimiter. The array is a view into the splitter's buffer, valid
 * only until the callback returns: copy it to keep it. Do not call push() from inside.
 */
export type FrameHandler = (frame: Uint8Array) => void;

export class FrameSplitter {
  readonly bufferBytesMax: number;
  readonly #buffer: Uint8Array;
  #bufferedBytes = 0;
  /** Inside an over-long frame: ignore bytes until the next delimiter. */
  #discarding = false;
  #framesDelivered = 0;
  #emptyFrames = 0;
  #overlongFramesDropped = 0;
  #unterminatedFramesDropped = 0;
  #bytesDropped = 0;

  /** @param bufferBytesMax bytes a frame may have without its delimiter before it is dropped. */
  constructor(bufferBytesMax: number = LIMITS.frameBytesMax) {
    if (!(Number.isInteger(bufferBytesMax) && bufferBytesMax >= 1)) fail(`FrameSplitter: bad bufferBytesMax ${bufferBytesMax}`);
    this.bufferBytesMax = bufferBytesMax;
    this.#buffer = new Uint8Array(bufferBytesMax);
  }

  /** Frames delivered to a handler. */
  get framesDelivered(): number {
    return this.#framesDelivered;
  }
  /** Delimiters with nothing before them (not delivered). */
  get emptyFrames(): number {
    return this.#emptyFrames;
  }
  /** Runs of more than bufferBytesMax bytes without a delimiter. */
  get overlongFramesDropped(): number {
    return this.#overlongFramesDropped;
  }
  /** Partial frames left when the input ended (see finish()). */
  get unterminatedFramesDropped(): number {
    return this.#unterminatedFramesDropped;
  }
  /** Bytes of over-long and unterminated frames thrown away, delimiters not counted. */
  get bytesDropped(): number {
    return this.#bytesDropped;
  }
  /** Bytes waiting for a delimiter; always <= bufferBytesMax. */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  /** The bytes waiting for a delimiter, as a view valid until the next push() or finish(). */
  pending(): Uint8Array {
    return this.#buffer.subarray(0, this.#bufferedBytes);
  }

  /** Feed a chunk; calls onFrame for every frame it completes, in order. */
  push(chunk: Uint8Array, onFrame: FrameHandler): void {
    const chunkBytes = chunk.length;
    let start = 0;
    // Bounded: every iteration consumes at least one byte of the chunk (the delimiter).
    while (start < chunkBytes) {
      const delimiterIndex = chunk.indexOf(FRAME_DELIMITER, start);
      const segmentEnd = delimiterIndex === -1 ? chunkBytes : delimiterIndex;
      this.#append(chunk, start, segmentEnd);
      if (delimiterIndex === -1) break;
      this.#endFrame(onFrame);
      start = delimiterIndex + 1;
    }
    assert(this.#bufferedBytes <= this.bufferBytesMax, 'FrameSplitter: buffer over its bound');
  }

  /** The input ended: drop a partial frame (it has no delimiter) and start afresh. */
  finish(): void {
    if (this.#bufferedBytes > 0 || this.#discarding) this.#unterminatedFramesDropped++;
    this.#bytesDropped += this.#bufferedBytes;
    this.#bufferedBytes = 0;
    this.#discarding = false;
  }

  #append(chunk: Uint8Array, start: number, end: number): void {
    const segmentBytes = end - start;
    if (this.#discarding) {
      this.#bytesDropped += segmentBytes;
      return;
    }
    if (this.#bufferedBytes + segmentBytes > this.bufferBytesMax) {
      this.#overlongFramesDropped++;
      this.#bytesDropped += this.#bufferedBytes + segmentBytes;
      this.#bufferedBytes = 0;
      this.#discarding = true;
      return;
    }
    const buffer = this.#buffer;
    let at = this.#bufferedBytes;
    for (let i = start; i < end; i++) buffer[at++] = chunk[i] as number;
    this.#bufferedBytes = at;
  }

  #endFrame(onFrame: FrameHandler): void {
    if (this.#discarding) {
      this.#discarding = false;
      return;
    }
    const frameBytes = this.#bufferedBytes;
    if (frameBytes === 0) {
      this.#emptyFrames++;
      return;
    }
    // Reset first, so the state is consistent even if onFrame throws.
    this.#bufferedBytes = 0;
    this.#framesDelivered++;
    onFrame(this.#buffer.subarray(0, frameBytes));
  }
}

export interface BoundedDelimiterParserOptions extends TransformOptions {
  /** Bytes a frame may have without its delimiter before it is dropped. Default LIMITS.frameBytesMax. */
  readonly bufferBytesMax?: number;
}

const EMPTY_BUFFER = Buffer.alloc(0);

/**
 * serialport's DelimiterParser (delimiter 0x00, delimiter not included) with FrameSplitter's bound.
 * Each frame is pushed as its own fresh Buffer. `this.buffer` is a view of the bytes waiting for
 * a delimiter (never longer than bufferBytesMax), refreshed after every chunk.
 */
export class BoundedDelimiterParser extends DelimiterParser {
  readonly #splitter: FrameSplitter;
  readonly #pushFrame: FrameHandler = (frame) => {
    this.push(Buffer.from(frame));
  };

  constructor(options: BoundedDelimiterParserOptions = {}) {
    const { bufferBytesMax, ...transformOptions } = options;
    super({ ...transformOptions, delimiter: [FRAME_DELIMITER], includeDelimiter: false });
    this.#splitter = new FrameSplitter(bufferBytesMax);
  }

  get bufferBytesMax(): number {
    return this.#splitter.bufferBytesMax;
  }
  get framesDelivered(): number {
    return this.#splitter.framesDelivered;
  }
  get emptyFrames(): number {
    return this.#splitter.emptyFrames;
  }
  get overlongFramesDropped(): number {
    return this.#splitter.overlongFramesDropped;
  }
  get unterminatedFramesDropped(): number {
    return this.#splitter.unterminatedFramesDropped;
  }
  get bytesDropped(): number {
    return this.#splitter.bytesDropped;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, cb: TransformCallback): void {
    this.#splitter.push(chunk, this.#pushFrame);
    const pending = this.#splitter.pending();
    this.buffer = Buffer.from(pending.buffer, pending.byteOffset, pending.length);
    cb();
  }

  override _flush(cb: TransformCallback): void {
    this.#splitter.finish();
    this.buffer = EMPTY_BUFFER;
    cb();
  }
}
