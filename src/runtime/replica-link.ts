/**
 * The host's end of one replica link: handshake, per-tick reply collection into the core's
 * observations, and counting of everything that is not a timely, valid reply. Works over any
 * Transport (child process, serial port, memory, simulated).
 *
 * The link follows its transport: it is down while the transport is. A serial port that vanished
 * and was re-opened (the same transport, so the same link) carries a new session once a handshake
 * succeeds over it; until then the loop still sees the link down (see sessionLost). A transport
 * that never comes back (a process that exited) keeps its link down for good.
 */
import { drawInputs, hex, resetWalk, type LoadedLaw } from '../law/law-runtime.js';
import { Prng } from '../core/prng.js';
import type { Observations } from '../core/tmr-core.js';
import { decodeMessage, encodeMessage } from '../protocol/codec.js';
import { ERROR_CODE, REFUSE_REASON, type HelloAckMessage, type HelloMessage, type InjectMessage, type RefuseReason, type StateMessage } from '../protocol/messages.js';
import type { Transport } from '../transport/transport.js';
import { REAL_CLOCK } from './clock.js';
import type { Clock, Timer } from '../core/clock.js';

export type HandshakeOutcome =
  | { readonly ok: true; readonly ack: HelloAckMessage }
  | { readonly ok: false; readonly reason: RefuseReason | 'NO_ANSWER' | 'LINK_DOWN' | 'REPLICA_ERROR'; readonly detail: string };

export interface LinkCounters {
  /**
   * Frames refused as corrupt: bad CRC or CBOR, over-long, or refused by the link's authentication
   * while the replica is in the loop (every refusal, in the loop or not, is the transport's
   * framesRefused).
   */
  corruptFrames: number;
  lateReplies: number;
  unexpectedMessages: number;
  heartbeats: number;
  /** Valid `error` frames, refusals of an inject included. */
  replicaErrors: number;
  /** Injects refused (`error` UNEXPECTED_MESSAGE in answer: a build without test hooks); never a protocol error. */
  injectsRefused: number;
}

/** A replica's refusal of an inject (PROTOCOL.md 13): the fault was not armed. */
export interface InjectRefusal {
  readonly code: 'UNEXPECTED_MESSAGE';
  /** The replica's error detail ("test hooks disabled", "unknown fault 9"). */
  readonly detail: string;
}

/** An inject whose answer may still come. */
interface InjectAwaiting {
  /** The first tick sent after it: a replica answers the inject, if at all, before this tick's output. */
  readonly beforeTick: number;
  readonly onRefused: (refusal: InjectRefusal) => void;
}

/** Injects awaiting their answer; past this many the oldest is taken as armed (its answer lost on a lossy line). */
const INJECTS_AWAITING_MAX = 8;

const COUNT_MAX = 0xffff;
const WARM_UP_SEED = 0x3a11;
/** Period of hello retries while a handshake waits. */
const HELLO_RETRY_MS = 250;
/** After a good answer, how long answers to earlier hellos may still come (a line that lost some). */
const HELLO_ACK_GRACE_MS = 2 * HELLO_RETRY_MS;
/** A warm-up window whose outputs have not all come back by then is given up (a lossy line). */
const WARM_UP_WINDOW_TIMEOUT_MS = 250;
/** Warm-up stops after this many windows in a row lost outputs: the line is too poor to bother. */
const WARM_UP_LOSSY_WINDOWS_MAX = 3;
const WARM_UP_HELLO_EVERY_TICKS = 48;
/** Tick frames in flight during warm-up (the serialport poller bug needs small windows). */
const WARM_UP_WINDOW_FRAMES = 8;

