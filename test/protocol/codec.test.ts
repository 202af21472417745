import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TmrAssertionError } from '../../src/core/assert.js';
import { Prng } from '../../src/core/prng.js';
import {
  decodeMessage,
  decodeMessagePayload,
  encodeMessage,
  encodeMessagePayload,
  type DecodeError,
  type DecodeResult,
} from '../../src/protocol/codec.js';
import { decodeFrame, encodeFrame, FRAME_ERRORS } from '../../src/protocol/frame.js';
import { LIMITS, MESSAGE_TYPE, type Message, type MessageKind } from '../../src/protocol/messages.js';
import {
  anyMessage,
  ARBITRARY,
  mutate,
  mutatedPayload,
  nearSchemaPayload,
  pick,
  randomBytes,
  standardEncoder,
  wireOf,
  type MessageSource,
} from '../fuzz/generators.js';

const fromHex = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const body = (frame: Uint8Array): Uint8Array => frame.subarray(0, frame.length - 1);
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

const DECODE_ERRORS: readonly DecodeError[] = [
  ...FRAME_ERRORS,
  'CBOR_INVALID',
  'NOT_AN_ARRAY',
  'UNKNOWN_TYPE',
  'BAD_FIELD_COUNT',
  'BAD_FIELD',
];
const KINDS = Object.keys(MESSAGE_TYPE) as MessageKind[];

/** Fuzz seed: fixed so runs are reproducible; TMR_FUZZ_SEED=<n> replays or explores another. */
const FUZZ_SEED = Number(process.env['TMR_FUZZ_SEED'] ?? 0x7a3c_0001) >>> 0;
const replay = `TMR_FUZZ_SEED=${FUZZ_SEED} npx vitest run test/protocol/codec.test.ts`;

/** A fixed pool of valid messages (fixed seed) for the fuzzers. */
const POOL: Message[] = fc.sample(anyMessage, { numRuns: 300, seed: 42 });
const fromPool: MessageSource = (prng) => pick(prng, POOL);

// ---------------------------------------------------------------------------------------------

