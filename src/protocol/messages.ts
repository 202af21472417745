/**
 * Protocol v3 messages (v2: the tick carries the law's input channels, hello and helloAck name the
 * law by name, version, channel counts and self-test hash; any law. v3: a replica steps only the
 * tick after its last one and answers any other with error TICK_GAP; PROTOCOL.md). On the wire each message is a CBOR array whose first element is the
 * message type number and whose remaining elements are the fields, in the order listed here.
 * Only unsigned/negative integers, one short text string and one byte string appear, so a
 * microcontroller needs a very small CBOR subset. Framing (CRC-32, COBS, 0x00) is in frame.ts.
 */

export const PROTOCOL_VERSION = 3;

/** Message type numbers (first array element on the wire). */
export const MESSAGE_TYPE = {
  hello: 0,
  helloAck: 1,
  refuse: 2,
  tick: 3,
  output: 4,
  heartbeat: 5,
  stateRequest: 6,
  state: 7,
  error: 8,
  inject: 9,
} as const;
export type MessageKind = keyof typeof MESSAGE_TYPE;

/** Limits every implementation (host, process replica, board) enforces. */
export const LIMITS = {
  /** Bytes of one CBOR payload. */
  payloadBytesMax: 240,
  /** Bytes on the wire for one frame: COBS(payload + CRC-32) + 0x00 delimiter. */
  frameBytesMax: 256,
  /** Output channels in one output message. */
  outputChannelsMax: 8,
  /** Input channels in one tick message. */
  inputChannelsMax: 8,
  /** UTF-8 bytes of a law's name in hello and helloAck. */
  lawNameBytesMax: 24,
  /** Law parameters in one hello. */
  lawParamsMax: 8,
  /** UTF-8 bytes of the implementation name in helloAck. */
  implementationBytesMax: 32,
  /** Bytes of serialised controller state in a state message. */
  stateBytesMax: 64,
  /** Bytes of the detail text in an error message. */
  errorDetailBytesMax: 64,
  /** Replica indexes are < this. */
  replicaIndexLimit: 16,
} as const;

/** Why the host refused a replica at the handshake (refuse.reason, also in events and summaries). */
export const REFUSE_REASON = {
  PROTOCOL_VERSION_MISMATCH: 1,
  /** The law's name, version or channel counts differ. */
  LAW_MISMATCH: 2,
  LAW_HASH_MISMATCH: 3,
  REPLICA_INDEX_MISMATCH: 4,
  LAW_PARAMS_REJECTED: 5,
} as const;
export type RefuseReason = keyof typeof REFUSE_REASON;

/** Errors a replica reports about what it received (error.code). */
export const ERROR_CODE = {
  MALFORMED_FRAME: 1,
  UNEXPECTED_MESSAGE: 2,
  NOT_CONFIGURED: 3,
  INPUT_OUT_OF_RANGE: 4,
  BAD_STATE: 5,
  BAD_LAW_PARAMS: 6,
  /** A tick that is not the one after the last step or state (v3): a step was lost. */
  TICK_GAP: 7,
} as const;
export type ErrorCode = keyof typeof ERROR_CODE;

/** Fault kinds a replica can be asked to simulate (inject.fault). Test and bench use only. */
export const FAULT_KIND = {
  crash: 1,
  hang: 2,
  wrong: 3,
  stuck: 4,
  late: 5,
  babble: 6,
  state: 7,
  bitflip: 8,
} as const;
export type FaultKind = keyof typeof FAULT_KIND;
export const FAULT_KINDS = Object.keys(FAULT_KIND) as FaultKind[];

/**
 * host -> replica: start of the handshake.
 * [0, protocolVersion, replicaIndex, lawName, lawVersion, inputCount, outputCount, lawHash, [lawParams…]]
 */
export interface HelloMessage {
  readonly kind: 'hello';
  readonly protocolVersion: number;
  readonly replicaIndex: number;
  readonly lawName: string;
  readonly lawVersion: number;
  readonly inputCount: number;
  readonly outputCount: number;
  /** The host's self-test hash of the law (uint32): what the replica's own must equal. */
  readonly lawHash: number;
  /** Law parameters as int32 values, in the law's declared order. */
  readonly lawParams: readonly number[];
}

/** replica -> host. [1, protocolVersion, replicaIndex, implementation, lawName, lawVersion, lawHash] */
export interface HelloAckMessage {
  readonly kind: 'helloAck';
  readonly protocolVersion: number;
  readonly replicaIndex: number;
  /** Short free text naming the implementation, e.g. "node-replica/3". */
  readonly implementation: string;
  readonly lawName: string;
  readonly lawVersion: number;
  /** The law's self-test hash (uint32), computed by the replica itself. */
  readonly lawHash: number;
}

/** host -> replica: you are not admitted. [2, reason] */
export interface RefuseMessage {
  readonly kind: 'refuse';
  readonly reason: number;
}

/** host -> replica: one control step. [3, tick, [inputs…]] */
export interface TickMessage {
  readonly kind: 'tick';
  /** uint32 */
  readonly tick: number;
  /** One int32 per input channel of the law, in declared order. */
  readonly inputs: ArrayLike<number>;
}

/** replica -> host: the step's result; its tick and digest prove progress. [4, tick, [outputs…], stateDigest] */
export interface OutputMessage {
  readonly kind: 'output';
  readonly tick: number;
  readonly outputs: readonly number[];
  /** CRC-32 of the serialised controller state after this step (uint32). */
  readonly stateDigest: number;
}

/** replica -> host while idle (no ticks arriving). [5, lastTick, stateDigest] */
export interface HeartbeatMessage {
  readonly kind: 'heartbeat';
  readonly lastTick: number;
  readonly stateDigest: number;
}

/** host -> replica: send your state as of your last completed tick. [6, tick] */
export interface StateRequestMessage {
  readonly kind: 'stateRequest';
  readonly tick: number;
}

/** Either way: a controller state snapshot taken at a tick boundary. [7, tick, stateBytes, stateDigest] */
export interface StateMessage {
  readonly kind: 'state';
  readonly tick: number;
  readonly stateBytes: Uint8Array;
  readonly stateDigest: number;
}

/** Either way: a report about a received message. [8, code, detail] */
export interface ErrorMessage {
  readonly kind: 'error';
  readonly code: number;
  readonly detail: string;
}

/** host -> replica (test builds only): simulate a fault. [9, fault, durationTicks, param] */
export interface InjectMessage {
  readonly kind: 'inject';
  readonly fault: number;
  /** 0 = until the end of the run. */
  readonly durationTicks: number;
  /** Fault-specific: offset of output 0 for wrong, the state byte and bit for state, delay in µs for late, ticks back for stuck, PRNG seed for babble and bitflip. */
  readonly param: number;
}

export type Message =
  | HelloMessage
  | HelloAckMessage
  | RefuseMessage
  | TickMessage
  | OutputMessage
  | HeartbeatMessage
  | StateRequestMessage
  | StateMessage
  | ErrorMessage
  | InjectMessage;