export class ReplicaLink {
  readonly counters: LinkCounters = { corruptFrames: 0, lateReplies: 0, unexpectedMessages: 0, heartbeats: 0, replicaErrors: 0, injectsRefused: 0 };
  /** Tick whose replies are being collected; -1 when not collecting. */
  private collectingTick = -1;
  /** The tick whose reply, if it comes now, is past its deadline but still voted (quorum grace); -1 for none. */
  private graceForTick = -1;
  private lastTickSent = -1;
  private pendingHandshake: ((ack: HelloAckMessage | string) => void) | null = null;
  /** Why the transport last went down, kept for messages after it is up again; null if it never did. */
  private lastDownReason: string | null = null;
  /**
   * The transport went down since the last handshake that succeeded: the replica's session with
   * the host ended there, even if the transport is up again now (a re-opened serial port). Until a
   * handshake starts a new session the loop sees the link down, so a loss shorter than a tick is
   * still reported, and nothing of the old session is taken for the new one.
   */
  private sessionLost = false;
  /** Times the transport went down: a handshake that saw one while it ran does not start a session. */
  private lossCount = 0;
  private readonly pending = { lateReplies: 0, protocolErrors: 0 };
  private warmingUp = false;
  private overlongSeen = 0;
  private refusedSeen = 0;
  private warmUpOutputs = 0;
  lastReplicaError: string | null = null;
  /** Called when this replica's on-time reply arrives or its link dies (so the loop can stop waiting). */
  onSettled: () => void = () => {};
  /** Waiting for the answer to a stateRequest (a state transfer's donor side). */
  private pendingState: ((state: StateMessage | null) => void) | null = null;
  /** Injects sent, oldest first, whose refusal may still come (answered in order: PROTOCOL.md 13). */
  private readonly injectsAwaiting: InjectAwaiting[] = [];

  constructor(
    readonly replicaIndex: number,
    readonly transport: Transport,
    private readonly obs: Observations,
    private readonly law: LoadedLaw,
    private readonly clock: Clock = REAL_CLOCK,
  ) {
    transport.onFrame((frame) => this.onFrame(frame));
    transport.onDown((reason) => {
      this.lastDownReason = reason;
      this.sessionLost = true;
      this.lossCount++;
      this.pendingHandshake?.(`link down: ${reason}`);
      this.pendingState?.(null);
      this.injectsAwaiting.length = 0;
      this.onSettled();
    });
  }

  /**
   * Down, for the loop: the transport is down now, or it went down since the last good handshake
   * (see sessionLost). A transport that comes back (SerialTransport re-opens its port) makes the
   * link usable for a handshake again; one that never comes back keeps it down for good.
   */
  get isDown(): boolean {
    return !this.transport.isUp || this.sessionLost;
  }

  /** Why the link is down (the transport's last down reason), or null while it is not. */
  get linkDownReason(): string | null {
    return this.isDown ? (this.lastDownReason ?? 'link down') : null;
  }

  /** Whether the transport itself is down now: what a handshake, which starts a new session, looks at. */
  private get transportDown(): boolean {
    return !this.transport.isUp;
  }

  /**
   * Hello → helloAck, checked against our protocol version, law id and law self-test hash.
   *
   * A serial line loses frames, so hello is repeated every HELLO_RETRY_MS until answered. A hello
   * resets the replica's controller, so the handshake does not end while a hello it sent may
   * still be on its way: after the first good answer, it waits for the answers to the other
   * hellos (or HELLO_ACK_GRACE_MS, for a line that lost some), so none lands after tick 0.
   */
  handshake(hello: HelloMessage, timeoutMs: number): Promise<HandshakeOutcome> {
    return new Promise((resolve) => {
      let hellosSent = 0;
      let answers = 0;
      let accepted: HelloAckMessage | null = null;
      let grace: Timer | undefined;
      const lossCountAtStart = this.lossCount;
      const sendHello = (): void => {
        hellosSent++;
        this.transport.send(encodeMessage(hello));
      };
      const timer = this.clock.setTimer(timeoutMs, () => finish(`no answer within ${timeoutMs} ms`));
      const retry = this.clock.setRepeating(HELLO_RETRY_MS, sendHello);
      const finish = (outcome: HelloAckMessage | string): void => {
        timer.cancel();
        retry.cancel();
        grace?.cancel();
        this.pendingHandshake = null;
        if (typeof outcome !== 'string') {
          // Answered over a transport that stayed up throughout: a new session has begun.
          if (this.lossCount === lossCountAtStart && !this.transportDown) this.sessionLost = false;
          resolve({ ok: true, ack: outcome });
          return;
        }
        const reason = outcome.startsWith('link down') ? 'LINK_DOWN' : outcome.startsWith('replica error') ? 'REPLICA_ERROR' : 'NO_ANSWER';
        resolve({ ok: false, reason, detail: outcome });
      };
      const onAnswer = (answer: HelloAckMessage | string): void => {
        if (typeof answer === 'string') {
          if (accepted === null) finish(answer);
          return;
        }
        answers++;
        if (accepted === null) {
          const refusal = checkHelloAck(answer, hello);
          if (refusal !== null) {
            timer.cancel();
            retry.cancel();
            this.pendingHandshake = null;
            this.transport.send(encodeMessage({ kind: 'refuse', reason: REFUSE_REASON[refusal.reason] }));
            resolve({ ok: false, reason: refusal.reason, detail: refusal.detail });
            return;
          }
          accepted = answer;
          retry.cancel();
          if (answers < hellosSent) grace = this.clock.setTimer(HELLO_ACK_GRACE_MS, () => finish(answer));
        }
        if (answers >= hellosSent) finish(accepted);
      };
      if (this.transportDown) {
        finish(`link down: ${this.lastDownReason ?? 'transport not up'}`);
        return;
      }
      this.pendingHandshake = onAnswer;
      sendHello();
    });
  }