describe('encodeMessagePayload: exact RFC 8949 bytes', () => {
  // Heads: major type in the top 3 bits, then the argument: 0..23 inline, 0x18 + 1 byte,
  // 0x19 + 2 bytes, 0x1a + 4 bytes (big-endian). Negative n is major 1 with argument -1 - n.
  const golden: [Message, string][] = [
    [
      {
        kind: 'hello',
        protocolVersion: 2,
        replicaIndex: 2,
        lawName: 'pid-q16',
        lawVersion: 2,
        inputCount: 2,
        outputCount: 2,
        lawHash: 0xdeadbeef,
        lawParams: [65536, -3, 1000, 5000],
      },
      // array(9), 0, 2, 2, text(7) = 0x67 "pid-q16", 2, 2, 2, 0x1a deadbeef,
      // array(4), 0x1a 00010000 (65536), 0x22 (-3), 0x19 03e8 (1000), 0x19 1388 (5000)
      '89 00 02 02 67 7069642d713136 02 02 02 1adeadbeef 84 1a00010000 22 1903e8 191388',
    ],
    [
      { kind: 'hello', protocolVersion: 2, replicaIndex: 0, lawName: 'tank', lawVersion: 1, inputCount: 3, outputCount: 3, lawHash: 24, lawParams: [] },
      // A law without parameters sends an empty array (0x80); 24 is the first value needing 0x18.
      '89 00 02 00 64 74616e6b 01 03 03 1818 80',
    ],
    [
      { kind: 'helloAck', protocolVersion: 2, replicaIndex: 2, implementation: 'node-replica/0.1.0', lawName: 'tank', lawVersion: 1, lawHash: 0xdeadbeef },
      // array(7), 1, 2, 2, text(18) = 0x72 "node-replica/0.1.0", text(4) = 0x64 "tank", 1, 0x1a deadbeef
      '87 01 02 02 72 6e6f64652d7265706c6963612f302e312e30 64 74616e6b 01 1adeadbeef',
    ],
    [{ kind: 'refuse', reason: 3 }, '82 02 03'],
    // RFC 8949 Appendix A: 7 = 07, -5 = 24, 1000 = 1903e8.
    [{ kind: 'tick', tick: 7, inputs: [-5, 1000] }, '83 03 07 82 24 1903e8'],
    // A tank tick: level setpoint 1000 mm, level 987 mm (0x3db), float switch wet.
    [{ kind: 'tick', tick: 7, inputs: [1000, 987, 1] }, '83 03 07 83 1903e8 1903db 01'],
    [
      { kind: 'output', tick: 7, outputs: [-1, 24, -25], stateDigest: 0xffff_ffff },
      // -1 = 0x20; 24 needs one extra byte: 18 18; -25 -> argument 24: 38 18; uint32 max: 1a ffffffff
      '84 04 07 83 20 1818 3818 1affffffff',
    ],
    [{ kind: 'heartbeat', lastTick: 0, stateDigest: 65536 }, '83 05 00 1a00010000'],
    [{ kind: 'stateRequest', tick: 23 }, '82 06 17'],
    [
      { kind: 'state', tick: 256, stateBytes: fromHex('000102ff'), stateDigest: 1 },
      // 256 = 19 0100; bytes(4) = 0x44 (major 2, plain: no tag 64)
      '84 07 190100 44 000102ff 01',
    ],
    [
      { kind: 'error', code: 1, detail: 'tick: é' },
      // "tick: é" is 8 UTF-8 bytes (é = c3 a9): text(8) = 0x68
      '83 08 01 68 7469636b3a20c3a9',
    ],
    [
      { kind: 'inject', fault: 6, durationTicks: 0, param: -0x8000_0000 },
      // -2^31 -> argument 2^31 - 1: 3a 7fffffff
      '84 09 06 00 3a7fffffff',
    ],
  ];

  it('covers every message kind', () => {
    expect(new Set(golden.map(([m]) => m.kind))).toEqual(new Set(KINDS));
  });

  it.each(golden)('%o', (message, hex) => {
    const payload = encodeMessagePayload(message);
    expect(toHex(payload)).toBe(toHex(fromHex(hex)));
    expect(decodeMessagePayload(payload)).toEqual({ ok: true, message });
    const frame = encodeMessage(message);
    expect(decodeFrame(body(frame))).toEqual({ ok: true, payload });
  });

  it('frames the payload: tick golden frame (CRC from zlib)', () => {
    const frame = encodeMessage({ kind: 'tick', tick: 7, inputs: [-5, 1000] });
    expect(toHex(frame)).toBe('0d83030782241903e8980d06e600');
  });

  it('-0 is sent as the integer 0', () => {
    const zero = encodeMessagePayload({ kind: 'tick', tick: 0, inputs: [0, 0] });
    expect(encodeMessagePayload({ kind: 'tick', tick: -0, inputs: [-0, -0] })).toEqual(zero);
    expect(toHex(zero)).toBe('83030082' + '0000');
  });

  it('an Int32Array of inputs (what the runtime holds) encodes as the same plain array, decoded as numbers', () => {
    const plain = encodeMessagePayload({ kind: 'tick', tick: 9, inputs: [1, -2, 300] });
    expect(toHex(plain)).toBe(toHex(fromHex('83 03 09 83 01 21 19012c')));
    expect(encodeMessagePayload({ kind: 'tick', tick: 9, inputs: Int32Array.of(1, -2, 300) })).toEqual(plain);
    expect(decodeMessagePayload(plain)).toEqual({ ok: true, message: { kind: 'tick', tick: 9, inputs: [1, -2, 300] } });
  });

  it('a Buffer or an offset view as stateBytes encodes as the same plain byte string', () => {
    const backing = Uint8Array.from([9, 9, 1, 2, 3, 9]);
    const plain = encodeMessagePayload({ kind: 'state', tick: 1, stateBytes: Uint8Array.of(1, 2, 3), stateDigest: 2 });
    expect(toHex(plain)).toBe(toHex(fromHex('84 07 01 43 010203 02')));
    expect(encodeMessagePayload({ kind: 'state', tick: 1, stateBytes: backing.subarray(2, 5), stateDigest: 2 })).toEqual(plain);
    expect(encodeMessagePayload({ kind: 'state', tick: 1, stateBytes: Buffer.from([1, 2, 3]), stateDigest: 2 })).toEqual(plain);
  });

  it('largest message of each bounded kind fits and round-trips', () => {
    const big: Message[] = [
      {
        kind: 'hello',
        protocolVersion: 0xffff,
        replicaIndex: 15,
        lawName: '€'.repeat(8),
        lawVersion: 0xffff,
        inputCount: LIMITS.inputChannelsMax,
        outputCount: LIMITS.outputChannelsMax,
        lawHash: 0xffff_ffff,
        lawParams: new Array<number>(8).fill(-0x8000_0000),
      },
      { kind: 'helloAck', protocolVersion: 0xffff, replicaIndex: 15, implementation: '😀'.repeat(8), lawName: 'x'.repeat(24), lawVersion: 0xffff, lawHash: 0xffff_ffff },
      { kind: 'tick', tick: 0xffff_ffff, inputs: new Array<number>(8).fill(-0x8000_0000) },
      { kind: 'output', tick: 0xffff_ffff, outputs: new Array<number>(8).fill(0x7fff_ffff), stateDigest: 0xffff_ffff },
      { kind: 'state', tick: 0xffff_ffff, stateBytes: new Uint8Array(64).fill(0xff), stateDigest: 0xffff_ffff },
      { kind: 'error', code: 0xffff, detail: '€'.repeat(21) + 'x' },
    ];
    for (const message of big) expect(decodeMessage(body(encodeMessage(message)))).toEqual({ ok: true, message });
  });
});

