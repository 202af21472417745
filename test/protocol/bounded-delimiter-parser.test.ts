import { once } from 'node:events';
import { DelimiterParser } from '@serialport/parser-delimiter';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TmrAssertionError } from '../../src/core/assert.js';
import { BoundedDelimiterParser, FrameSplitter } from '../../src/protocol/bounded-delimiter-parser.js';
import { decodeMessage, encodeMessage } from '../../src/protocol/codec.js';
import { LIMITS, type Message } from '../../src/protocol/messages.js';

const hexes = (frames: readonly Uint8Array[]): string[] => frames.map((f) => Buffer.from(f).toString('hex'));

const messages: Message[] = [
  { kind: 'tick', tick: 1, inputs: [1000, -20] },
  { kind: 'output', tick: 1, outputs: [5, -5], stateDigest: 0x1234_5678 },
  { kind: 'heartbeat', lastTick: 1, stateDigest: 0 },
  { kind: 'state', tick: 9, stateBytes: new Uint8Array(64).fill(0), stateDigest: 7 },
  { kind: 'helloAck', protocolVersion: 1, replicaIndex: 0, implementation: 'x'.repeat(32), lawName: 'x'.repeat(24), lawVersion: 1, lawHash: 2 },
];
const frames = messages.map(encodeMessage);
/** Frame bodies as the parser must deliver them: without the 0x00. */
const bodies = frames.map((f) => f.subarray(0, f.length - 1));
/** A resync 0x00 first, then every frame, with an extra 0x00 in the middle (an empty frame). */
const stream = Uint8Array.from([0x00, ...(frames[0] as Uint8Array), 0x00, ...frames.slice(1).flatMap((f) => [...f])]);
const EXPECTED_EMPTY_FRAMES = 2;

/** Split `bytes` at the given cut points (any order, duplicates allowed). */
function chunksAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.min(Math.max(c, 0), bytes.length)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  return chunks;
}

function splitWith(splitter: FrameSplitter, chunks: readonly Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const chunk of chunks) {
    splitter.push(chunk, (frame) => out.push(frame.slice()));
    expect(splitter.bufferedBytes).toBeLessThanOrEqual(splitter.bufferBytesMax);
  }
  return out;
}

async function parseWith(parser: BoundedDelimiterParser, chunks: readonly Uint8Array[]): Promise<Buffer[]> {
  const out: Buffer[] = [];
  parser.on('data', (frame: Buffer) => out.push(frame));
  for (const chunk of chunks) {
    parser.write(Buffer.from(chunk));
    expect(parser.buffer.length).toBeLessThanOrEqual(parser.bufferBytesMax);
  }
  parser.end();
  await once(parser, 'end');
  return out;
}

/**
 * The rule written the obvious way, on the whole input at once: split at every 0x00; a segment
 * that is empty is counted, one longer than the bound is dropped, others are frames; what follows
 * the last 0x00 is unterminated.
 */
function referenceSplit(bytes: Uint8Array, bound: number) {
  const segments: number[][] = [[]];
  for (const byte of bytes) {
    if (byte === 0) segments.push([]);
    else (segments[segments.length - 1] as number[]).push(byte);
  }
  const tail = segments.pop() as number[];
  const result = { frames: [] as string[], emptyFrames: 0, overlongFramesDropped: 0, unterminatedFramesDropped: 0, bytesDropped: 0 };
  for (const segment of segments) {
    if (segment.length === 0) result.emptyFrames++;
    else if (segment.length > bound) {
      result.overlongFramesDropped++;
      result.bytesDropped += segment.length;
    } else result.frames.push(Buffer.from(segment).toString('hex'));
  }
  if (tail.length > bound) result.overlongFramesDropped++;
  if (tail.length > 0) result.unterminatedFramesDropped++;
  result.bytesDropped += tail.length;
  return result;
}

