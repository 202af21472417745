/**
 * What a replica does with each protocol message, independent of how bytes arrive and of which
 * law it runs. The Node child-process replica and the in-process simulated replica both run this;
 * the C firmware implements the same behaviour from PROTOCOL.md (over boards/common/tmr_law.h).
 */
import { isUint32 } from '../core/assert.js';
import { crc32 } from '../core/crc32.js';
import type { LoadedLaw } from '../law/law-runtime.js';
import { ERROR_CODE, PROTOCOL_VERSION, type ErrorMessage, type HelloAckMessage, type HelloMessage, type Message, type StateMessage } from '../protocol/messages.js';

export const NODE_REPLICA_IMPLEMENTATION = 'node-replica/3';

export type TickOutcome = { ok: true; stateDigest: number } | { ok: false; error: ErrorMessage };

export class ReplicaLogic<S = unknown> {
  readonly outputs: Int32Array;
  /** The law's state; null until an accepted hello. */
  state: S | null = null;
  params: Int32Array | null = null;
  replicaIndex = -1;
  /** Tick of the last step taken (uint32), or of the state transferred in. */
  lastTick = 0;
  /**
   * Whether the next tick may carry any number: true after an accepted hello, false once a step
   * was taken or a state applied, when only lastTick + 1 is stepped (PROTOCOL.md 7.3).
   */
  anyTickNext = true;
  /** Self-test hash this replica reports; overridable to simulate a replica built with another law. */
  lawHash: number;
  /** Protocol version this replica speaks; overridable to simulate a board built for another. */
  protocolVersion: number = PROTOCOL_VERSION;

  constructor(
    readonly law: LoadedLaw<S>,
    readonly implementation: string = NODE_REPLICA_IMPLEMENTATION,
  ) {
    this.lawHash = law.selfTestHash;
    this.outputs = new Int32Array(law.outputCount);
  }

  private ack(replicaIndex: number): HelloAckMessage {
    return {
      kind: 'helloAck',
      protocolVersion: this.protocolVersion,
      replicaIndex,
      implementation: this.implementation,
      lawName: this.law.name,
      lawVersion: this.law.version,
      lawHash: this.lawHash,
    };
  }

  /** PROTOCOL.md's hello rules, in order: version, law identity, parameters; then configured. */
  onHello(msg: HelloMessage): HelloAckMessage | ErrorMessage {
    const law = this.law;
    if (msg.protocolVersion !== this.protocolVersion || msg.lawName !== law.name || msg.lawVersion !== law.version || msg.inputCount !== law.inputCount || msg.outputCount !== law.outputCount) {
      // Not our version or not our law: say what we are and stay unconfigured; the host refuses us.
      this.unconfigure();
      return this.ack(msg.replicaIndex);
    }
    const problem = law.paramsProblem(msg.lawParams);
    if (problem !== null) {
      this.unconfigure();
      return { kind: 'error', code: ERROR_CODE.BAD_LAW_PARAMS, detail: `law ${law.name} parameters rejected: ${problem}`.slice(0, 60) };
    }
    this.params = Int32Array.from(msg.lawParams);
    this.state = law.definition.init(this.params);
    this.replicaIndex = msg.replicaIndex;
    this.lastTick = 0;
    this.anyTickNext = true;
    return this.ack(msg.replicaIndex);
  }

  /**
   * A hello asking for exactly the configuration this replica already runs (version, law, channel
   * counts, parameters, index): the acknowledgement, without a reset. A second voter of a
   * redundant set joins a running replica this way (its controller state and tick go on). Null
   * for any other hello, which is handled by onHello (a reset), and before the first.
   */
  joinAck(msg: HelloMessage): HelloAckMessage | null {
    const law = this.law;
    const params = this.params;
    if (this.state === null || params === null) return null;
    if (msg.protocolVersion !== this.protocolVersion || msg.lawName !== law.name || msg.lawVersion !== law.version || msg.inputCount !== law.inputCount || msg.outputCount !== law.outputCount) return null;
    if (msg.replicaIndex !== this.replicaIndex || msg.lawParams.length !== params.length) return null;
    for (let i = 0; i < params.length; i++) if (msg.lawParams[i] !== params[i]) return null;
    return this.ack(msg.replicaIndex);
  }

