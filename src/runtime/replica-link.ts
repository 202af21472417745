/**
 * The host's end of one replica link: handshake, per-tick reply collection into the core's
 * observations, and counting of everything that is not a timely, valid reply. Works over any
 * Transport (child process, serial port, memory).
 */
import { drawLawInputs, LAW_ID, lawSelfTestHash, OUTPUT_CHANNEL_COUNT } from '../core/control-law.js';
import { Prng } from '../core/prng.js';
import type { Observations } from '../core/tmr-core.js';
import { decodeMessage, encodeMessage } from '../protocol/codec.js';
import { PROTOCOL_VERSION, REFUSE_REASON, type HelloAckMessage, type HelloMessage, type RefuseReason } from '../protocol/messages.js';
import type { Transport } from '../transport/transport.js';

export type HandshakeOutcome =
  | { readonly ok: true; readonly ack: HelloAckMessage }
  | { readonly ok: false; readonly reason: RefuseReason | 'NO_ANSWER' | 'LINK_DOWN' | 'REPLICA_ERROR'; readonly detail: string };

export interface LinkCounters {
  corruptFrames: number;
  lateReplies: number;
  unexpectedMessages: number;
  heartbeats: number;
  replicaErrors: number;
}

const COUNT_MAX = 0xffff;
const WARM_UP_SEED = 0x3a11;
const WARM_UP_HELLO_EVERY_TICKS = 50;

export class ReplicaLink {
  readonly counters: LinkCounters = { corruptFrames: 0, lateReplies: 0, unexpectedMessages: 0, heartbeats: 0, replicaErrors: 0 };
  /** Tick whose replies are being collected; -1 when not collecting. */
  private collectingTick = -1;
  private lastTickSent = -1;
  private pendingHandshake: ((ack: HelloAckMessage | string) => void) | null = null;
  linkDownReason: string | null = null;
  lastReplicaError: string | null = null;
  /** Called when this replica's on-time reply arrives or its link dies (so the loop can stop waiting). */
  onSettled: () => void = () => {};

  constructor(
    readonly replicaIndex: number,
    readonly transport: Transport,
    private readonly obs: Observations,
  ) {
    transport.onFrame((frame) => this.onFrame(frame));
    transport.onDown((reason) => {
      this.linkDownReason = reason;
      this.pendingHandshake?.(`link down: ${reason}`);
      this.onSettled();
    });
  }

  get isDown(): boolean {
    return this.linkDownReason !== null;
  }

  /** Hello → helloAck, checked against our protocol version, law id and law self-test hash. */
  handshake(hello: HelloMessage, timeoutMs: number): Promise<HandshakeOutcome> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(`no answer within ${timeoutMs} ms`), timeoutMs);
      const finish = (answer: HelloAckMessage | string): void => {
        clearTimeout(timer);
        this.pendingHandshake = null;
        if (typeof answer === 'string') {
          const reason = answer.startsWith('link down') ? 'LINK_DOWN' : answer.startsWith('replica error') ? 'REPLICA_ERROR' : 'NO_ANSWER';
          resolve({ ok: false, reason, detail: answer });
          return;
        }
        const refusal = checkHelloAck(answer, this.replicaIndex);
        if (refusal === null) resolve({ ok: true, ack: answer });
        else {
          this.transport.send(encodeMessage({ kind: 'refuse', reason: REFUSE_REASON[refusal.reason] }));
          resolve({ ok: false, reason: refusal.reason, detail: refusal.detail });
        }
      };
      if (this.isDown) {
        finish(`link down: ${this.linkDownReason}`);
        return;
      }
      this.pendingHandshake = finish;
      this.transport.send(encodeMessage(hello));
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
    const inputs = { setpointMilliDeg: 0, positionMilliDeg: 0 };
    for (let k = 0; k < ticks && !this.isDown; k++) {
      if (k % WARM_UP_HELLO_EVERY_TICKS === 0 && !(await this.handshake(hello, timeoutMs)).ok) return false;
      drawLawInputs(prng, inputs.positionMilliDeg, inputs);
      const frame = encodeMessage({ kind: 'tick', tick: k, ...inputs });
      this.obs.onTime[this.replicaIndex] = 0;
      const answered = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        this.onSettled = () => {
          clearTimeout(timer);
          resolve(true);
        };
        this.beginTick(k, frame);
      });
      this.onSettled = () => {};
      this.endTick();
      if (!answered || this.isDown) return false;
    }
    this.obs.onTime[this.replicaIndex] = 0;
    this.lastTickSent = -1;
    return true;
  }

  /** Sends this tick's (pre-encoded, shared) tick frame and starts collecting its reply. */
  beginTick(tick: number, tickFrame: Uint8Array): void {
    this.collectingTick = tick;
    this.lastTickSent = tick;
    if (this.isDown) this.obs.linkDown[this.replicaIndex] = 1;
    else this.transport.send(tickFrame);
  }

  /** The deadline passed: anything for this tick from now on is late. */
  endTick(): void {
    this.collectingTick = -1;
    if (this.isDown) this.obs.linkDown[this.replicaIndex] = 1;
  }

  get settled(): boolean {
    return this.isDown || this.obs.onTime[this.replicaIndex] === 1;
  }

  private bump(field: 'lateReplies' | 'protocolErrors'): void {
    const array = field === 'lateReplies' ? this.obs.lateReplies : this.obs.protocolErrors;
    const i = this.replicaIndex;
    array[i] = Math.min(COUNT_MAX, (array[i] as number) + 1);
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
      case 'error':
        this.counters.replicaErrors++;
        this.lastReplicaError = `code ${message.code}: ${message.detail}`;
        this.pendingHandshake?.(`replica error ${this.lastReplicaError}`);
        this.bump('protocolErrors');
        return;
      default:
        this.unexpected();
    }
  }

  private onOutput(tick: number, outputs: readonly number[], stateDigest: number): void {
    const i = this.replicaIndex;
    if (tick === this.collectingTick && this.obs.onTime[i] === 0 && outputs.length === OUTPUT_CHANNEL_COUNT) {
      const base = i * this.obs.channelCount;
      for (let c = 0; c < OUTPUT_CHANNEL_COUNT; c++) this.obs.outputs[base + c] = outputs[c] as number;
      this.obs.digests[i] = stateDigest;
      this.obs.onTime[i] = 1;
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

/** Why a helloAck is not acceptable, or null. */
export function checkHelloAck(ack: HelloAckMessage, replicaIndex: number): { reason: RefuseReason; detail: string } | null {
  if (ack.protocolVersion !== PROTOCOL_VERSION) {
    return { reason: 'PROTOCOL_VERSION_MISMATCH', detail: `${ack.implementation} speaks protocol ${ack.protocolVersion}, expected ${PROTOCOL_VERSION}` };
  }
  if (ack.lawId !== LAW_ID) return { reason: 'LAW_ID_MISMATCH', detail: `${ack.implementation} runs law ${ack.lawId}, expected ${LAW_ID}` };
  const expectedHash = lawSelfTestHash();
  if (ack.lawHash !== expectedHash) {
    return {
      reason: 'LAW_HASH_MISMATCH',
      detail: `${ack.implementation} reports law hash ${hex(ack.lawHash)}, expected ${hex(expectedHash)}`,
    };
  }
  if (ack.replicaIndex !== replicaIndex) {
    return { reason: 'REPLICA_INDEX_MISMATCH', detail: `${ack.implementation} answered as replica ${ack.replicaIndex}, expected ${replicaIndex}` };
  }
  return null;
}

function hex(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, '0')}`;
}