describe('encodeMessage asserts on out-of-range fields (our bug)', () => {
  const HELLO = { kind: 'hello', protocolVersion: 2, replicaIndex: 0, lawName: 'tank', lawVersion: 1, inputCount: 3, outputCount: 3, lawHash: 0, lawParams: [] };
  const HELLO_ACK = { kind: 'helloAck', protocolVersion: 2, replicaIndex: 0, implementation: 'x', lawName: 'tank', lawVersion: 1, lawHash: 0 };
  const bad = [
    { kind: 'tick', tick: -1, inputs: [0, 0] },
    { kind: 'tick', tick: 0x1_0000_0000, inputs: [0, 0] },
    { kind: 'tick', tick: 1.5, inputs: [0, 0] },
    { kind: 'tick', tick: Number.NaN, inputs: [0, 0] },
    { kind: 'tick', tick: 1, inputs: [0x8000_0000, 0] },
    { kind: 'tick', tick: 1, inputs: [0, -0x8000_0001] },
    { kind: 'tick', tick: 1, inputs: [Number.POSITIVE_INFINITY, 0] },
    { kind: 'tick', tick: 1, inputs: [] },
    { kind: 'tick', tick: 1, inputs: new Array(LIMITS.inputChannelsMax + 1).fill(0) },
    { kind: 'tick', tick: 1, inputs: Float64Array.of(0.5) },
    { kind: 'tick', tick: 1, inputs: ['1'] },
    { kind: 'output', tick: 1, outputs: [], stateDigest: 0 },
    { kind: 'output', tick: 1, outputs: new Array(LIMITS.outputChannelsMax + 1).fill(0), stateDigest: 0 },
    { kind: 'output', tick: 1, outputs: [0.5], stateDigest: 0 },
    { kind: 'output', tick: 1, outputs: [1], stateDigest: -1 },
    { ...HELLO, replicaIndex: LIMITS.replicaIndexLimit },
    { ...HELLO, protocolVersion: 0x1_0000 },
    { ...HELLO, lawParams: new Array(LIMITS.lawParamsMax + 1).fill(0) },
    { ...HELLO, lawParams: ['1'] },
    { ...HELLO, lawName: 'x'.repeat(LIMITS.lawNameBytesMax + 1) },
    { ...HELLO, lawName: 'a\udc00' },
    { ...HELLO, lawName: 7 },
    { ...HELLO, lawVersion: 0x1_0000 },
    { ...HELLO, inputCount: LIMITS.inputChannelsMax + 1 },
    { ...HELLO, outputCount: LIMITS.outputChannelsMax + 1 },
    { ...HELLO, outputCount: -1 },
    { ...HELLO, lawHash: 0x1_0000_0000 },
    { ...HELLO_ACK, implementation: 'x'.repeat(33) },
    { ...HELLO_ACK, implementation: '€'.repeat(11) },
    { ...HELLO_ACK, implementation: 'a\ud800b' },
    { ...HELLO_ACK, lawName: '€'.repeat(9) },
    { ...HELLO_ACK, lawVersion: -1 },
    { ...HELLO_ACK, lawHash: -1 },
    { kind: 'state', tick: 1, stateBytes: new Uint8Array(LIMITS.stateBytesMax + 1), stateDigest: 0 },
    { kind: 'state', tick: 1, stateBytes: [1, 2, 3], stateDigest: 0 },
    { kind: 'error', code: 1, detail: 'x'.repeat(LIMITS.errorDetailBytesMax + 1) },
    { kind: 'refuse', reason: 0x1_0000 },
    { kind: 'inject', fault: 1, durationTicks: -1, param: 0 },
    { kind: 'inject', fault: 1, durationTicks: 0, param: 0x8000_0000 },
    { kind: 'bogus', tick: 1 },
  ];
  it.each(bad)('%o', (message) => {
    expect(() => encodeMessage(message as unknown as Message)).toThrow(TmrAssertionError);
  });

  it('the boundaries themselves are accepted', () => {
    expect(() => encodeMessage({ ...HELLO_ACK, implementation: 'x'.repeat(32), lawName: 'x'.repeat(24) } as Message)).not.toThrow();
    expect(() => encodeMessage({ ...HELLO, lawName: '€'.repeat(8), inputCount: 8, outputCount: 8 } as Message)).not.toThrow();
    expect(() => encodeMessage({ kind: 'tick', tick: 0xffff_ffff, inputs: new Array<number>(LIMITS.inputChannelsMax).fill(0x7fff_ffff) })).not.toThrow();
    expect(() => encodeMessage({ kind: 'error', code: 1, detail: '€'.repeat(21) + 'x' })).not.toThrow();
  });
});

