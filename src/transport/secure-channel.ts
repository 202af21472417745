/**
 * Authenticated frames for links that leave the host (TCP): a handshake that proves both ends hold
 * the same pre-shared key and agrees a session, then every frame sealed with HMAC-SHA256 under a
 * per-direction session key and a per-direction frame counter. Pure: bytes in, bytes or a named
 * refusal out; nonces are given by the caller (the shell draws them from crypto.randomBytes, tests
 * choose them). PROTOCOL.md, "Authenticated links", is the wire format in prose.
 *
 * Handshake (each message one COBS frame ending in 0x00, never sealed):
 *
 *   voter   -> replica  OPEN    magic, version, voter nonce (16), voter key id (8)
 *   replica -> voter    PROVE   magic, version, replica nonce (16), replica key id (8),
 *                               HMAC(K, "tmr-auth-1 replica" ‖ vn ‖ rn)
 *   voter   -> replica  CONFIRM magic, version, voter epoch (uint32 LE),
 *                               HMAC(K, "tmr-auth-1 voter" ‖ vn ‖ rn ‖ epoch)
 *   replica -> voter    ACCEPT  magic, version            (or REFUSE magic, version, reason)
 *
 * The replica proves the key first, so a voter never sends a proof to a peer without the key.
 * The voter's epoch is its fencing token in a redundant voter set (0: a voter alone); the proof
 * covers it, so nobody without the key can claim one.
 * A key id is the first 8 bytes of SHA-256("tmr key id" ‖ K): it names a key in error messages
 * (two ends with different keys say which each holds) without revealing it.
 *
 * Sealed frame: COBS(body ‖ counter (uint32 LE) ‖ HMAC(Kdir, counter ‖ body)) ‖ 0x00, where body is
 * the inner frame without its delimiter (0x00-free: it is itself COBS), Kdir =
 * HMAC(K, "tmr-auth-1 voter->replica" ‖ vn ‖ rn) or the replica->voter one. A receiver takes a
 * counter only if it is above every counter it has taken this session: a replayed frame, from
 * this session or another (other nonces, other keys), is refused. A counter that skips ahead
 * (frames removed on the way) is taken and the gap counted.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { assert, fail } from '../core/assert.js';
import { cobsDecode, cobsEncode, cobsEncodedSizeMax } from '../protocol/cobs.js';
import { LIMITS } from '../protocol/messages.js';

export const AUTH_VERSION = 1;
const MAGIC = [0x54, 0x4d, 0x52, 0x41]; // "TMRA"
export const NONCE_BYTES = 16;
export const KEY_ID_BYTES = 8;
export const TAG_BYTES = 32;
export const COUNTER_BYTES = 4;
export const EPOCH_BYTES = 4;
/** Bytes a pre-shared key has at least (256 bits) and at most. */
export const KEY_BYTES_MIN = 32;
export const KEY_BYTES_MAX = 256;
/** The largest inner frame body (a protocol frame without its delimiter). */
export const INNER_BODY_BYTES_MAX = LIMITS.frameBytesMax - 1;
/** Bytes of a sealed frame before COBS: body, counter, tag. */
const SEALED_DECODED_BYTES_MAX = INNER_BODY_BYTES_MAX + COUNTER_BYTES + TAG_BYTES;
/** Bytes a sealed frame has on the wire without its delimiter, at most: what a receiver's splitter allows. */
export const SEALED_BODY_BYTES_MAX = cobsEncodedSizeMax(SEALED_DECODED_BYTES_MAX);
/** The last counter a session may use: a link that sends more frames ends its session (at 200 Hz both ways, after 248 days). */
export const COUNTER_MAX = 0xffff_ffff;

const HANDSHAKE = { open: 1, prove: 2, confirm: 3, accept: 4, refuse: 5 } as const;
/** Why a replica refused a voter at the handshake (REFUSE's reason byte). */
export const AUTH_REFUSAL = { WRONG_KEY: 1, VERSION: 2, MALFORMED: 3 } as const;
export type AuthRefusal = keyof typeof AUTH_REFUSAL;

