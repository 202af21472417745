/**
 * Authenticated frames (src/transport/secure-channel.ts), as pure functions: the handshake proves
 * the key both ways and names a wrong one by its id, never by its bytes; a sealed frame opens only
 * in its own session and direction, once; anything else is refused by name and counted.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cobsDecode, cobsEncode, cobsEncodedSizeMax } from '../../src/protocol/cobs.js';
import { encodeMessage } from '../../src/protocol/codec.js';
import { keyIdHex, NONCE_BYTES, ReplicaHandshake, SEALED_BODY_BYTES_MAX, SealedSession, VoterHandshake, type HandshakeStep } from '../../src/transport/secure-channel.js';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
const OTHER_KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 53 + 7) & 0xff);
const nonce = (seed: number): Uint8Array => Uint8Array.from({ length: NONCE_BYTES }, (_, i) => (seed * 31 + i * 7) & 0xff);
const body = (frame: Uint8Array): Uint8Array => frame.subarray(0, frame.length - 1);
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Runs both sides of the handshake to the end; returns each side's last step. */
function shake(voterKey: Uint8Array, replicaKey: Uint8Array, voterNonce = nonce(1), replicaNonce = nonce(2)): { voter: HandshakeStep; replica: HandshakeStep } {
  const voter = new VoterHandshake(voterKey, voterNonce);
  const replica = new ReplicaHandshake(replicaKey, replicaNonce);
  const proved = replica.receive(body(voter.open()));
  expect(proved.kind).toBe('continue');
  const confirmed = voter.receive(body(proved.send!));
  if (confirmed.kind !== 'continue') return { voter: confirmed, replica: proved };
  const accepted = replica.receive(body(confirmed.send));
  if (accepted.kind !== 'session') {
    const told = voter.receive(body(accepted.send!));
    return { voter: told, replica: accepted };
  }
  return { voter: voter.receive(body(accepted.send!)), replica: accepted };
}

function sessions(voterNonce = nonce(1), replicaNonce = nonce(2)): { voter: SealedSession; replica: SealedSession } {
  const { voter, replica } = shake(KEY, KEY, voterNonce, replicaNonce);
  if (voter.kind !== 'session' || replica.kind !== 'session') throw new Error(`handshake did not agree: ${JSON.stringify([voter.kind, replica.kind])}`);
  return { voter: voter.session, replica: replica.session };
}

const tick = (n: number): Uint8Array => encodeMessage({ kind: 'tick', tick: n, inputs: [n, -n] });

/** A sealed frame's body with one byte of its decoded content changed (still valid COBS): a forgery. */
function tampered(sealed: Uint8Array, at: number): Uint8Array {
  const decoded = new Uint8Array(sealed.length);
  const bytes = cobsDecode(body(sealed), decoded);
  const changed = decoded.slice(0, bytes);
  changed[at % bytes] = ((changed[at % bytes] as number) ^ 0x5a) as number;
  const out = new Uint8Array(cobsEncodedSizeMax(bytes));
  return out.slice(0, cobsEncode(changed, out));
}

describe('the handshake', () => {
  it('agrees a session when both ends hold the key, and frames go both ways', () => {
    const { voter, replica } = sessions();
    for (let n = 0; n < 5; n++) {
      expect(hex(replica.open(body(voter.seal(tick(n)))) as Uint8Array)).toBe(hex(body(tick(n))));
      const out = encodeMessage({ kind: 'output', tick: n, outputs: [n], stateDigest: n });
      expect(hex(voter.open(body(replica.seal(out))) as Uint8Array)).toBe(hex(body(out)));
    }
    expect(voter.stats.refused + replica.stats.refused).toBe(0);
  });

  it('a replica with another key is named by the voter, by both key ids, before the voter proves anything', () => {
    const voter = new VoterHandshake(KEY, nonce(1));
    const replica = new ReplicaHandshake(OTHER_KEY, nonce(2));
    const step = voter.receive(body(replica.receive(body(voter.open())).send!));
    expect(step.kind).toBe('failed');
    if (step.kind !== 'failed') return;
    expect(step.refusal).toBe('WRONG_KEY');
    expect(step.send, 'the voter sends no proof to a peer without the key').toBeUndefined();
    expect(step.reason).toContain(keyIdHex(KEY));
    expect(step.reason).toContain(keyIdHex(OTHER_KEY));
    for (const key of [KEY, OTHER_KEY]) expect(step.reason).not.toContain(hex(key).slice(0, 16));
  });

  it('a confirm not made with the key is refused by the replica, which says why', () => {
    // An honest voter with another key stops at the replica's proof (above); what reaches this
    // check is a confirm forged by someone without the key: the honest one with a byte changed.
    const voter = new VoterHandshake(KEY, nonce(1));
    const replica = new ReplicaHandshake(KEY, nonce(2));
    const confirm = voter.receive(body(replica.receive(body(voter.open())).send!));
    expect(confirm.kind).toBe('continue');
    const refused = replica.receive(tampered(confirm.send!, 10));
    expect(refused.kind).toBe('failed');
    if (refused.kind !== 'failed') return;
    expect(refused.refusal).toBe('WRONG_KEY');
    expect(refused.reason).toContain(keyIdHex(KEY));
    expect(refused.reason).not.toContain(hex(KEY).slice(0, 16));
    // The voter reading the refusal says it was refused for its key.
    const outcome = voter.receive(body(refused.send!));
    expect(outcome.kind).toBe('failed');
    if (outcome.kind === 'failed') expect(outcome.reason).toMatch(/refused by the peer at the handshake: its key is not ours/);
  });

  it("a redundant set's voter claims its epoch in the confirm; the replica learns it, and a changed epoch is refused like a forged proof", () => {
    const voter = new VoterHandshake(KEY, nonce(1), 9);
    const replica = new ReplicaHandshake(KEY, nonce(2));
    const confirm = voter.receive(body(replica.receive(body(voter.open())).send!));
    expect(confirm.kind).toBe('continue');
    // The same confirm with the epoch 9 (uint32 LE) claimed as 10, everything else as sent.
    const decoded = new Uint8Array(confirm.send!.length);
    const bytes = cobsDecode(body(confirm.send!), decoded);
    const plain = decoded.slice(0, bytes);
    const at = plain.findIndex((_, i) => plain[i] === 9 && plain[i + 1] === 0 && plain[i + 2] === 0 && plain[i + 3] === 0);
    expect(at).toBeGreaterThan(0);
    const claimed = Uint8Array.from(plain);
    claimed[at] = 10;
    const out = new Uint8Array(cobsEncodedSizeMax(bytes));
    const forged = out.slice(0, cobsEncode(claimed, out));
    const other = new ReplicaHandshake(KEY, nonce(2));
    other.receive(body(voter.open()));
    const refused = other.receive(forged);
    expect(refused.kind === 'failed' && refused.refusal).toBe('WRONG_KEY');
    const accepted = replica.receive(body(confirm.send!));
    expect(accepted.kind === 'session' && accepted.peerEpoch).toBe(9);
  });

  it('refuses bytes that are not a handshake, by name, and never throws (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), (bytes) => {
        const replica = new ReplicaHandshake(KEY, nonce(2));
        const step = replica.receive(bytes);
        expect(step.kind).toBe('failed');
        const voter = new VoterHandshake(KEY, nonce(1));
        voter.open();
        expect(voter.receive(bytes).kind).toBe('failed');
      }),
      { numRuns: 300 },
    );
  });
});

