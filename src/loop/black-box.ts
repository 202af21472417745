/**
 * The black-box log: an append-only binary record of every tick of a run, enough to re-run the
 * voter and the control law over it bit for bit (`tmr replay`) and to see afterwards what
 * happened (`tmr log`). Read by black-box-reader.ts.
 *
 * File:    "TMRBBX2\n" (8 bytes), then records. (Logs that begin "TMRBBX1\n", formats 2 and 3, had
 *          records without the length check; they are still read.)
 * Record:  payload length (uint32 LE, 1..RECORD_BYTES_MAX) · CRC-32 of those 4 length bytes
 *          (uint32 LE) · payload (CBOR) · CRC-32 of the payload (uint32 LE). A record is valid only
 *          whole and with both CRCs. The length's own CRC is what lets a reader tell a torn tail
 *          from damage by the format: a file that ends inside a record whose length checks out (or
 *          inside the 8-byte length field itself) was cut short while being written; any record
 *          that fails a check with its whole extent inside the file is damage, wherever it is.
 * Payload: a CBOR array whose first element is the record type:
 *   [0, header]  once, first: { version, law: { name, version, selfTestHash, source }, plant,
 *                rateHz, replicaCount, seed, simplexPolicy, limits, injects, safeOutputs,
 *                initialExcluded: [[replica, reason, detail]…], wallClockStart }
 *   [1, tick, inputs[], onTimeMask, outputs[], digests[], late[], protocolErrors[], linkDownMask,
 *       commands[], source, mode, inServiceMask, events[], hostLate]
 *                every tick, ticks 0, 1, 2, … in order; outputs hold replicaCount × channels values
 *                (0 where not on time); events are [kind, replica, reason] (replica −1 and reason ''
 *                where not applicable; a common-mode episode's reason says its cause, outcome and
 *                length); hostLate is 1 when the host was late itself that tick (format 3 and later;
 *                absent in format 2)
 *   [2, end]     last, on an orderly end: { ticks, reason, unsafeCommands, votedTraceHash }
 *
 * Flush policy (stated in the README): records collect in one fixed buffer (BUFFER_BYTES) and are
 * written with one write(2) when it is half full, when FLUSH_PERIOD_MS of wall time has passed
 * since the last write, at once after a tick with a health or mode change, and at the end. A
 * write(2) of whole records hands them to the kernel, so a voter killed by SIGKILL loses at most
 * the records of the last FLUSH_PERIOD_MS; fsync is called at the end and after health changes, so
 * a power cut loses no health change. Memory is bounded by the buffer: a record that does not fit
 * is a bug (asserted).
 *
 * A write that fails (a full disk, a file-size limit, an I/O error) never stops the loop: the
 * writer cuts the file back to its last complete record, closes it, keeps the failure (path,
 * errno, the tick being written, the last tick on disk) for the caller to report, and drops every
 * later record. Only opening the file and writing its first bytes throw (BlackBoxWriteError),
 * before any tick runs.
 *
 * Loop layer (src/loop/): imports only core, protocol, law and src/loop, plus node:fs, node:zlib
 * and cbor-x for the file itself.
 */
import { closeSync, constants, fsyncSync, ftruncateSync, openSync, statSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { Encoder } from 'cbor-x';
import { assert } from '../core/assert.js';
import type { Mode } from '../core/degradation.js';
import type { CommandSource, CoreEvent, Observations, StepResult } from '../core/tmr-core.js';
import type { LoopOptions } from './loop-model.js';

/** The magic of logs with checked lengths (format 4). */
export const BLACK_BOX_MAGIC = 'TMRBBX2\n';
/** The magic of formats 2 and 3 (lengths unchecked), still read. */
export const BLACK_BOX_MAGIC_UNCHECKED = 'TMRBBX1\n';
/**
 * 2: any law (inputs and commands per channel, the law named in the header). 3: common-mode
 * episodes (the header's commonModeLimitMs and stalls, each tick's hostLate). 4: the same records,
 * each length with its own CRC (magic TMRBBX2). Formats 2 and 3 are still read, format 2 replayed
 * with episodes off, as it was run.
 */
export const BLACK_BOX_VERSION = 4;
/** Largest payload of one record. */
export const RECORD_BYTES_MAX = 16 * 1024;
/** Bytes around a payload: its length, the length's CRC, and the payload's CRC. */
export const RECORD_OVERHEAD_BYTES = 12;
const BUFFER_BYTES = 256 * 1024;
const FLUSH_PERIOD_MS = 100;

export const SOURCES: readonly CommandSource[] = ['voted', 'held', 'simplex', 'safe'];
export const LOG_MODES: readonly Mode[] = ['tmr', 'duplex', 'simplex', 'safe'];

/** The CRC of a record's length field: CRC-32 of its 4 little-endian bytes. */
export function lengthCheck(length: number): number {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(length, 0);
  return crc32(bytes);
}

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

/** The log could not be created, or its first bytes not written: before the run starts. */
export class BlackBoxWriteError extends Error {
  override readonly name = 'BlackBoxWriteError';
}

/** Why the log stopped short: what failed, where, and what the file still holds. */
export interface BlackBoxWriteFailure {
  readonly path: string;
  /** The errno name (EFBIG, ENOSPC, EIO, …), or the error's message when it has none. */
  readonly code: string;
  readonly message: string;
  /** The tick being written when the write failed (-1: the header or before). */
  readonly tick: number;
  /** The last tick whose record is whole in the file (-1: none). */
  readonly lastTickOnDisk: number;
  /** Records not written: those of the failed write and every later one. */
  recordsDropped: number;
  /** The file was cut back to its last complete record (false where it could not be, e.g. a device). */
  readonly cutBack: boolean;
}

function errnoCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
}