  /**
   * Exercises the replica's message paths (hello, decode, law, encode) before the run, so the
   * first real ticks are not lost while V8 compiles them. Identical replicas fed identical
   * messages reach V8's optimisation and deoptimisation points at the same tick, and a correlated
   * stall looks like a common-mode fault: measured, a hello after 2,000 ticks of nothing else
   * deoptimised the decoder in every replica at once and it was re-optimised mid-run, missing
   * deadlines together. So the warm-up draws inputs from the law's coverage generator (extremes,
   * saturation, anti-windup) and interleaves handshakes. It changes the controller state; the
   * caller's final handshake resets it. Resolves false if the replica stops answering.
   */
  async warmUp(hello: HelloMessage, ticks: number, timeoutMs: number): Promise<boolean> {
    const prng = new Prng(WARM_UP_SEED);
    const inputs = new Int32Array(this.law.inputCount);
    const previous = new Float64Array(this.law.inputCount);
    resetWalk(this.law.definition, previous);
    let sent = 0;
    let lossyWindows = 0;
    this.warmingUp = true;
    try {
      while (sent < ticks && !this.isDown) {
        if (!(await this.handshake(hello, timeoutMs)).ok) return false;
        // A window of ticks in flight, then wait for their outputs: small enough for a serial
        // port's driver, large enough that a slow link does not make start-up slow.
        for (let windowStart = sent; sent < ticks && sent - windowStart < WARM_UP_HELLO_EVERY_TICKS; ) {
          const count = Math.min(WARM_UP_WINDOW_FRAMES, ticks - sent);
          this.warmUpOutputs = 0;
          for (let k = 0; k < count; k++, sent++) {
            drawInputs(prng, this.law.definition, previous, inputs);
            this.transport.send(encodeMessage({ kind: 'tick', tick: sent, inputs }));
          }
          // Warm-up is for the JIT, not a test: a lossy line loses some outputs and goes on,
          // after a handshake (a replica that lost one of these ticks refuses the rest: TICK_GAP).
          const answered = await this.waitForWarmUpOutputs(count, WARM_UP_WINDOW_TIMEOUT_MS);
          lossyWindows = answered ? 0 : lossyWindows + 1;
          if (lossyWindows >= WARM_UP_LOSSY_WINDOWS_MAX || this.isDown) return false;
          if (!answered) break;
        }
      }
      return !this.isDown;
    } finally {
      this.warmingUp = false;
      this.onSettled = () => {};
    }
  }