/** Why a sealed frame was refused: counted, never delivered. */
export type SealError =
  /** Not valid COBS, or too short to hold a counter and a tag, or longer than any sealed frame. */
  | 'MALFORMED'
  /** The tag does not match: another key, another session, or bytes changed on the way. */
  | 'BAD_TAG'
  /** A counter at or below one already taken this session: a replay. */
  | 'REPLAYED';

const label = (text: string): Buffer => Buffer.from(text, 'utf8');

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('sha256', key);
  for (const part of parts) h.update(part);
  return h.digest();
}

/** The key id: names a key in messages without revealing it. */
export function keyId(key: Uint8Array): Uint8Array {
  return createHash('sha256').update(label('tmr key id')).update(key).digest().subarray(0, KEY_ID_BYTES);
}

export function keyIdHex(key: Uint8Array): string {
  return Buffer.from(keyId(key)).toString('hex');
}

function frameOf(decoded: Uint8Array): Uint8Array {
  const out = new Uint8Array(cobsEncodedSizeMax(decoded.length) + 1);
  const bytes = cobsEncode(decoded, out);
  out[bytes] = 0;
  return out.slice(0, bytes + 1);
}

function decodeBody(body: Uint8Array): Uint8Array | null {
  if (body.length === 0 || body.length > SEALED_BODY_BYTES_MAX) return null;
  const out = new Uint8Array(body.length);
  const bytes = cobsDecode(body, out);
  return bytes < 0 ? null : out.subarray(0, bytes);
}

type HandshakeMessage =
  | { readonly type: 'open'; readonly version: number; readonly nonce: Uint8Array; readonly keyId: Uint8Array }
  | { readonly type: 'prove'; readonly version: number; readonly nonce: Uint8Array; readonly keyId: Uint8Array; readonly proof: Uint8Array }
  | { readonly type: 'confirm'; readonly version: number; readonly epoch: number; readonly proof: Uint8Array }
  | { readonly type: 'accept'; readonly version: number }
  | { readonly type: 'refuse'; readonly version: number; readonly reason: AuthRefusal | 'UNKNOWN' };

function handshakeFrame(type: keyof typeof HANDSHAKE, ...fields: Uint8Array[]): Uint8Array {
  return frameOf(Uint8Array.from([...MAGIC, HANDSHAKE[type], AUTH_VERSION, ...fields.flatMap((f) => [...f])]));
}

/** Reads a handshake frame body (without its delimiter); null if it is not one. */
function readHandshake(body: Uint8Array): HandshakeMessage | null {
  const bytes = decodeBody(body);
  if (bytes === null || bytes.length < 6 || MAGIC.some((m, i) => bytes[i] !== m)) return null;
  const type = bytes[4] as number;
  const version = bytes[5] as number;
  const rest = bytes.subarray(6);
  switch (type) {
    case HANDSHAKE.open:
      if (rest.length !== NONCE_BYTES + KEY_ID_BYTES) return version === AUTH_VERSION ? null : { type: 'open', version, nonce: new Uint8Array(0), keyId: new Uint8Array(0) };
      return { type: 'open', version, nonce: rest.slice(0, NONCE_BYTES), keyId: rest.slice(NONCE_BYTES) };
    case HANDSHAKE.prove:
      if (rest.length !== NONCE_BYTES + KEY_ID_BYTES + TAG_BYTES) return null;
      return { type: 'prove', version, nonce: rest.slice(0, NONCE_BYTES), keyId: rest.slice(NONCE_BYTES, NONCE_BYTES + KEY_ID_BYTES), proof: rest.slice(NONCE_BYTES + KEY_ID_BYTES) };
    case HANDSHAKE.confirm:
      if (rest.length !== EPOCH_BYTES + TAG_BYTES) return null;
      return { type: 'confirm', version, epoch: readCounter(rest.subarray(0, EPOCH_BYTES)), proof: rest.slice(EPOCH_BYTES) };
    case HANDSHAKE.accept:
      return rest.length === 0 ? { type: 'accept', version } : null;
    case HANDSHAKE.refuse: {
      if (rest.length !== 1) return null;
      const reason = (Object.keys(AUTH_REFUSAL) as AuthRefusal[]).find((k) => AUTH_REFUSAL[k] === rest[0]) ?? 'UNKNOWN';
      return { type: 'refuse', version, reason };
    }
    default:
      return null;
  }
}

