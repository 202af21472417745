/**
 * The actuator link of a redundant voter set (issue 19): between each voter and the actuator
 * server, over authenticated TCP (secure-channel.ts; only holders of the key get this far).
 * Each message is a CBOR array in one frame (frame.ts: CRC-32, COBS), the first element its type:
 *
 *   actuator -> voter  [1, tick, [inputs…]]                  this tick's sensed inputs (the tick clock)
 *   actuator -> voter  [2, epoch, tick, reason, followed]     your command was refused (1 STALE_EPOCH, 2 NOT_NEWER);
 *                                                             `followed` is the epoch the actuator follows
 *   voter -> actuator  [3, epoch, tick, primary, [commands…]] a voted command for `tick` (primary 1 or 0)
 *
 * The actuator's tick is the loop's tick: every voter forwards it to every replica, so the set
 * steps once per actuator tick whoever commands.
 */
import { Encoder } from 'cbor-x';
import { isInt32 as isInt32Number, isUint32 as isUint32Number } from '../core/assert.js';
import { decodeFrame, encodeFrame } from '../protocol/frame.js';
import { LIMITS } from '../protocol/messages.js';
import type { RefusalReason } from './arbiter.js';

export type ActuatorMessage =
  | { readonly kind: 'inputs'; readonly tick: number; readonly inputs: readonly number[] }
  | { readonly kind: 'refused'; readonly epoch: number; readonly tick: number; readonly reason: RefusalReason; readonly followed: number }
  | { readonly kind: 'command'; readonly epoch: number; readonly tick: number; readonly primary: boolean; readonly commands: readonly number[] };

const TYPE = { inputs: 1, refused: 2, command: 3 } as const;
const REASON: Readonly<Record<RefusalReason, number>> = { STALE_EPOCH: 1, NOT_NEWER: 2 };

const isInt32 = (v: unknown): v is number => typeof v === 'number' && isInt32Number(v);
const isUint32 = (v: unknown): v is number => typeof v === 'number' && isUint32Number(v);

const encoder = new Encoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false });

export function encodeActuatorMessage(message: ActuatorMessage): Uint8Array {
  let array: unknown[];
  switch (message.kind) {
    case 'inputs':
      array = [TYPE.inputs, message.tick, [...message.inputs]];
      break;
    case 'refused':
      array = [TYPE.refused, message.epoch, message.tick, REASON[message.reason], message.followed];
      break;
    case 'command':
      array = [TYPE.command, message.epoch, message.tick, message.primary ? 1 : 0, [...message.commands]];
      break;
  }
  return encodeFrame(encoder.encode(array) as Uint8Array);
}

function channels(value: unknown, max: number): number[] | null {
  if (!Array.isArray(value) || value.length > max || !value.every((v) => isInt32(v))) return null;
  return value as number[];
}

/** A received frame (without its delimiter): the message, or why it is refused (one line). */
export function decodeActuatorMessage(frame: Uint8Array): { ok: true; message: ActuatorMessage } | { ok: false; error: string } {
  const payload = decodeFrame(frame);
  if (!payload.ok) return { ok: false, error: payload.error };
  let value: unknown;
  try {
    value = encoder.decode(payload.payload);
  } catch {
    return { ok: false, error: 'CBOR_INVALID' };
  }
  if (!Array.isArray(value) || value.length === 0) return { ok: false, error: 'NOT_AN_ARRAY' };
  const [type, a, b, c, d] = value as unknown[];
  switch (type) {
    case TYPE.inputs: {
      const inputs = channels(b, LIMITS.inputChannelsMax);
      if (value.length !== 3 || !isUint32(a) || inputs === null) return { ok: false, error: 'BAD_INPUTS' };
      return { ok: true, message: { kind: 'inputs', tick: a, inputs } };
    }
    case TYPE.refused: {
      const reason = c === 1 ? 'STALE_EPOCH' : c === 2 ? 'NOT_NEWER' : null;
      if (value.length !== 5 || !isUint32(a) || !isUint32(b) || reason === null || !isUint32(d)) return { ok: false, error: 'BAD_REFUSED' };
      return { ok: true, message: { kind: 'refused', epoch: a, tick: b, reason, followed: d } };
    }
    case TYPE.command: {
      const commands = channels(d, LIMITS.outputChannelsMax);
      if (value.length !== 5 || !isUint32(a) || a === 0 || !isUint32(b) || (c !== 0 && c !== 1) || commands === null) return { ok: false, error: 'BAD_COMMAND' };
      return { ok: true, message: { kind: 'command', epoch: a, tick: b, primary: c === 1, commands } };
    }
    default:
      return { ok: false, error: 'UNKNOWN_TYPE' };
  }
}