describe('decodeMessage round trip', () => {
  it.each(KINDS)('%s (fast-check)', (kind) => {
    fc.assert(
      fc.property(ARBITRARY[kind] as fc.Arbitrary<Message>, (message) => {
        const frame = encodeMessage(message);
        expect(frame.length).toBeLessThanOrEqual(LIMITS.frameBytesMax);
        expect(decodeMessage(body(frame))).toEqual({ ok: true, message });
        const payload = encodeMessagePayload(message);
        expect(decodeMessagePayload(payload)).toEqual({ ok: true, message });
        // The fuzzers' wireOf helper agrees with the codec's layout (checked with a generic encoder).
        expect(toHex(standardEncoder.encode(wireOf(message)))).toBe(toHex(payload));
      }),
      { numRuns: 300 },
    );
  });

  it('decoded stateBytes is an owned plain Uint8Array, untouched by later decodes', () => {
    const stateBytes = Uint8Array.from({ length: 40 }, (_, i) => i + 1);
    const first = decodeMessage(body(encodeMessage({ kind: 'state', tick: 5, stateBytes, stateDigest: 6 })));
    decodeMessage(body(encodeMessage({ kind: 'state', tick: 5, stateBytes: new Uint8Array(40).fill(0xee), stateDigest: 6 })));
    expect(first.ok && first.message.kind === 'state' && first.message.stateBytes.constructor).toBe(Uint8Array);
    expect(first).toEqual({ ok: true, message: { kind: 'state', tick: 5, stateBytes, stateDigest: 6 } });
  });

  it('stale bytes from a longer previous payload never complete a truncated one', () => {
    for (const message of POOL.slice(0, 60)) {
      const payload = encodeMessagePayload(message);
      for (let length = 1; length < payload.length; length++) {
        decodeMessage(body(encodeFrame(payload))); // leaves the whole payload in the decoder's scratch
        const result = decodeMessage(body(encodeFrame(payload.subarray(0, length))));
        if (result.ok || result.error !== 'CBOR_INVALID') {
          throw new Error(`prefix ${length} of ${toHex(payload)}: ${JSON.stringify(result)}`);
        }
      }
    }
  });
});