describe('FrameSplitter and BoundedDelimiterParser deliver exactly the frames', () => {
  it('is a DelimiterParser', () => {
    expect(new BoundedDelimiterParser()).toBeInstanceOf(DelimiterParser);
    expect(new BoundedDelimiterParser().bufferBytesMax).toBe(LIMITS.frameBytesMax);
  });

  it('fed whole, and the frames decode', async () => {
    const splitter = new FrameSplitter();
    const out = splitWith(splitter, [stream]);
    expect(hexes(out)).toEqual(hexes(bodies));
    expect(out.map((f) => decodeMessage(f))).toEqual(messages.map((message) => ({ ok: true, message })));
    expect([splitter.framesDelivered, splitter.emptyFrames, splitter.overlongFramesDropped]).toEqual([frames.length, EXPECTED_EMPTY_FRAMES, 0]);
    const parser = new BoundedDelimiterParser();
    expect(hexes(await parseWith(parser, [stream]))).toEqual(hexes(bodies));
    expect([parser.framesDelivered, parser.emptyFrames]).toEqual([frames.length, EXPECTED_EMPTY_FRAMES]);
  });

  it('fed one byte at a time', async () => {
    const oneByOne = chunksAt(stream, Array.from({ length: stream.length }, (_, i) => i));
    expect(oneByOne.length).toBe(stream.length + 1); // includes one empty chunk at the start
    expect(hexes(splitWith(new FrameSplitter(), oneByOne))).toEqual(hexes(bodies));
    expect(hexes(await parseWith(new BoundedDelimiterParser(), oneByOne))).toEqual(hexes(bodies));
  });

  it('split at every single point', async () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const chunks = chunksAt(stream, [cut]);
      expect(hexes(splitWith(new FrameSplitter(), chunks)), `cut at ${cut}`).toEqual(hexes(bodies));
      expect(hexes(await parseWith(new BoundedDelimiterParser(), chunks)), `cut at ${cut}`).toEqual(hexes(bodies));
    }
  });

  it('split at seeded random points (fast-check)', async () => {
    const cuts = fc.array(fc.integer({ min: 0, max: stream.length }), { maxLength: 40 });
    fc.assert(
      fc.property(cuts, (points) => {
        expect(hexes(splitWith(new FrameSplitter(), chunksAt(stream, points)))).toEqual(hexes(bodies));
      }),
      { numRuns: 500 },
    );
    await fc.assert(
      fc.asyncProperty(cuts, async (points) => {
        expect(hexes(await parseWith(new BoundedDelimiterParser(), chunksAt(stream, points)))).toEqual(hexes(bodies));
      }),
      { numRuns: 100 },
    );
  });

  it('a chunk holding many frames', () => {
    const many = Uint8Array.from(Array.from({ length: 200 }, (_, i) => [...(frames[i % frames.length] as Uint8Array)]).flat());
    const out = splitWith(new FrameSplitter(), [many]);
    expect(out.length).toBe(200);
    expect(hexes(out)).toEqual(hexes(Array.from({ length: 200 }, (_, i) => bodies[i % bodies.length] as Uint8Array)));
  });
});