describe('sealed frames', () => {
  it('a replayed frame is refused and counted, and the next fresh one is taken', () => {
    const { voter, replica } = sessions();
    const first = voter.seal(tick(1));
    expect(replica.open(body(first))).toBeInstanceOf(Uint8Array);
    expect(replica.open(body(first))).toBe('REPLAYED');
    const second = voter.seal(tick(2));
    expect(replica.open(body(second))).toBeInstanceOf(Uint8Array);
    expect(replica.open(body(first))).toBe('REPLAYED');
    expect(replica.stats).toMatchObject({ refused: 2, refusedReplayed: 2, refusedBadTag: 0, framesMissing: 0 });
  });

  it('a frame from another session (other nonces) or sent the other way is refused as a bad tag', () => {
    const a = sessions(nonce(1), nonce(2));
    const b = sessions(nonce(3), nonce(4));
    expect(b.replica.open(body(a.voter.seal(tick(1))))).toBe('BAD_TAG');
    // Reflected: the voter's own frame fed back to it.
    expect(a.voter.open(body(a.voter.seal(tick(2))))).toBe('BAD_TAG');
    expect(b.replica.stats.refusedBadTag + a.voter.stats.refusedBadTag).toBe(2);
  });

  it('one changed byte anywhere is refused (fast-check over positions and frames)', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), (at, n) => {
        const { voter, replica } = sessions();
        const sealed = voter.seal(tick(n));
        const result = replica.open(tampered(sealed, at));
        expect(['BAD_TAG', 'MALFORMED']).toContain(result);
        // And the untouched frame still opens: a refusal does not spend its counter.
        expect(replica.open(body(sealed))).toBeInstanceOf(Uint8Array);
      }),
      { numRuns: 200 },
    );
  });

  it('frames removed on the way are counted when the next arrives; order is never taken backwards', () => {
    const { voter, replica } = sessions();
    const frames = [0, 1, 2, 3, 4].map((n) => voter.seal(tick(n)));
    expect(replica.open(body(frames[0]!))).toBeInstanceOf(Uint8Array);
    expect(replica.open(body(frames[3]!))).toBeInstanceOf(Uint8Array);
    expect(replica.stats.framesMissing).toBe(2);
    expect(replica.open(body(frames[2]!))).toBe('REPLAYED');
    expect(replica.open(body(frames[4]!))).toBeInstanceOf(Uint8Array);
  });

  it('random bytes never open and never throw; a sealed frame never exceeds the bound', () => {
    const { voter, replica } = sessions();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), (bytes) => {
        expect(typeof replica.open(bytes)).toBe('string');
      }),
      { numRuns: 500 },
    );
    const largest = new Uint8Array(256).fill(0xff);
    largest[255] = 0;
    expect(voter.seal(largest).length - 1).toBeLessThanOrEqual(SEALED_BODY_BYTES_MAX);
  });

  it('sealing something that is not one frame is our bug (an assertion)', () => {
    const { voter } = sessions();
    expect(() => voter.seal(Uint8Array.of(1, 2, 3))).toThrow(/seal: not one frame/);
    expect(() => voter.seal(Uint8Array.of(0))).toThrow(/seal: not one frame/);
  });
});
