/**
 * The black-box log: an append-only binary record of every tick of a run, enough to re-run the
 * voter and the control law over it bit for bit (`tmr replay`) and to see afterwards what
 * happened (`tmr log`).
 *
 * File:    "TMRBBX1\n" (8 bytes), then records.
 * Record:  payload length (uint32 LE, 1..RECORD_BYTES_MAX) · payload (CBOR) · CRC-32 of the payload
 *          (uint32 LE). A record is valid only whole and with its CRC.
 * Payload: a CBOR array whose first element is the record type:
 *   [0, header]  once, first: { version, law: { name, version, selfTestHash, source }, plant,
 *                rateHz, replicaCount, seed, simplexPolicy, limits, injects, safeOutputs,
 *                initialExcluded: [[replica, reason, detail]…], wallClockStart }
 *   [1, tick, inputs[], onTimeMask, outputs[], digests[], late[], protocolErrors[], linkDownMask,
 *       commands[], source, mode, inServiceMask, events[], hostLate]
 *                every tick; outputs hold replicaCount × channels values (0 where not on time);
 *                events are [kind, replica, reason] (replica −1 and reason '' where not applicable;
 *                a common-mode episode's reason says its cause, outcome and length); hostLate is 1
 *                when the host was late itself that tick (format 3; absent in format 2)
 *   [2, end]     last, on an orderly end: { ticks, reason, unsafeCommands, votedTraceHash }
 *
 * Flush policy (stated in the README): records collect in one fixed buffer (BUFFER_BYTES) and are
 * written with one write(2) when it is half full, when FLUSH_PERIOD_MS of wall time has passed
 * since the last write, at once after a tick with a health or mode change, and at the end. A
 * write(2) of whole records hands them to the kernel, so a voter killed by SIGKILL loses at most
 * the records of the last FLUSH_PERIOD_MS (never part of a record, never anything before);
 * fsync is called at the end and after health changes, so a power cut loses no health change.
 * Memory is bounded by the buffer: a record that does not fit is a bug (asserted).
 *
 * Loop layer (src/loop/): imports only core, protocol, law and src/loop, plus node:fs and cbor-x
 * for the file itself.
 */