describe('decodeMessage refuses a valid-CRC frame with the wrong schema', () => {
  const x65 = '58 41' + '00'.repeat(65);
  const cases: [string, string, DecodeError, string][] = [
    ['empty array', '80', 'UNKNOWN_TYPE', 'type'],
    ['a map', 'a1 01 02', 'NOT_AN_ARRAY', 'cbor'],
    ['an integer', '03', 'NOT_AN_ARRAY', 'cbor'],
    ['an indefinite array', '9f 03 07 82 24 01 ff', 'NOT_AN_ARRAY', 'indefinite'],
    ['a tagged array', 'c1 83 03 07 82 24 01', 'NOT_AN_ARRAY', 'tag'],
    ['unknown type 99', '83 18 63 07 82 24 01', 'UNKNOWN_TYPE', '99'],
    ['unknown type 10', '82 0a 01', 'UNKNOWN_TYPE', '10'],
    ['negative type', '83 20 07 82 24 01', 'UNKNOWN_TYPE', 'type'],
    ['float type 3.0', '83 f9 4200 07 82 24 01', 'UNKNOWN_TYPE', 'float'],
    ['text type', '83 61 33 07 82 24 01', 'UNKNOWN_TYPE', 'type'],
    ['tick with 2 elements', '82 03 07', 'BAD_FIELD_COUNT', 'tick'],
    ['tick with 4 elements', '84 03 07 82 24 01 01', 'BAD_FIELD_COUNT', 'tick'],
    ['tick with 4 elements, one a float', '84 03 07 82 24 01 f9 3c00', 'BAD_FIELD_COUNT', 'tick'],
    ['a v1 tick (inputs as two elements)', '84 03 07 24 01', 'BAD_FIELD_COUNT', 'tick'],
    ['tick.tick as float16 7.0 (decodes to the JS integer 7)', '83 03 f9 4700 82 24 01', 'BAD_FIELD', 'tick.tick'],
    ['tick.tick as float64 3.5', '83 03 fb 400c000000000000 82 24 01', 'BAD_FIELD', 'tick.tick'],
    ['tick.tick = -1', '83 03 20 82 24 01', 'BAD_FIELD', 'tick.tick'],
    ['tick.tick = 2^32 (64-bit head)', '83 03 1b 0000000100000000 82 24 01', 'BAD_FIELD', 'tick.tick'],
    ['tick.tick as bignum tag 2', '83 03 c2 41 07 82 24 01', 'BAD_FIELD', 'tick.tick'],
    ['tick.inputs holding 2^31', '83 03 07 82 1a 80000000 01', 'BAD_FIELD', 'tick.inputs'],
    ['tick.inputs holding -2^31 - 1', '83 03 07 82 01 3a 80000000', 'BAD_FIELD', 'tick.inputs'],
    ['tick.inputs holding 5 in two bytes', '83 03 07 82 18 05 01', 'BAD_FIELD', 'tick.inputs'],
    ['tick.inputs holding 255 in three bytes', '83 03 07 82 19 00ff 01', 'BAD_FIELD', 'tick.inputs'],
    ['tick.inputs holding 65535 in five bytes', '83 03 07 82 1a 0000ffff 01', 'BAD_FIELD', 'tick.inputs'],
    ['tick.inputs holding true', '83 03 07 82 f5 01', 'BAD_FIELD', 'tick.inputs'],
    ['tick.inputs holding null', '83 03 07 82 f6 01', 'BAD_FIELD', 'tick.inputs'],
    ['tick.inputs holding undefined', '83 03 07 82 f7 01', 'BAD_FIELD', 'tick.inputs'],
    ['tick.inputs holding "A"', '83 03 07 82 61 41 01', 'BAD_FIELD', 'tick.inputs'],
    ['tick.inputs holding {}', '83 03 07 82 a0 01', 'BAD_FIELD', 'tick.inputs'],
    ['tick.inputs holding an array', '83 03 07 82 81 01 01', 'BAD_FIELD', 'tick.inputs'],
    ['tick.inputs empty', '83 03 07 80', 'BAD_FIELD', 'tick.inputs'],
    ['tick.inputs of 9', '83 03 07 89 010101010101010101', 'BAD_FIELD', 'tick.inputs'],
    ['tick.inputs as an integer', '83 03 07 01', 'BAD_FIELD', 'tick.inputs'],
    ['tick.inputs as bytes', '83 03 07 42 0101', 'BAD_FIELD', 'tick.inputs'],
    ['tick.inputs indefinite', '83 03 07 9f 01 ff', 'BAD_FIELD', 'tick.inputs'],
    ['output.outputs empty', '84 04 07 80 01', 'BAD_FIELD', 'output.outputs'],
    ['output.outputs of 9', '84 04 07 89 010101010101010101 01', 'BAD_FIELD', 'output.outputs'],
    ['output.outputs holding text', '84 04 07 81 61 41 01', 'BAD_FIELD', 'output.outputs'],
    ['output.outputs holding a float', '84 04 07 81 f9 3c00 01', 'BAD_FIELD', 'output.outputs'],
    ['output.outputs holding 2^31', '84 04 07 81 1a 80000000 01', 'BAD_FIELD', 'output.outputs'],
    ['output.outputs indefinite', '84 04 07 9f 01 ff 01', 'BAD_FIELD', 'output.outputs'],
    ['output.outputs as an integer', '84 04 07 01 01', 'BAD_FIELD', 'output.outputs'],
    ['output.stateDigest as Date tag 1', '84 04 07 81 01 c1 00', 'BAD_FIELD', 'output.stateDigest'],
    ['state.stateBytes of 65', `84 07 01 ${x65} 01`, 'BAD_FIELD', 'state.stateBytes'],
    ['state.stateBytes as text', '84 07 01 63 616263 01', 'BAD_FIELD', 'state.stateBytes'],
    ['state.stateBytes with tag 64', '84 07 01 d8 40 43 010203 01', 'BAD_FIELD', 'state.stateBytes'],
    ['state.stateBytes as array', '84 07 01 83 01 02 03 01', 'BAD_FIELD', 'state.stateBytes'],
    ['state.stateBytes indefinite', '84 07 01 5f 41 01 ff 01', 'BAD_FIELD', 'state.stateBytes'],
    // helloAck: [1, protocolVersion 2, replicaIndex, implementation, lawName "tank", lawVersion 1, lawHash]
    ['helloAck.replicaIndex = 16', '87 01 02 10 61 78 64 74616e6b 01 00', 'BAD_FIELD', 'helloAck.replicaIndex'],
    ['helloAck.implementation of 33 bytes', `87 01 02 02 78 21 ${'78'.repeat(33)} 64 74616e6b 01 00`, 'BAD_FIELD', 'helloAck.implementation'],
    ['helloAck.implementation invalid UTF-8', '87 01 02 02 62 c3 28 64 74616e6b 01 00', 'BAD_FIELD', 'helloAck.implementation'],
    ['helloAck.implementation encoded surrogate', '87 01 02 02 63 eda080 64 74616e6b 01 00', 'BAD_FIELD', 'helloAck.implementation'],
    ['helloAck.lawName of 25 bytes', `87 01 02 02 61 78 78 19 ${'61'.repeat(25)} 01 00`, 'BAD_FIELD', 'helloAck.lawName'],
    ['helloAck.lawName as bytes', '87 01 02 02 61 78 44 74616e6b 01 00', 'BAD_FIELD', 'helloAck.lawName'],
    ['helloAck.lawVersion = 65536', '87 01 02 02 61 78 64 74616e6b 1a 00010000 00', 'BAD_FIELD', 'helloAck.lawVersion'],
    ['helloAck.lawHash = 2^32', '87 01 02 02 61 78 64 74616e6b 01 1b 0000000100000000', 'BAD_FIELD', 'helloAck.lawHash'],
    ['a v1 helloAck (6 elements, law id)', '86 01 01 02 61 78 01 00', 'BAD_FIELD_COUNT', 'helloAck'],
    // hello: [0, protocolVersion 2, replicaIndex 0, lawName "tank", lawVersion 1, inputCount 3, outputCount 3, lawHash 0, lawParams]
    ['hello.protocolVersion = 65536', '89 00 1a 00010000 00 64 74616e6b 01 03 03 00 80', 'BAD_FIELD', 'hello.protocolVersion'],
    ['hello.lawName of 25 bytes', `89 00 02 00 78 19 ${'61'.repeat(25)} 01 03 03 00 80`, 'BAD_FIELD', 'hello.lawName'],
    ['hello.lawName as an integer', '89 00 02 00 01 01 03 03 00 80', 'BAD_FIELD', 'hello.lawName'],
    ['hello.lawName invalid UTF-8', '89 00 02 00 62 c3 28 01 03 03 00 80', 'BAD_FIELD', 'hello.lawName'],
    ['hello.inputCount = 9', '89 00 02 00 64 74616e6b 01 09 03 00 80', 'BAD_FIELD', 'hello.inputCount'],
    ['hello.outputCount = 9', '89 00 02 00 64 74616e6b 01 03 09 00 80', 'BAD_FIELD', 'hello.outputCount'],
    ['hello.outputCount = -1', '89 00 02 00 64 74616e6b 01 03 20 00 80', 'BAD_FIELD', 'hello.outputCount'],
    ['hello.lawHash = -1', '89 00 02 00 64 74616e6b 01 03 03 20 80', 'BAD_FIELD', 'hello.lawHash'],
    ['hello.lawParams of 9', '89 00 02 00 64 74616e6b 01 03 03 00 89 000000000000000000', 'BAD_FIELD', 'hello.lawParams'],
    ['hello.lawParams nested', '89 00 02 00 64 74616e6b 01 03 03 00 81 80', 'BAD_FIELD', 'hello.lawParams'],
    ['a v1 hello (5 elements, law id)', '85 00 01 00 01 80', 'BAD_FIELD_COUNT', 'hello'],
    ['error.detail of 65 bytes', `83 08 01 78 41 ${'61'.repeat(65)}`, 'BAD_FIELD', 'error.detail'],
    ['refuse.reason = 65536', '82 02 1a 00010000', 'BAD_FIELD', 'refuse.reason'],
    ['inject.param = -2^31 - 1', '84 09 01 00 3a 80000000', 'BAD_FIELD', 'inject.param'],
    ['bytes after the array', '83 03 07 81 24 00', 'CBOR_INVALID', 'after'],
    ['truncated array', '83 03 07', 'CBOR_INVALID', 'truncated'],
    ['truncated inner array', '83 03 07 82 24', 'CBOR_INVALID', 'truncated'],
    ['truncated head', '83 03 07 81 19 03', 'CBOR_INVALID', 'truncated'],
    ['truncated text', '83 08 01 65 6162', 'CBOR_INVALID', 'truncated'],
    ['reserved additional information', '83 03 07 81 1c', 'CBOR_INVALID', 'reserved'],
    ['stray break', '83 03 07 ff', 'CBOR_INVALID', 'break'],
    ['indefinite-length integer', '83 03 07 81 1f', 'CBOR_INVALID', 'indefinite'],
  ];

  it.each(cases)('%s -> %s', (_name, hex, error, detailPart) => {
    const payload = fromHex(hex);
    const expected = { ok: false, error, detail: expect.stringContaining(detailPart) as unknown };
    expect(decodeMessage(body(encodeFrame(payload)))).toEqual(expected);
    expect(decodeMessagePayload(payload)).toEqual(expected);
  });

  it('a frame-level refusal comes through with its own code', () => {
    const frame = body(encodeMessage({ kind: 'stateRequest', tick: 1 })).slice();
    frame[2] = (frame[2] as number) ^ 0x40;
    expect(decodeMessage(frame)).toMatchObject({ ok: false, error: 'CRC_MISMATCH' });
    expect(decodeMessage(new Uint8Array(0))).toMatchObject({ ok: false, error: 'EMPTY' });
  });
});