/** An errno error as one line: "EFBIG: file too large" (Node's message without the syscall). */
export function errnoMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/, (write|open|fsync|close|ftruncate)( '[^']*')?$/, '');
}

export class BlackBoxWriter {
  private readonly fd: number;
  private readonly buffer = Buffer.alloc(BUFFER_BYTES);
  private used = 0;
  private lastFlushMs: number;
  private readonly encoder = new Encoder({ useRecords: false, tagUint8Array: false });
  /** The last tick record in the buffer, and the last one whole on disk (-1: none). */
  private lastTickBuffered = -1;
  private lastTickOnDisk = -1;
  private recordsBuffered = 0;
  private closed = false;
  bytesWritten = 0;
  recordsWritten = 0;
  /** Set once, by the first failed write; from then on records are counted and dropped. */
  failure: BlackBoxWriteFailure | null = null;

  /** Creates (or empties) `path` and writes the magic; throws BlackBoxWriteError naming the path if it cannot. */
  constructor(
    readonly path: string,
    private readonly clockMs: ClockMs,
  ) {
    const existing = statSync(path, { throwIfNoEntry: false });
    // A FIFO or a device would block the open or take records nowhere a reader can find them.
    if (existing !== undefined && !existing.isFile()) throw new BlackBoxWriteError(`${path}: not a regular file; a black-box log must be a file`);
    try {
      this.fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o644);
    } catch (error) {
      throw new BlackBoxWriteError(`${path}: cannot create (${errnoMessage(error)})`);
    }
    try {
      const magic = Buffer.from(BLACK_BOX_MAGIC, 'latin1');
      writeSync(this.fd, magic, 0, magic.length);
      fsyncSync(this.fd);
    } catch (error) {
      closeSync(this.fd);
      throw new BlackBoxWriteError(`${path}: cannot write (${errnoMessage(error)})`);
    }
    this.bytesWritten = BLACK_BOX_MAGIC.length;
    this.lastFlushMs = clockMs();
  }

  writeHeader(header: BlackBoxHeader): void {
    this.append([0, header], -1);
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
    ], tick);
    const healthChanged = events.length > 0;
    if (healthChanged || this.used >= BUFFER_BYTES / 2 || this.clockMs() - this.lastFlushMs >= FLUSH_PERIOD_MS) this.flush(healthChanged);
  }

  writeEnd(end: EndRecord): void {
    this.append([2, end], this.lastTickBuffered);
    this.flush(true);
  }

  /** Flushes what is buffered and closes the file; never throws for the file's sake (a failure is kept). */
  close(): void {
    if (this.closed) return;
    this.flush(true);
    if (this.closed) return;
    this.closed = true;
    try {
      closeSync(this.fd);
    } catch (error) {
      this.failed(error);
    }
  }

  private append(payloadValue: unknown, tick: number): void {
    if (this.dropped()) return;
    const payload = this.encoder.encode(payloadValue);
    assert(payload.length >= 1 && payload.length <= RECORD_BYTES_MAX, `black-box record of ${payload.length} bytes`);
    if (this.used + payload.length + RECORD_OVERHEAD_BYTES > BUFFER_BYTES) this.flush(false);
    if (this.dropped()) return;
    const b = this.buffer;
    b.writeUInt32LE(payload.length, this.used);
    b.writeUInt32LE(lengthCheck(payload.length), this.used + 4);
    payload.copy(b, this.used + 8);
    b.writeUInt32LE(crc32(payload), this.used + 8 + payload.length);
    this.used += payload.length + RECORD_OVERHEAD_BYTES;
    this.recordsBuffered++;
    this.lastTickBuffered = tick;
  }

  /** After a failure (or the close) a record is counted as dropped instead of written. */
  private dropped(): boolean {
    if (this.failure !== null) this.failure.recordsDropped++;
    return this.failure !== null || this.closed;
  }

  private flush(sync: boolean): void {
    if (this.failure !== null || this.closed) return;
    try {
      let offset = 0;
      // Bounded: each write moves at least one byte or throws.
      while (offset < this.used) offset += writeSync(this.fd, this.buffer, offset, this.used - offset);
      if (sync) fsyncSync(this.fd);
    } catch (error) {
      this.failed(error);
      return;
    }
    this.bytesWritten += this.used;
    this.recordsWritten += this.recordsBuffered;
    this.lastTickOnDisk = this.lastTickBuffered;
    this.used = 0;
    this.recordsBuffered = 0;
    this.lastFlushMs = this.clockMs();
  }

  /** The first failure: cut the file back to its last complete record, close it, drop what was buffered. */
  private failed(error: unknown): void {
    let cutBack = true;
    try {
      ftruncateSync(this.fd, this.bytesWritten);
      fsyncSync(this.fd);
    } catch {
      cutBack = false;
    }
    try {
      if (!this.closed) closeSync(this.fd);
    } catch {
      // Already failing: the first error is the one reported.
    }
    this.closed = true;
    this.failure = {
      path: this.path,
      code: errnoCode(error),
      message: errnoMessage(error),
      tick: this.lastTickBuffered,
      lastTickOnDisk: this.lastTickOnDisk,
      recordsDropped: this.recordsBuffered,
      cutBack,
    };
    this.used = 0;
    this.recordsBuffered = 0;
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