import { closeSync, fsyncSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { Encoder } from 'cbor-x';
import { assert } from '../core/assert.js';
import { crc32 } from '../core/crc32.js';
import type { Mode } from '../core/degradation.js';
import type { CommandSource, CoreEvent, Observations, StepResult } from '../core/tmr-core.js';
import type { LoopOptions } from './loop-model.js';

export const BLACK_BOX_MAGIC = 'TMRBBX1\n';
/**
 * 2: any law (inputs and commands per channel, the law named in the header). 3: common-mode
 * episodes (the header's commonModeLimitMs and stalls, each tick's hostLate). Format 2 is still
 * read, and replayed with episodes off, as it was run.
 */
export const BLACK_BOX_VERSION = 3;
const BLACK_BOX_VERSIONS_READ: readonly number[] = [2, 3];
/** Largest payload of one record. */
export const RECORD_BYTES_MAX = 16 * 1024;
const BUFFER_BYTES = 256 * 1024;
const FLUSH_PERIOD_MS = 100;

export const SOURCES: readonly CommandSource[] = ['voted', 'held', 'simplex', 'safe'];
export const LOG_MODES: readonly Mode[] = ['tmr', 'duplex', 'simplex', 'safe'];

export interface BlackBoxHeader {
  readonly version: number;
  /** The law the replicas ran; replay loads it by `source` (a shipped name or a module path) and checks the hash. */
  readonly law: {
    readonly name: string;
    readonly version: number;
    readonly selfTestHash: number;
    readonly source: string;
    readonly inputs: readonly string[];
    readonly outputs: readonly string[];
  };
  readonly plant: string;
  readonly rateHz: number;
  readonly replicaCount: number;
  readonly seed: number;
  readonly ticks: number;
  readonly simplexPolicy: LoopOptions['simplexPolicy'];
  readonly deadlineMissLimit: number;
  readonly errorDensityLimit: number;
  readonly quorumLossTicksMax: number;
  /** Longest common-mode episode ridden through, ms (absent in format 2: episodes off). */
  readonly commonModeLimitMs?: number;
  /** Machine-wide stalls injected (absent in format 2). */
  readonly stalls?: LoopOptions['stalls'];
  /** Recovery settings (probation length matters to replay); absent in logs from before recovery. */
  readonly recovery?: LoopOptions['recovery'];
  /** Each output channel's safe value. */
  readonly safeOutputs: readonly number[];
  readonly injects: LoopOptions['injects'];
  /** Replicas out before tick 0 (refused at handshake): [replica, reason, detail]. */
  readonly initialExcluded: readonly (readonly [number, string, string])[];
  /** Wall-clock start, ISO 8601: for people, never used by replay. */
  readonly wallClockStart: string;
}

export interface TickRecord {
  readonly tick: number;
  /** The inputs every replica was sent, one per law input channel. */
  readonly inputs: readonly number[];
  readonly onTimeMask: number;
  readonly outputs: readonly number[];
  readonly digests: readonly number[];
  readonly lateReplies: readonly number[];
  readonly protocolErrors: readonly number[];
  readonly linkDownMask: number;
  /** The command on every output channel. */
  readonly commands: readonly number[];
  readonly source: CommandSource;
  readonly mode: Mode;
  readonly inServiceMask: number;
  readonly events: readonly (readonly [string, number, string])[];
  /** The host was late itself this tick (false in format 2). */
  readonly hostLate: boolean;
}

export interface EndRecord {
  readonly ticks: number;
  readonly reason: string;
  readonly unsafeCommands: number;
  readonly votedTraceHash: string;
}

/** A clock in milliseconds (injected, so tests decide when the writer flushes). */
export type ClockMs = () => number;

export class BlackBoxWriter {
  private readonly fd: number;
  private readonly buffer = Buffer.alloc(BUFFER_BYTES);
  private used = 0;
  private lastFlushMs: number;
  private readonly encoder = new Encoder({ useRecords: false, tagUint8Array: false });
  bytesWritten = 0;
  recordsWritten = 0;

  constructor(
    readonly path: string,
    private readonly clockMs: ClockMs,
  ) {
    this.fd = openSync(path, 'w');
    this.buffer.write(BLACK_BOX_MAGIC, 0, 'latin1');
    this.used = BLACK_BOX_MAGIC.length;
    this.lastFlushMs = clockMs();
  }

  writeHeader(header: BlackBoxHeader): void {
    this.append([0, header]);
    this.flush(true);
  }

  /** One tick, from the observations and the step result (both valid until the next tick). */
  writeTick(tick: number, inputs: Int32Array, obs: Observations, result: StepResult): void {
    let onTimeMask = 0;
    let linkDownMask = 0;
    for (let i = 0; i < obs.replicaCount; i++) {
      if (obs.onTime[i] === 1) onTimeMask |= 1 << i;
      if (obs.linkDown[i] === 1) linkDownMask |= 1 << i;
    }
    const outputs = Array.from(obs.outputs, (v, k) => ((onTimeMask >> Math.floor(k / obs.channelCount)) & 1 ? v : 0));
    const digests = Array.from(obs.digests, (v, i) => ((onTimeMask >> i) & 1 ? v : 0));
    const events = result.events.map(eventFields);
    this.append([
      1, tick, Array.from(inputs), onTimeMask, outputs, digests, Array.from(obs.lateReplies), Array.from(obs.protocolErrors),
      linkDownMask, Array.from(result.commands), SOURCES.indexOf(result.commandSource), LOG_MODES.indexOf(result.mode), result.inServiceMask, events,
      obs.hostLate ? 1 : 0,
    ]);
    const healthChanged = events.length > 0;
    if (healthChanged || this.used >= BUFFER_BYTES / 2 || this.clockMs() - this.lastFlushMs >= FLUSH_PERIOD_MS) this.flush(healthChanged);
  }

  writeEnd(end: EndRecord): void {
    this.append([2, end]);
    this.flush(true);
  }

  close(): void {
    this.flush(true);
    closeSync(this.fd);
  }

  private append(payloadValue: unknown): void {
    const payload = this.encoder.encode(payloadValue);
    assert(payload.length >= 1 && payload.length <= RECORD_BYTES_MAX, `black-box record of ${payload.length} bytes`);
    if (this.used + payload.length + 8 > BUFFER_BYTES) this.flush(false);
    const b = this.buffer;
    b.writeUInt32LE(payload.length, this.used);
    payload.copy(b, this.used + 4);
    b.writeUInt32LE(crc32(payload), this.used + 4 + payload.length);
    this.used += payload.length + 8;
    this.recordsWritten++;
  }

  private flush(sync: boolean): void {
    let offset = 0;
    // Bounded: each write moves at least one byte or throws.
    while (offset < this.used) offset += writeSync(this.fd, this.buffer, offset, this.used - offset);
    this.bytesWritten += this.used;
    this.used = 0;
    this.lastFlushMs = this.clockMs();
    if (sync) fsyncSync(this.fd);
  }
}

/** A core event as the log keeps it: [kind, replica or −1, reason or a few words]. */
export function eventFields(e: CoreEvent): readonly [string, number, string] {
  switch (e.kind) {
    case 'commonModeStarted':
      return [e.kind, -1, `${e.cause} replicas ${maskText(e.silentMask)}`];
    case 'commonModeEnded':
      return [e.kind, -1, `${e.outcome} ${e.cause} ${e.lengthTicks} ticks from ${e.startTick} replicas ${maskText(e.silentMask)}`];
    default:
      return [e.kind, 'replicaIndex' in e ? e.replicaIndex : -1, 'reason' in e ? String(e.reason) : ''];
  }
}

function maskText(mask: number): string {
  const list: number[] = [];
  for (let i = 0; mask !== 0; i++, mask >>>= 1) if (mask & 1) list.push(i);
  return list.join(',');
}

/** What reading a log found. */
export interface BlackBoxContents {
  readonly header: BlackBoxHeader | null;
  readonly ticks: TickRecord[];
  readonly end: EndRecord | null;
  /** Bytes after the last complete record (a tail torn by a crash); 0 for a clean file. */
  readonly tornBytes: number;
  /** A bad record with more data after it (not a torn tail): where, and why reading stopped there. */
  readonly corruption: string | null;
  readonly fileBytes: number;
}

export class BlackBoxFormatError extends Error {
  override readonly name = 'BlackBoxFormatError';
}

/**
 * Reads a whole log. A torn tail is cut and measured; a bad record with data after it stops the
 * reading there and is reported as corruption. Either way every record before it is returned.
 */
export function readBlackBox(path: string): BlackBoxContents {
  const data = readWhole(path);
  if (data.length < BLACK_BOX_MAGIC.length || data.toString('latin1', 0, BLACK_BOX_MAGIC.length) !== BLACK_BOX_MAGIC) {
    throw new BlackBoxFormatError(`${path}: not a tmr black-box log (no ${JSON.stringify(BLACK_BOX_MAGIC.trim())} at the start)`);
  }
  const decoder = new Encoder({ useRecords: false });
  let header: BlackBoxHeader | null = null;
  let end: EndRecord | null = null;
  const ticks: TickRecord[] = [];
  let offset = BLACK_BOX_MAGIC.length;
  let stopReason = '';
  while (offset < data.length) {
    if (data.length - offset < 4) break;
    const length = data.readUInt32LE(offset);
    if (length < 1 || length > RECORD_BYTES_MAX) {
      stopReason = `record at byte ${offset} claims ${length} bytes`;
      break;
    }
    if (data.length - offset < length + 8) break;
    const payload = data.subarray(offset + 4, offset + 4 + length);
    if (crc32(payload) !== data.readUInt32LE(offset + 4 + length)) {
      stopReason = `record at byte ${offset} fails its CRC`;
      break;
    }
    const value = decoder.decode(payload) as unknown[];
    const type = value[0];
    if (type === 0) {
      header = value[1] as BlackBoxHeader;
      // Format 1 (before laws were modules) records pid-q16's two inputs and one command in other places.
      if (!BLACK_BOX_VERSIONS_READ.includes(header?.version as number)) {
        throw new BlackBoxFormatError(`${path}: log format ${String(header?.version)}, written by another tmr; this one reads formats ${BLACK_BOX_VERSIONS_READ.join(' and ')}`);
      }
    } else if (type === 1) ticks.push(tickRecord(value));
    else if (type === 2) end = value[1] as EndRecord;
    else {
      stopReason = `record at byte ${offset} has unknown type ${String(type)}`;
      break;
    }
    offset += length + 8;
  }
  const corrupt = stopReason !== '' && !isLastRecordTorn(data, offset);
  return {
    header, ticks, end, fileBytes: data.length,
    tornBytes: corrupt ? 0 : data.length - offset,
    corruption: corrupt ? `${stopReason}, with ${data.length - offset} bytes from there on: the log is damaged, not just cut short` : null,
  };
}

/** A record that fails its checks is a torn tail only if nothing could follow it within the file. */
function isLastRecordTorn(data: Buffer, offset: number): boolean {
  const length = data.readUInt32LE(offset);
  return length >= 1 && length <= RECORD_BYTES_MAX && offset + length + 8 >= data.length;
}

function tickRecord(v: unknown[]): TickRecord {
  return {
    tick: v[1] as number,
    inputs: v[2] as number[],
    onTimeMask: v[3] as number,
    outputs: v[4] as number[],
    digests: v[5] as number[],
    lateReplies: v[6] as number[],
    protocolErrors: v[7] as number[],
    linkDownMask: v[8] as number,
    commands: v[9] as number[],
    source: SOURCES[v[10] as number] as CommandSource,
    mode: LOG_MODES[v[11] as number] as Mode,
    inServiceMask: v[12] as number,
    events: v[13] as [string, number, string][],
    hostLate: v[14] === 1,
  };
}

/** Largest log read at once (a 200 Hz run writes about 41 MB an hour). */
export const LOG_BYTES_MAX = 1 << 30;

function readWhole(path: string): Buffer {
  const sizeBytes = statSync(path).size;
  if (sizeBytes > LOG_BYTES_MAX) throw new BlackBoxFormatError(`${path}: ${sizeBytes} bytes, larger than ${LOG_BYTES_MAX}`);
  return readFileSync(path);
}