// ---------------------------------------------------------------------------------------------
// Fuzzing.

/** Checks one decode result; returns the error code, or 'ok'. Throws (with the replay line) on a violation. */
function checkDecode(input: Uint8Array, result: DecodeResult, what: string): DecodeError | 'ok' {
  if (result.ok) {
    // Anything accepted must be exactly our own canonical encoding of what was decoded.
    const frame = decodeFrame(input);
    const reencoded = encodeMessagePayload(result.message);
    if (!frame.ok || !sameBytes(frame.payload, reencoded)) {
      throw new Error(`${what}: accepted non-canonical input ${toHex(input)}\nreplay: ${replay}`);
    }
    return 'ok';
  }
  if (!DECODE_ERRORS.includes(result.error) || typeof result.detail !== 'string' || result.detail.length === 0) {
    throw new Error(`${what}: bad refusal ${JSON.stringify(result)} for ${toHex(input)}\nreplay: ${replay}`);
  }
  return result.error;
}

function decodeOrReport(input: Uint8Array, what: string): DecodeResult {
  try {
    return decodeMessage(input);
  } catch (error) {
    throw new Error(`${what}: decodeMessage threw ${String(error)} on ${toHex(input)}\nreplay: ${replay}`);
  }
}

describe('decodeMessage never throws and accepts only canonical messages (fuzz)', () => {
  const generators: [string, number, (prng: Prng) => Uint8Array, readonly (DecodeError | 'ok')[]][] = [
    ['random bytes', 25_000, (prng) => Uint8Array.from(randomBytes(prng, prng.nextBelow(300))), ['COBS_INVALID', 'TOO_LONG']],
    [
      'mutated valid frames',
      25_000,
      (prng) => {
        const bytes = [...body(encodeMessage(pick(prng, POOL)))];
        for (let edits = 1 + prng.nextBelow(3); edits > 0; edits--) mutate(prng, bytes, [0x00, 0x01, 0xff]);
        return Uint8Array.from(bytes);
      },
      ['CRC_MISMATCH', 'COBS_INVALID', 'TOO_SHORT', 'EMPTY', 'ok'],
    ],
    [
      'valid CRC around mutated CBOR',
      30_000,
      (prng) => body(encodeFrame(mutatedPayload(prng, fromPool))),
      ['CBOR_INVALID', 'NOT_AN_ARRAY', 'UNKNOWN_TYPE', 'BAD_FIELD_COUNT', 'BAD_FIELD', 'ok'],
    ],
    [
      'valid CRC around near-schema CBOR',
      30_000,
      (prng) => {
        const payload = nearSchemaPayload(prng, fromPool);
        return payload === null ? Uint8Array.from(randomBytes(prng, 8)) : body(encodeFrame(payload));
      },
      ['NOT_AN_ARRAY', 'UNKNOWN_TYPE', 'BAD_FIELD_COUNT', 'BAD_FIELD', 'ok'],
    ],
    [
      'valid CRC around random bytes',
      5_000,
      (prng) => body(encodeFrame(Uint8Array.from(randomBytes(prng, 1 + prng.nextBelow(LIMITS.payloadBytesMax))))),
      ['CBOR_INVALID', 'NOT_AN_ARRAY', 'UNKNOWN_TYPE'],
    ],
  ];

  it.each(generators)('%s (%i inputs)', (name, count, generate, reaches) => {
    const prng = new Prng(FUZZ_SEED ^ name.length);
    const seen = new Map<string, number>();
    for (let i = 0; i < count; i++) {
      const input = generate(prng);
      const code = checkDecode(input, decodeOrReport(input, `${name} #${i}`), `${name} #${i}`);
      seen.set(code, (seen.get(code) ?? 0) + 1);
    }
    // The generator must reach the layer it targets, or the test proves little.
    for (const code of reaches) expect(seen.get(code) ?? 0, `${code} in ${[...seen].join(' ')}`).toBeGreaterThan(0);
  });
});