  private waitForWarmUpOutputs(count: number, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (answered: boolean): void => {
        timer.cancel();
        this.onSettled = () => {};
        resolve(answered);
      };
      const timer = this.clock.setTimer(timeoutMs, () => done(false));
      this.onSettled = () => {
        if (this.isDown) done(false);
        else if (this.warmUpOutputs >= count) done(true);
      };
      this.onSettled();
    });
  }

  /**
   * Asks the replica for its controller state as of its last completed tick. Resolves with the
   * state message, or null if the link dies or the replica answers with an error. The caller
   * bounds the wait (a transfer happens between two ticks or not at all).
   */
  requestState(tick: number): Promise<StateMessage | null> {
    this.pendingState?.(null);
    return new Promise((resolve) => {
      if (this.isDown) {
        resolve(null);
        return;
      }
      this.pendingState = (state) => {
        this.pendingState = null;
        resolve(state);
      };
      this.transport.send(encodeMessage({ kind: 'stateRequest', tick }));
    });
  }

  /** Gives up on an unanswered stateRequest: its answer, if it comes, is then unexpected. */
  cancelStateRequest(): void {
    this.pendingState?.(null);
  }

  /** Sends a state transfer (the replica answers with a heartbeat, or an error if it refuses it). */
  sendState(state: StateMessage): void {
    this.transport.send(encodeMessage(state));
  }

  /**
   * Sends a fault injection, before the tick it starts at. A test build arms the fault and answers
   * nothing; a build without test hooks answers `error` UNEXPECTED_MESSAGE (PROTOCOL.md 13), and
   * since a replica answers in order, before its output for the next tick: that error is the
   * inject's refusal, heard by `onRefused`, and says nothing against the replica.
   */
  sendInject(inject: InjectMessage, onRefused: (refusal: InjectRefusal) => void): void {
    if (!this.transport.send(encodeMessage(inject))) return;
    if (this.injectsAwaiting.length === INJECTS_AWAITING_MAX) this.injectsAwaiting.shift();
    this.injectsAwaiting.push({ beforeTick: this.lastTickSent + 1, onRefused });
  }

  /** Sends this tick's (pre-encoded, shared) tick frame and starts collecting its reply. */
  beginTick(tick: number, tickFrame: Uint8Array): void {
    this.collectingTick = tick;
    for (const field of ['lateReplies', 'protocolErrors'] as const) {
      const count = this.pending[field];
      this.pending[field] = 0;
      if (count > 0) this.bump(field, count);
    }
    this.lastTickSent = tick;
    if (this.isDown) this.obs.linkDown[this.replicaIndex] = 1;
    else this.transport.send(tickFrame);
  }

  /** Forgets counts carried between ticks: what arrived before tick 0 (boot noise) is not tick 0's. */
  discardPending(): void {
    this.pending.lateReplies = 0;
    this.pending.protocolErrors = 0;
  }

  /**
   * The deadline passed without this replica's reply, but the host waits on for a quorum (the
   * runner's quorum grace): a reply for this tick is still taken into the vote, and counted late.
   */
  pastDeadline(): void {
    if (this.collectingTick !== -1 && this.obs.onTime[this.replicaIndex] === 0) this.graceForTick = this.collectingTick;
  }

  /** The tick is closed: anything for it from now on is late. */
  endTick(): void {
    this.collectingTick = -1;
    this.graceForTick = -1;
    if (this.isDown) this.obs.linkDown[this.replicaIndex] = 1;
    // Garbage with no delimiter never becomes a frame; the splitter drops it as over-long. That
    // is a replica talking nonsense, not a silent one: tell the detector.
    const overlong = this.transport.stats.overlongFramesDropped;
    if (overlong > this.overlongSeen) {
      this.overlongSeen = overlong;
      this.counters.corruptFrames++;
      this.bump('protocolErrors');
    }
    // Frames the link's authentication refused (forged, replayed) are a corrupt frame each, as a bad CRC is.
    const refused = this.transport.stats.framesRefused;
    if (refused > this.refusedSeen) {
      const newly = refused - this.refusedSeen;
      this.refusedSeen = refused;
      this.counters.corruptFrames += newly;
      this.bump('protocolErrors', newly);
    }
  }

  get settled(): boolean {
    return this.isDown || this.obs.onTime[this.replicaIndex] === 1;
  }

  /**
   * Counts a late reply or a protocol error into this tick's observations. Between ticks (after
   * the deadline, before the next tick starts) the observations are about to be cleared, so the
   * count waits and goes into the next tick instead of being lost.
   */
  private bump(field: 'lateReplies' | 'protocolErrors', count = 1): void {
    if (this.collectingTick === -1) {
      this.pending[field] += count;
      return;
    }
    const array = field === 'lateReplies' ? this.obs.lateReplies : this.obs.protocolErrors;
    const i = this.replicaIndex;
    array[i] = Math.min(COUNT_MAX, (array[i] as number) + count);
  }

  private onFrame(frame: Uint8Array): void {
    const decoded = decodeMessage(frame);
    if (!decoded.ok) {
      this.counters.corruptFrames++;
      this.bump('protocolErrors');
      return;
    }
    const message = decoded.message;
    switch (message.kind) {
      case 'output':
        this.onOutput(message.tick, message.outputs, message.stateDigest);
        return;
      case 'heartbeat':
        this.counters.heartbeats++;
        return;
      case 'helloAck':
        if (this.pendingHandshake !== null) this.pendingHandshake(message);
        else this.unexpected();
        return;
      case 'state':
        if (this.pendingState !== null) this.pendingState(message);
        else this.unexpected();
        return;
      case 'error':
        this.counters.replicaErrors++;
        // UNEXPECTED_MESSAGE answers only what the host never sends during a run, or an inject.
        if (message.code === ERROR_CODE.UNEXPECTED_MESSAGE && this.injectsAwaiting.length > 0) {
          // The specified answer of a build without test hooks: valid, and nothing wrong with the
          // replica's control path (it changed nothing, PROTOCOL.md 13). Counted against it, a few
          // refusals would exclude a healthy replica for the host's own test request.
          this.counters.injectsRefused++;
          this.injectsAwaiting.shift()!.onRefused({ code: 'UNEXPECTED_MESSAGE', detail: message.detail });
          return;
        }
        this.lastReplicaError = `code ${message.code}: ${message.detail}`;
        this.pendingHandshake?.(`replica error ${this.lastReplicaError}`);
        this.pendingState?.(null);
        this.bump('protocolErrors');
        return;
      default:
        this.unexpected();
    }
  }

  private onOutput(tick: number, outputs: readonly number[], stateDigest: number): void {
    const i = this.replicaIndex;
    // An output for a tick sent after an inject: that inject was armed, it will not be refused now.
    while (this.injectsAwaiting.length > 0 && this.injectsAwaiting[0]!.beforeTick <= tick) this.injectsAwaiting.shift();
    if (this.warmingUp) {
      this.warmUpOutputs++;
      this.onSettled();
      return;
    }
    if (tick === this.collectingTick && this.obs.onTime[i] === 0 && outputs.length === this.obs.channelCount) {
      const base = i * this.obs.channelCount;
      for (let c = 0; c < this.obs.channelCount; c++) this.obs.outputs[base + c] = outputs[c] as number;
      this.obs.digests[i] = stateDigest;
      this.obs.onTime[i] = 1;
      if (tick === this.graceForTick) {
        // In the vote, and late all the same: the failure detector sees the timing fault.
        this.counters.lateReplies++;
        this.bump('lateReplies');
      }
      this.onSettled();
    } else if (tick < this.lastTickSent || (tick === this.lastTickSent && this.collectingTick === -1)) {
      this.counters.lateReplies++;
      this.bump('lateReplies');
    } else {
      // A second reply for the same tick, a reply for a tick never sent, or a wrong channel count.
      this.unexpected();
    }
  }

  private unexpected(): void {
    this.counters.unexpectedMessages++;
    this.bump('protocolErrors');
  }
}

