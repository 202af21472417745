/**
 * What a replica does with each protocol message, independent of how bytes arrive. The Node
 * child-process replica and the in-process simulated replica both run this; the C firmware
 * implements the same behaviour from PROTOCOL.md.
 */
import { isInt32, isUint32 } from '../core/assert.js';
import {
  createLawState,
  deserializeLawState,
  LAW_ID,
  LAW_STATE_SIZE_BYTES,
  lawParamsValid,
  lawSelfTestHash,
  lawStateDigest,
  lawStep,
  OUTPUT_CHANNEL_COUNT,
  positionValid,
  serializeLawState,
  type LawParams,
  type LawState,
} from '../core/control-law.js';
import { ERROR_CODE, PROTOCOL_VERSION, type ErrorMessage, type HelloAckMessage, type HelloMessage, type Message, type StateMessage } from '../protocol/messages.js';

export const NODE_REPLICA_IMPLEMENTATION = 'node-replica/1';

/** Decodes pid-q16's parameter list from a hello; null if the list is not a valid parameter set. */
export function lawParamsFromList(list: readonly number[]): LawParams | null {
  if (list.length !== 4 || !list.every(isInt32)) return null;
  const params: LawParams = { kpQ16: list[0]!, kiQ16: list[1]!, kdQ16: list[2]!, outputLimitMv: list[3]! };
  return lawParamsValid(params) === null ? params : null;
}

export function lawParamsToList(params: LawParams): number[] {
  return [params.kpQ16, params.kiQ16, params.kdQ16, params.outputLimitMv];
}

export type TickOutcome = { ok: true; stateDigest: number } | { ok: false; error: ErrorMessage };

export class ReplicaLogic {
  readonly outputs = new Int32Array(OUTPUT_CHANNEL_COUNT);
  readonly state: LawState = createLawState();
  params: LawParams | null = null;
  replicaIndex = -1;
  /** Self-test hash this replica reports; overridable to simulate a replica built with another law. */
  lawHash: number;
  /** Protocol version this replica speaks; overridable to simulate a board built for another. */
  protocolVersion: number = PROTOCOL_VERSION;

  constructor(readonly implementation: string = NODE_REPLICA_IMPLEMENTATION) {
    this.lawHash = lawSelfTestHash();
  }

  onHello(msg: HelloMessage): HelloAckMessage | ErrorMessage {
    if (msg.protocolVersion !== this.protocolVersion) {
      // Not our version: say which one we speak and stay unconfigured; the host refuses us.
      this.params = null;
      return { kind: 'helloAck', protocolVersion: this.protocolVersion, replicaIndex: msg.replicaIndex, implementation: this.implementation, lawId: LAW_ID, lawHash: this.lawHash };
    }
    const params = msg.lawId === LAW_ID ? lawParamsFromList(msg.lawParams) : null;
    if (params === null) return { kind: 'error', code: ERROR_CODE.BAD_LAW_PARAMS, detail: `law ${msg.lawId} parameters rejected` };
    this.params = params;
    this.replicaIndex = msg.replicaIndex;
    Object.assign(this.state, createLawState());
    return {
      kind: 'helloAck',
      protocolVersion: this.protocolVersion,
      replicaIndex: msg.replicaIndex,
      implementation: this.implementation,
      lawId: LAW_ID,
      lawHash: this.lawHash,
    };
  }

  /** One control step; outputs land in this.outputs. */
  onTick(tick: number, setpointMilliDeg: number, positionMilliDeg: number): TickOutcome {
    if (this.params === null) return { ok: false, error: { kind: 'error', code: ERROR_CODE.NOT_CONFIGURED, detail: 'tick before hello' } };
    if (!isUint32(tick) || !positionValid(setpointMilliDeg) || !positionValid(positionMilliDeg)) {
      return { ok: false, error: { kind: 'error', code: ERROR_CODE.INPUT_OUT_OF_RANGE, detail: `tick ${tick} inputs out of range` } };
    }
    lawStep(this.params, this.state, tick, setpointMilliDeg, positionMilliDeg, this.outputs);
    return { ok: true, stateDigest: lawStateDigest(this.state) };
  }

  snapshot(): StateMessage {
    const bytes = new Uint8Array(LAW_STATE_SIZE_BYTES);
    serializeLawState(this.state, bytes);
    return { kind: 'state', tick: this.state.lastTick, stateBytes: bytes, stateDigest: lawStateDigest(this.state) };
  }

  /** Applies a transferred state; the digest must match the bytes, or nothing changes. */
  applyState(msg: StateMessage): ErrorMessage | null {
    if (this.params === null) return { kind: 'error', code: ERROR_CODE.NOT_CONFIGURED, detail: 'state before hello' };
    const candidate = createLawState();
    const problem = deserializeLawState(msg.stateBytes, candidate, this.params);
    if (problem !== null) return { kind: 'error', code: ERROR_CODE.BAD_STATE, detail: problem.slice(0, 60) };
    if (lawStateDigest(candidate) !== msg.stateDigest) return { kind: 'error', code: ERROR_CODE.BAD_STATE, detail: 'state digest mismatch' };
    Object.assign(this.state, candidate);
    return null;
  }

  /**
   * Generic handling of a decoded message (not tick, not inject, which the caller handles for
   * speed and for faults). Returns the reply, or null for none.
   */
  handleControl(msg: Message): Message | null {
    switch (msg.kind) {
      case 'hello':
        return this.onHello(msg);
      case 'refuse':
        this.params = null;
        return null;
      case 'stateRequest':
        return this.params === null ? { kind: 'error', code: ERROR_CODE.NOT_CONFIGURED, detail: 'state request before hello' } : this.snapshot();
      case 'state':
        return this.applyState(msg) ?? this.heartbeat();
      default:
        return { kind: 'error', code: ERROR_CODE.UNEXPECTED_MESSAGE, detail: `unexpected ${msg.kind}` };
    }
  }

  heartbeat(): Message {
    return { kind: 'heartbeat', lastTick: this.state.lastTick, stateDigest: lawStateDigest(this.state) };
  }
}