describe('the bound', () => {
  const bound = LIMITS.frameBytesMax;
  const garbage = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7) % 255 + 1);
  const next = frames[1] as Uint8Array;

  it('drops and counts an over-long run, keeps memory bounded, then delivers the next frame intact', async () => {
    const input = Uint8Array.from([...garbage, 0x00, ...next]);
    for (const chunkBytes of [1, 3, 100, 4096, input.length]) {
      const cuts = Array.from({ length: Math.ceil(input.length / chunkBytes) }, (_, i) => i * chunkBytes);
      const splitter = new FrameSplitter(bound);
      const out = splitWith(splitter, chunksAt(input, cuts));
      expect(hexes(out)).toEqual(hexes([bodies[1] as Uint8Array]));
      expect([splitter.overlongFramesDropped, splitter.bytesDropped, splitter.framesDelivered]).toEqual([1, garbage.length, 1]);

      const parser = new BoundedDelimiterParser({ bufferBytesMax: bound });
      expect(hexes(await parseWith(parser, chunksAt(input, cuts)))).toEqual(hexes([bodies[1] as Uint8Array]));
      expect([parser.overlongFramesDropped, parser.bytesDropped]).toEqual([1, garbage.length]);
    }
  });

  it('never parses the tail of an over-long frame as a frame of its own', () => {
    // The last bytes before the 0x00 are a complete valid frame body: still part of the over-long run.
    const input = Uint8Array.from([...garbage.subarray(0, bound), ...(bodies[0] as Uint8Array), 0x00, ...next]);
    for (let cut = 0; cut <= input.length; cut += 37) {
      const splitter = new FrameSplitter(bound);
      expect(hexes(splitWith(splitter, chunksAt(input, [cut])))).toEqual(hexes([bodies[1] as Uint8Array]));
      expect(splitter.overlongFramesDropped).toBe(1);
    }
  });

  it('a body of exactly the bound is delivered; one byte more is dropped', () => {
    const atBound = new Uint8Array(bound).fill(0x41);
    const over = new Uint8Array(bound + 1).fill(0x42);
    const splitter = new FrameSplitter(bound);
    const out = splitWith(splitter, [Uint8Array.from([...atBound, 0, ...over, 0, 0x43, 0])]);
    expect(hexes(out)).toEqual(hexes([atBound, Uint8Array.of(0x43)]));
    expect(splitter.overlongFramesDropped).toBe(1);
  });

  it('upstream DelimiterParser, for contrast, buffers the whole run', () => {
    const upstream = new DelimiterParser({ delimiter: [0] });
    upstream.write(Buffer.from(garbage));
    expect(upstream.buffer.length).toBe(garbage.length);
    const bounded = new BoundedDelimiterParser();
    bounded.write(Buffer.from(garbage));
    expect(bounded.buffer.length).toBeLessThanOrEqual(bound);
    expect(bounded.overlongFramesDropped).toBe(1);
  });

  it('at the end of input, a partial frame is dropped and counted, not delivered', async () => {
    const input = Uint8Array.from([...(frames[0] as Uint8Array), ...(bodies[1] as Uint8Array)]);
    const parser = new BoundedDelimiterParser();
    expect(hexes(await parseWith(parser, [input]))).toEqual(hexes([bodies[0] as Uint8Array]));
    expect([parser.unterminatedFramesDropped, parser.bytesDropped, parser.buffer.length]).toEqual([1, (bodies[1] as Uint8Array).length, 0]);
  });

  it('refuses a bound below one byte', () => {
    expect(() => new FrameSplitter(0)).toThrow(TmrAssertionError);
    expect(() => new BoundedDelimiterParser({ bufferBytesMax: 1.5 })).toThrow(TmrAssertionError);
  });

  it('matches the reference rule on arbitrary streams, bounds and chunkings (fast-check)', () => {
    const streamArb = fc
      .array(
        fc.oneof(
          fc.constant([0]),
          fc.uint8Array({ minLength: 1, maxLength: 80 }).map((a) => [...a]),
          fc.integer({ min: 1, max: 100 }).map((n) => new Array<number>(n).fill(0x55)),
        ),
        { maxLength: 20 },
      )
      .map((parts) => Uint8Array.from(parts.flat()));
    fc.assert(
      fc.property(streamArb, fc.integer({ min: 1, max: 64 }), fc.array(fc.nat(), { maxLength: 20 }), (bytes, bufferBytesMax, cuts) => {
        const splitter = new FrameSplitter(bufferBytesMax);
        const out = splitWith(splitter, chunksAt(bytes, cuts.map((c) => c % (bytes.length + 1))));
        splitter.finish();
        expect({
          frames: hexes(out),
          emptyFrames: splitter.emptyFrames,
          overlongFramesDropped: splitter.overlongFramesDropped,
          unterminatedFramesDropped: splitter.unterminatedFramesDropped,
          bytesDropped: splitter.bytesDropped,
        }).toEqual(referenceSplit(bytes, bufferBytesMax));
        expect(splitter.bufferedBytes).toBe(0);
      }),
      { numRuns: 2000 },
    );
  });
});
