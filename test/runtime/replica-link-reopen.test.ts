/**
 * A replica link follows its transport: a transport that comes back (a serial port re-opened after
 * its cable was pulled) can carry a new session, begun by a handshake; one that never comes back
 * keeps the link down for good. Between the loss and that handshake the loop sees the link down,
 * even if the transport is up again, and nothing of the old session reaches the new one.
 * The real port is in test/runtime/board-replug.test.ts; this is the link's own state machine.
 */
import { describe, expect, it } from 'vitest';
import { createObservations, resetObservations } from '../../src/core/tmr-core.js';
import { shippedLaw } from '../../src/law/law-loader.js';
import { helloFor } from '../../src/law/law-runtime.js';
import { decodeMessage, encodeMessage } from '../../src/protocol/codec.js';
import type { Message } from '../../src/protocol/messages.js';
import { ReplicaLink } from '../../src/runtime/replica-link.js';
import { createTransportStats, type DownHandler, type FrameHandler, type Transport } from '../../src/transport/transport.js';

const law = shippedLaw('pid-q16');
const HELLO = helloFor(law, 0, law.paramsForRate(100));
/** Long enough never to fire here: every hello is answered at once or the link is already down. */
const HANDSHAKE_TIMEOUT_MS = 5_000;

/** A transport that goes down and, if asked, comes back; its far end answers every hello at once. */
class ReopenableTransport implements Transport {
  readonly description = 'test port';
  readonly stats = createTransportStats();
  isUp = true;
  answerHellos = true;
  /** Tick numbers of the tick frames sent, in order. */
  readonly ticksSent: number[] = [];
  private deliver: FrameHandler = () => {};
  private downHandler: DownHandler = () => {};

  onFrame(handler: FrameHandler): void {
    this.deliver = handler;
  }
  onDown(handler: DownHandler): void {
    this.downHandler = handler;
  }
  send(frame: Uint8Array): boolean {
    if (!this.isUp) return false;
    const decoded = decodeMessage(frame.subarray(0, frame.length - 1));
    if (decoded.ok && decoded.message.kind === 'tick') this.ticksSent.push(decoded.message.tick);
    if (this.answerHellos && decoded.ok && decoded.message.kind === 'hello') {
      const hello = decoded.message;
      this.receive({ kind: 'helloAck', protocolVersion: hello.protocolVersion, replicaIndex: hello.replicaIndex, implementation: 'test/1', lawName: hello.lawName, lawVersion: hello.lawVersion, lawHash: hello.lawHash });
    }
    return true;
  }
  receive(message: Message): void {
    const frame = encodeMessage(message);
    this.deliver(frame.subarray(0, frame.length - 1));
  }
  goDown(reason: string): void {
    this.isUp = false;
    this.downHandler(reason);
  }
  comeBack(): void {
    this.isUp = true;
  }
  async close(): Promise<void> {}
}

function setUp(): { link: ReplicaLink; transport: ReopenableTransport; obs: ReturnType<typeof createObservations>; tick: (t: number) => void } {
  const transport = new ReopenableTransport();
  const obs = createObservations(1, law.outputCount);
  const link = new ReplicaLink(0, transport, obs, law);
  // As the runner does: each tick's observations start clear, then beginTick … endTick.
  const tick = (t: number): void => {
    resetObservations(obs);
    link.beginTick(t, encodeMessage({ kind: 'tick', tick: t, inputs: new Int32Array(law.inputCount) }));
    link.endTick();
  };
  return { link, transport, obs, tick };
}