  private unconfigure(): void {
    this.params = null;
    this.state = null;
  }

  /** One control step; outputs land in this.outputs. */
  onTick(tick: number, inputs: ArrayLike<number>): TickOutcome {
    if (this.state === null) return { ok: false, error: { kind: 'error', code: ERROR_CODE.NOT_CONFIGURED, detail: 'tick before hello' } };
    // A tick that is not the next one means a step was lost (or one is repeated): stepping it
    // would run a state the majority no longer has. Refused, and every tick after it, until a
    // hello or a state transfer: the replica stays out of the vote rather than outvote it.
    const expected = (this.lastTick + 1) >>> 0;
    if (!this.anyTickNext && tick !== expected) return { ok: false, error: { kind: 'error', code: ERROR_CODE.TICK_GAP, detail: `tick ${tick}, expected ${expected}` } };
    if (!isUint32(tick) || inputs.length !== this.law.inputCount || !this.law.inputsValid(inputs)) {
      return { ok: false, error: { kind: 'error', code: ERROR_CODE.INPUT_OUT_OF_RANGE, detail: `tick ${tick} inputs out of range` } };
    }
    this.law.definition.step(this.state, inputs as Int32Array, this.outputs);
    this.lastTick = tick;
    this.anyTickNext = false;
    return { ok: true, stateDigest: this.law.digest(this.state) };
  }

  /** The state digest now (0 before a hello). */
  digest(): number {
    return this.state === null ? 0 : this.law.digest(this.state);
  }

  snapshot(): StateMessage {
    const state = this.state;
    if (state === null) return { kind: 'state', tick: this.lastTick, stateBytes: new Uint8Array(this.law.definition.stateSizeBytes), stateDigest: 0 };
    return { kind: 'state', tick: this.lastTick, stateBytes: this.law.stateBytes(state), stateDigest: this.law.digest(state) };
  }

  /** Applies a transferred state: the bytes' CRC must be the digest and the law must accept them, or nothing changes. */
  applyState(msg: StateMessage): ErrorMessage | null {
    if (this.state === null) return { kind: 'error', code: ERROR_CODE.NOT_CONFIGURED, detail: 'state before hello' };
    const expected = this.law.definition.stateSizeBytes;
    if (msg.stateBytes.length !== expected) return { kind: 'error', code: ERROR_CODE.BAD_STATE, detail: `state is ${msg.stateBytes.length} bytes, expected ${expected}` };
    if (crc32(msg.stateBytes) !== msg.stateDigest) return { kind: 'error', code: ERROR_CODE.BAD_STATE, detail: 'state digest mismatch' };
    const refused = this.law.definition.deserialize(this.state, msg.stateBytes);
    if (refused !== null) return { kind: 'error', code: ERROR_CODE.BAD_STATE, detail: refused.slice(0, 60) };
    this.lastTick = msg.tick;
    this.anyTickNext = false;
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
        this.unconfigure();
        return null;
      case 'stateRequest':
        return this.state === null ? { kind: 'error', code: ERROR_CODE.NOT_CONFIGURED, detail: 'state request before hello' } : this.snapshot();
      case 'state':
        return this.applyState(msg) ?? this.heartbeat();
      default:
        return { kind: 'error', code: ERROR_CODE.UNEXPECTED_MESSAGE, detail: `unexpected ${msg.kind}` };
    }
  }

  heartbeat(): Message {
    return { kind: 'heartbeat', lastTick: this.lastTick, stateDigest: this.digest() };
  }
}