function epochBytes(epoch: number): Uint8Array {
  const out = new Uint8Array(EPOCH_BYTES);
  writeCounter(out, epoch);
  return out;
}

function proofs(key: Uint8Array, voterNonce: Uint8Array, replicaNonce: Uint8Array, epoch: number): { replica: Buffer; voter: Buffer; toReplica: Buffer; toVoter: Buffer } {
  return {
    replica: hmac(key, label('tmr-auth-1 replica'), voterNonce, replicaNonce),
    voter: hmac(key, label('tmr-auth-1 voter'), voterNonce, replicaNonce, epochBytes(epoch)),
    toReplica: hmac(key, label('tmr-auth-1 voter->replica'), voterNonce, replicaNonce),
    toVoter: hmac(key, label('tmr-auth-1 replica->voter'), voterNonce, replicaNonce),
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function checkKey(key: Uint8Array): void {
  assert(key.length >= KEY_BYTES_MIN && key.length <= KEY_BYTES_MAX, `pre-shared key of ${key.length} bytes (checked when read)`);
}

function checkNonce(nonce: Uint8Array): void {
  assert(nonce.length === NONCE_BYTES, `nonce of ${nonce.length} bytes`);
}

/** How a handshake step ended: go on (maybe with a frame to send), done with a session, or failed with a one-line reason. */
export type HandshakeStep =
  | { readonly kind: 'continue'; readonly send: Uint8Array }
  | { readonly kind: 'session'; readonly session: SealedSession; readonly send?: Uint8Array; readonly peerEpoch: number }
  | { readonly kind: 'failed'; readonly reason: string; readonly refusal: AuthRefusal | 'MALFORMED' | 'REFUSED'; readonly send?: Uint8Array };

/** The voter's side of the handshake. */
export class VoterHandshake {
  readonly #key: Uint8Array;
  readonly #nonce: Uint8Array;
  #replicaNonce: Uint8Array | null = null;
  #state: 'opened' | 'confirmed' | 'done' = 'opened';
  readonly #epoch: number;

  /** `epoch`: this voter's fencing token in a redundant set, 0 for a voter alone. */
  constructor(key: Uint8Array, nonce: Uint8Array, epoch = 0) {
    checkKey(key);
    checkNonce(nonce);
    assert(Number.isInteger(epoch) && epoch >= 0 && epoch <= 0xffff_ffff, `voter epoch ${epoch}`);
    this.#key = key;
    this.#nonce = nonce;
    this.#epoch = epoch;
  }

  /** The first frame to send. */
  open(): Uint8Array {
    return handshakeFrame('open', this.#nonce, keyId(this.#key));
  }

  /** The replica's frame (body without its delimiter). */
  receive(body: Uint8Array): HandshakeStep {
    if (this.#state === 'done') fail('VoterHandshake: frame after the handshake ended');
    const message = readHandshake(body);
    if (message === null) return { kind: 'failed', refusal: 'MALFORMED', reason: 'the peer does not speak tmr authenticated links (a malformed handshake frame)' };
    if (message.type === 'refuse') {
      this.#state = 'done';
      const why =
        message.reason === 'WRONG_KEY'
          ? `its key is not ours (ours ${keyIdHex(this.#key)})`
          : message.reason === 'VERSION'
            ? `it speaks another version of authenticated links (ours ${AUTH_VERSION})`
            : `reason ${message.reason}`;
      return { kind: 'failed', refusal: 'REFUSED', reason: `refused by the peer at the handshake: ${why}` };
    }
    if (message.version !== AUTH_VERSION) {
      this.#state = 'done';
      return { kind: 'failed', refusal: 'VERSION', reason: `the peer speaks authenticated links version ${message.version}, ours is ${AUTH_VERSION}` };
    }
    if (this.#state === 'opened' && message.type === 'prove') {
      const p = proofs(this.#key, this.#nonce, message.nonce, this.#epoch);
      if (!sameBytes(p.replica, message.proof)) {
        this.#state = 'done';
        return {
          kind: 'failed',
          refusal: 'WRONG_KEY',
          reason: `wrong key: the peer's proof does not match our key (the peer holds key ${Buffer.from(message.keyId).toString('hex')}, we hold ${keyIdHex(this.#key)})`,
        };
      }
      this.#replicaNonce = message.nonce;
      this.#state = 'confirmed';
      return { kind: 'continue', send: handshakeFrame('confirm', epochBytes(this.#epoch), p.voter) };
    }
    if (this.#state === 'confirmed' && message.type === 'accept') {
      this.#state = 'done';
      const p = proofs(this.#key, this.#nonce, this.#replicaNonce as Uint8Array, this.#epoch);
      return { kind: 'session', session: new SealedSession(p.toReplica, p.toVoter), peerEpoch: 0 };
    }
    this.#state = 'done';
    return { kind: 'failed', refusal: 'MALFORMED', reason: `unexpected handshake message ${message.type}` };
  }
}

/** The replica's side of the handshake. */
export class ReplicaHandshake {
  readonly #key: Uint8Array;
  readonly #nonce: Uint8Array;
  #voterNonce: Uint8Array | null = null;
  #state: 'waiting' | 'proved' | 'done' = 'waiting';

  constructor(key: Uint8Array, nonce: Uint8Array) {
    checkKey(key);
    checkNonce(nonce);
    this.#key = key;
    this.#nonce = nonce;
  }

  /** Why the handshake did not finish, when the voter closed the connection in the middle of it. */
  closedReason(): string {
    return this.#state === 'proved'
      ? `the voter closed the connection after our proof: it holds another key than ours (${keyIdHex(this.#key)}), or is not a tmr voter`
      : 'the voter closed the connection before the handshake';
  }

  receive(body: Uint8Array): HandshakeStep {
    if (this.#state === 'done') fail('ReplicaHandshake: frame after the handshake ended');
    const message = readHandshake(body);
    if (message === null) {
      this.#state = 'done';
      return { kind: 'failed', refusal: 'MALFORMED', reason: 'not a tmr authenticated link (a malformed handshake frame)', send: handshakeFrame('refuse', Uint8Array.of(AUTH_REFUSAL.MALFORMED)) };
    }
    if (message.version !== AUTH_VERSION) {
      this.#state = 'done';
      return { kind: 'failed', refusal: 'VERSION', reason: `speaks authenticated links version ${message.version}, ours is ${AUTH_VERSION}`, send: handshakeFrame('refuse', Uint8Array.of(AUTH_REFUSAL.VERSION)) };
    }
    if (this.#state === 'waiting' && message.type === 'open') {
      this.#voterNonce = message.nonce;
      this.#state = 'proved';
      const p = proofs(this.#key, message.nonce, this.#nonce, 0);
      return { kind: 'continue', send: handshakeFrame('prove', this.#nonce, keyId(this.#key), p.replica) };
    }
    if (this.#state === 'proved' && message.type === 'confirm') {
      this.#state = 'done';
      const p = proofs(this.#key, this.#voterNonce as Uint8Array, this.#nonce, message.epoch);
      if (!sameBytes(p.voter, message.proof)) {
        return { kind: 'failed', refusal: 'WRONG_KEY', reason: `wrong key: the voter's proof does not match our key (ours ${keyIdHex(this.#key)})`, send: handshakeFrame('refuse', Uint8Array.of(AUTH_REFUSAL.WRONG_KEY)) };
      }
      return { kind: 'session', session: new SealedSession(p.toVoter, p.toReplica), send: handshakeFrame('accept'), peerEpoch: message.epoch };
    }
    this.#state = 'done';
    return { kind: 'failed', refusal: 'MALFORMED', reason: `unexpected handshake message ${message.type}`, send: handshakeFrame('refuse', Uint8Array.of(AUTH_REFUSAL.MALFORMED)) };
  }
}

export interface SealedSessionStats {
  /** Frames refused: malformed, a tag that does not match, a replayed counter. */
  refused: number;
  refusedMalformed: number;
  refusedBadTag: number;
  refusedReplayed: number;
  /** Counters skipped by frames that were taken: frames that never arrived (removed on the way). */
  framesMissing: number;
}

/** An agreed session: seals what we send, opens what we receive. */
export class SealedSession {
  readonly stats: SealedSessionStats = { refused: 0, refusedMalformed: 0, refusedBadTag: 0, refusedReplayed: 0, framesMissing: 0 };
  #sendCounter = 0;
  /** The next counter we may take; anything below was taken or skipped. */
  #receiveNext = 0;
  readonly #scratch = new Uint8Array(SEALED_DECODED_BYTES_MAX);
  readonly #counter = new Uint8Array(COUNTER_BYTES);

  constructor(
    private readonly sendKey: Uint8Array,
    private readonly receiveKey: Uint8Array,
  ) {}

  /** Whether another frame may be sealed (false once COUNTER_MAX frames were sent). */
  get canSend(): boolean {
    return this.#sendCounter <= COUNTER_MAX;
  }

  /** Seals one inner frame (its 0x00 delimiter last, none before). Returns the sealed frame with its delimiter. */
  seal(frame: Uint8Array): Uint8Array {
    const bodyBytes = frame.length - 1;
    if (!(bodyBytes >= 1 && bodyBytes <= INNER_BODY_BYTES_MAX && frame[bodyBytes] === 0)) fail(`seal: not one frame of 1..${INNER_BODY_BYTES_MAX} bytes ending in 0x00 (${frame.length} bytes)`);
    if (!this.canSend) fail('seal: the session sent every counter (check canSend)');
    const body = frame.subarray(0, bodyBytes);
    writeCounter(this.#counter, this.#sendCounter);
    const tag = hmac(this.sendKey, this.#counter, body);
    const decoded = this.#scratch;
    decoded.set(body, 0);
    decoded.set(this.#counter, bodyBytes);
    decoded.set(tag, bodyBytes + COUNTER_BYTES);
    this.#sendCounter++;
    return frameOf(decoded.subarray(0, bodyBytes + COUNTER_BYTES + TAG_BYTES));
  }

  /** Opens one sealed frame (without its delimiter): the inner body (a fresh array), or why it is refused. */
  open(sealed: Uint8Array): Uint8Array | SealError {
    const decoded = sealed.length === 0 || sealed.length > SEALED_BODY_BYTES_MAX ? null : this.#decode(sealed);
    if (decoded === null || decoded.length < 1 + COUNTER_BYTES + TAG_BYTES) return this.#refuse('MALFORMED');
    const bodyBytes = decoded.length - COUNTER_BYTES - TAG_BYTES;
    const body = decoded.subarray(0, bodyBytes);
    const counterBytes = decoded.subarray(bodyBytes, bodyBytes + COUNTER_BYTES);
    const tag = decoded.subarray(bodyBytes + COUNTER_BYTES);
    if (!sameBytes(hmac(this.receiveKey, counterBytes, body), tag)) return this.#refuse('BAD_TAG');
    const counter = readCounter(counterBytes);
    if (counter < this.#receiveNext) return this.#refuse('REPLAYED');
    this.stats.framesMissing += counter - this.#receiveNext;
    this.#receiveNext = counter + 1;
    return body.slice();
  }

  #decode(sealed: Uint8Array): Uint8Array | null {
    const bytes = cobsDecode(sealed, this.#scratch);
    return bytes < 0 ? null : this.#scratch.subarray(0, bytes);
  }

  #refuse(error: SealError): SealError {
    this.stats.refused++;
    if (error === 'MALFORMED') this.stats.refusedMalformed++;
    else if (error === 'BAD_TAG') this.stats.refusedBadTag++;
    else this.stats.refusedReplayed++;
    return error;
  }
}

function writeCounter(out: Uint8Array, value: number): void {
  out[0] = value & 0xff;
  out[1] = (value >>> 8) & 0xff;
  out[2] = (value >>> 16) & 0xff;
  out[3] = (value >>> 24) & 0xff;
}

function readCounter(bytes: Uint8Array): number {
  return ((bytes[0] as number) | ((bytes[1] as number) << 8) | ((bytes[2] as number) << 16) | ((bytes[3] as number) << 24)) >>> 0;
}