describe('no corrupt frame is accepted', () => {
  it('a mutated frame is refused or decodes to exactly the original message (fuzz)', () => {
    const prng = new Prng(FUZZ_SEED ^ 0x5eed);
    let refusedCount = 0;
    const count = 30_000;
    for (let i = 0; i < count; i++) {
      const original = pick(prng, POOL);
      const bytes = [...body(encodeMessage(original))];
      for (let edits = 1 + prng.nextBelow(4); edits > 0; edits--) mutate(prng, bytes, [0x00, 0x01, 0xfe, 0xff]);
      const input = Uint8Array.from(bytes);
      const result = decodeOrReport(input, `mutation #${i}`);
      if (!result.ok) {
        refusedCount++;
        continue;
      }
      if (!sameBytes(encodeMessagePayload(result.message), encodeMessagePayload(original))) {
        throw new Error(`mutation #${i} of ${JSON.stringify(original)} accepted as ${JSON.stringify(result.message)}\nreplay: ${replay}`);
      }
    }
    // Identity edits (a flip undone, a swap of equal bytes) are rare; nearly all must be refused.
    expect(refusedCount).toBeGreaterThan(count * 0.95);
  });

  it('fast-check: any message, any set of bit flips', () => {
    fc.assert(
      fc.property(anyMessage, fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), (message, flips) => {
        const frame = body(encodeMessage(message)).slice();
        for (const flip of flips) {
          const bit = flip % (frame.length * 8);
          frame[bit >> 3] = (frame[bit >> 3] as number) ^ (1 << (bit & 7));
        }
        const result = decodeMessage(frame);
        if (result.ok) expect(result.message).toEqual(message);
      }),
      { numRuns: 3000 },
    );
  });

  it('with the CRC recomputed, a corrupted payload can decode to another message: the CRC is what protects', () => {
    const payload = encodeMessagePayload({ kind: 'tick', tick: 7, inputs: [-5, 1000] });
    const corrupted = payload.slice();
    corrupted[2] = 0x08; // tick 7 -> 8
    expect(decodeMessage(body(encodeFrame(corrupted)))).toEqual({
      ok: true,
      message: { kind: 'tick', tick: 8, inputs: [-5, 1000] },
    });
  });
});