describe('a replica link over a transport that goes down', () => {
  it('never up again: down for good, every handshake fails at once as LINK_DOWN, the loop sees it down every tick', async () => {
    const { link, transport, obs, tick } = setUp();
    expect((await link.handshake(HELLO, HANDSHAKE_TIMEOUT_MS)).ok).toBe(true);
    expect(link.isDown).toBe(false);
    expect(link.linkDownReason).toBeNull();
    transport.goDown('process exited with code 1');
    for (let t = 0; t < 3; t++) {
      expect(await link.handshake(HELLO, HANDSHAKE_TIMEOUT_MS)).toEqual({ ok: false, reason: 'LINK_DOWN', detail: 'link down: process exited with code 1' });
      tick(t);
      expect(obs.linkDown[0], `tick ${t}`).toBe(1);
      expect(link.isDown).toBe(true);
      expect(link.settled).toBe(true);
      expect(link.linkDownReason).toBe('process exited with code 1');
    }
  });

  it('up again: down to the loop until a handshake begins a new session, then up; the old reason is not reported any more', async () => {
    const { link, transport, obs, tick } = setUp();
    expect((await link.handshake(HELLO, HANDSHAKE_TIMEOUT_MS)).ok).toBe(true);
    tick(0);
    expect(obs.linkDown[0]).toBe(0);

    transport.goDown('/dev/ttyACM0 disconnected');
    expect(await link.handshake(HELLO, HANDSHAKE_TIMEOUT_MS)).toMatchObject({ ok: false, reason: 'LINK_DOWN' });
    transport.comeBack();
    // The port is back, but the replica's session ended with the loss: no tick goes to it.
    tick(1);
    expect(obs.linkDown[0], 'a lost session is reported down though the port is back').toBe(1);
    expect(link.isDown).toBe(true);
    expect(link.linkDownReason).toBe('/dev/ttyACM0 disconnected');
    expect(await link.requestState(1), 'no state from a lost session').toBeNull();

    // A handshake over the re-opened port begins a new session.
    expect((await link.handshake(HELLO, HANDSHAKE_TIMEOUT_MS)).ok).toBe(true);
    expect(link.isDown).toBe(false);
    expect(link.linkDownReason).toBeNull();
    tick(2);
    expect(obs.linkDown[0]).toBe(0);
    expect(transport.ticksSent, 'no tick to a lost session; ticks again in the new one').toEqual([0, 2]);

    // And it can be lost again, and come back again.
    transport.goDown('/dev/ttyACM0 disconnected again');
    tick(3);
    expect(obs.linkDown[0]).toBe(1);
    expect(link.linkDownReason).toBe('/dev/ttyACM0 disconnected again');
    transport.comeBack();
    expect((await link.handshake(HELLO, HANDSHAKE_TIMEOUT_MS)).ok).toBe(true);
    tick(4);
    expect(obs.linkDown[0]).toBe(0);
  });

  it('a loss shorter than a tick (down and up again between two ticks) is still reported at the next tick', async () => {
    const { link, transport, obs, tick } = setUp();
    expect((await link.handshake(HELLO, HANDSHAKE_TIMEOUT_MS)).ok).toBe(true);
    tick(0);
    transport.goDown('blip');
    transport.comeBack();
    tick(1);
    expect(obs.linkDown[0]).toBe(1);
  });

  it('a handshake during which the transport went down and came back begins no session', async () => {
    const { link, transport } = setUp();
    transport.answerHellos = false;
    const pending = link.handshake(HELLO, HANDSHAKE_TIMEOUT_MS);
    transport.goDown('pulled mid-handshake');
    transport.comeBack();
    expect(await pending).toMatchObject({ ok: false, reason: 'LINK_DOWN', detail: 'link down: pulled mid-handshake' });
    expect(link.isDown).toBe(true);
    transport.answerHellos = true;
    expect((await link.handshake(HELLO, HANDSHAKE_TIMEOUT_MS)).ok).toBe(true);
    expect(link.isDown).toBe(false);
  });

  it("the old session's counts do not reach the new one: what arrived before or around the loss is discarded before the link is back in the loop", async () => {
    const { link, transport, obs, tick } = setUp();
    expect((await link.handshake(HELLO, HANDSHAKE_TIMEOUT_MS)).ok).toBe(true);
    tick(0);
    // Between ticks, an output for a tick never sent: an unexpected message, held for the next tick.
    transport.receive({ kind: 'output', tick: 7, outputs: new Array<number>(law.outputCount).fill(0), stateDigest: 0 });
    transport.goDown('pulled');
    transport.comeBack();
    // Stale bytes on the re-opened port: a late output for tick 0.
    transport.receive({ kind: 'output', tick: 0, outputs: new Array<number>(law.outputCount).fill(0), stateDigest: 0 });
    expect((await link.handshake(HELLO, HANDSHAKE_TIMEOUT_MS)).ok).toBe(true);
    // As the recovery does before a returning replica's first tick (probation or cold start).
    link.discardPending();
    tick(1);
    expect(obs.linkDown[0]).toBe(0);
    expect(obs.protocolErrors[0], 'protocol errors of the old session').toBe(0);
    expect(obs.lateReplies[0], 'late replies of the old session').toBe(0);
    // The link's own totals still say what happened.
    expect(link.counters.unexpectedMessages).toBe(1);
    expect(link.counters.lateReplies).toBe(1);
  });
});