/** Why a helloAck is not acceptable for the hello it answers, or null. Each reason names both sides. */
export function checkHelloAck(ack: HelloAckMessage, hello: HelloMessage): { reason: RefuseReason; detail: string } | null {
  if (ack.protocolVersion !== hello.protocolVersion) {
    return { reason: 'PROTOCOL_VERSION_MISMATCH', detail: `${ack.implementation} speaks protocol v${ack.protocolVersion}, the host v${hello.protocolVersion}` };
  }
  if (ack.lawName !== hello.lawName || ack.lawVersion !== hello.lawVersion) {
    return { reason: 'LAW_MISMATCH', detail: `${ack.implementation} runs law ${ack.lawName} v${ack.lawVersion}, the host ${hello.lawName} v${hello.lawVersion}` };
  }
  if (ack.lawHash !== hello.lawHash) {
    return { reason: 'LAW_HASH_MISMATCH', detail: `${ack.implementation} reports law hash 0x${hex(ack.lawHash)}, the host's is 0x${hex(hello.lawHash)}` };
  }
  if (ack.replicaIndex !== hello.replicaIndex) {
    return { reason: 'REPLICA_INDEX_MISMATCH', detail: `${ack.implementation} answered as replica ${ack.replicaIndex}, expected ${hello.replicaIndex}` };
  }
  return null;
}
