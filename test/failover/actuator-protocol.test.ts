/**
 * The actuator link's messages (src/failover/actuator-protocol.ts): every message survives the
 * round trip, and anything else is refused by name, never thrown.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeActuatorMessage, encodeActuatorMessage, type ActuatorMessage } from '../../src/failover/actuator-protocol.js';
import { encodeFrame } from '../../src/protocol/frame.js';

const body = (frame: Uint8Array): Uint8Array => frame.subarray(0, frame.length - 1);

describe('actuator link messages', () => {
  it('inputs, refusals and commands round-trip', () => {
    const messages: ActuatorMessage[] = [
      { kind: 'inputs', tick: 0, inputs: [0, -1, 2_147_483_647, -2_147_483_648] },
      { kind: 'inputs', tick: 0xffff_ffff, inputs: [] },
      { kind: 'refused', epoch: 17, tick: 400, reason: 'STALE_EPOCH', followed: 23 },
      { kind: 'refused', epoch: 23, tick: 401, reason: 'NOT_NEWER', followed: 23 },
      { kind: 'command', epoch: 23, tick: 402, primary: true, commands: [1500, -7] },
      { kind: 'command', epoch: 1, tick: 0, primary: false, commands: [0] },
    ];
    for (const m of messages) expect(decodeActuatorMessage(body(encodeActuatorMessage(m)))).toEqual({ ok: true, message: m });
  });

  it('refuses a command without an epoch, a bad field, an unknown type, and a frame that fails its CRC', () => {
    const command = body(encodeActuatorMessage({ kind: 'command', epoch: 3, tick: 1, primary: true, commands: [1] }));
    const broken = Uint8Array.from(command);
    broken[2] = broken[2]! ^ 0x01;
    expect(decodeActuatorMessage(broken).ok).toBe(false);
    // Hand-made CBOR: [3, 0, 1, 1, [1]] (epoch 0), [3, 3, 1, 2, [1]] (primary 2), [9] (unknown), [1, -1, []] (negative tick).
    for (const [cbor, error] of [
      [[0x85, 0x03, 0x00, 0x01, 0x01, 0x81, 0x01], 'BAD_COMMAND'],
      [[0x85, 0x03, 0x03, 0x01, 0x02, 0x81, 0x01], 'BAD_COMMAND'],
      [[0x81, 0x09], 'UNKNOWN_TYPE'],
      [[0x83, 0x01, 0x20, 0x80], 'BAD_INPUTS'],
      [[0x01], 'NOT_AN_ARRAY'],
    ] as const) {
      expect(decodeActuatorMessage(body(encodeFrame(Uint8Array.from(cbor))))).toEqual({ ok: false, error });
    }
  });

  it('random bytes are refused or decoded, never thrown (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), (bytes) => {
        const result = decodeActuatorMessage(body(encodeFrame(bytes)));
        expect(typeof result.ok).toBe('boolean');
      }),
      { numRuns: 2_000 },
    );
  });
});
