/**
 * Reading a black-box log (format in black-box.ts) as a stream: one record at a time from a
 * fixed window of the file, so a log of any length the writer can produce is read in bounded
 * memory (`tmr log`, `tmr replay`).
 *
 * What it tells apart, by the format and not by guessing (format 4, magic TMRBBX2):
 *   - a torn tail: the file ends inside a record's 8-byte length field, or inside a record whose
 *     length passes its CRC. That is what a writer cut short leaves. Everything before it is read.
 *   - damage: a record whose length fails its CRC, whose payload fails its CRC, that does not
 *     decode, that decodes to something that is not a record of this format (every field checked,
 *     as a frame's are), or that stands where it may not (a second header, a tick out of order,
 *     anything after the end record). Reading stops there; the damage is named with its byte
 *     offset, and every record before it has been read.
 * Logs of formats 2 and 3 (magic TMRBBX1) have no length CRC: a bad record whose claimed extent
 * runs past the end of the file is taken for a torn tail there, as those versions did.
 *
 * Loop layer (src/loop/): node:fs, node:zlib and cbor-x for the file, and src/loop.
 */
import { closeSync, readSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { Encoder } from 'cbor-x';
import type { Mode } from '../core/degradation.js';
import type { CommandSource } from '../core/tmr-core.js';
import { PROBATION_TICKS_MAX } from '../core/tmr-core.js';
import { REPLICA_COUNT_MAX } from '../core/voter.js';
import { FAULT_KINDS } from '../protocol/messages.js';
import {
  BLACK_BOX_MAGIC, BLACK_BOX_MAGIC_UNCHECKED, LOG_MODES, RECORD_BYTES_MAX, SOURCES,
  type BlackBoxHeader, type EndRecord, type TickRecord,
} from './black-box.js';
import { InputFileError, openInputFile } from './input-file.js';

/** The file read window: records are at most RECORD_BYTES_MAX + 12, so any window larger holds one whole. */
const WINDOW_BYTES = 1 << 20;
/** A log may be as long as the writer makes it; only its type is checked before reading. */
const LOG_BYTES_MAX = Number.MAX_SAFE_INTEGER;
/** Channels a law may have (the core's bound). */
const CHANNELS_MAX = 8;
/** Longest text field in a record (names, reasons, sources, hashes). */
const TEXT_CHARS_MAX = 4_096;
/** Most entries in a header list (injects, stalls, excluded replicas). */
const LIST_ENTRIES_MAX = 10_000;

/** One decoder for every reader: with records off it keeps no state from one payload to the next. */
const DECODER = new Encoder({ useRecords: false });

/** The file is not a log this tmr reads (no magic, another format): nothing in it is read. */
export class BlackBoxFormatError extends Error {
  override readonly name = 'BlackBoxFormatError';
}

export type BlackBoxRecord =
  | { readonly type: 'header'; readonly offset: number; readonly header: BlackBoxHeader }
  | { readonly type: 'tick'; readonly offset: number; readonly tick: TickRecord }
  | { readonly type: 'end'; readonly offset: number; readonly end: EndRecord };

/** Where reading stopped on damage, and why. */
export interface BlackBoxDamage {
  readonly offset: number;
  readonly reason: string;
}

/** How the reading ended (complete once next() has returned null). */
export interface BlackBoxOutcome {
  readonly fileBytes: number;
  /** Bytes after the last complete record that are a record cut short (the writer stopped mid-write); 0 if none. */
  readonly tornBytes: number;
  /** A record that lies about itself, or stands where it may not; null if none. */
  readonly damage: BlackBoxDamage | null;
  /** The magic: 4 for TMRBBX2 (lengths checked), 3 for TMRBBX1 (formats 2 and 3). */
  readonly framing: 3 | 4;
}

/**
 * Everything the reader carries from one record to the next (the window is only a cache): a
 * reader opened at a checkpoint reads on exactly as one that read up to it. The fuzz uses it to
 * test every bit of a log without re-reading what comes before each bit.
 */
export interface BlackBoxCheckpoint {
  readonly offset: number;
  readonly header: BlackBoxHeader | null;
  readonly nextTick: number;
  readonly ended: boolean;
}

/** One-line description of damage, for people. */
export function damageText(damage: BlackBoxDamage, fileBytes: number): string {
  return `at byte ${damage.offset}: ${damage.reason} (${fileBytes - damage.offset} bytes from there on are not read): the log is damaged, not just cut short`;
}

export class BlackBoxReader {
  /** Only bytes read from the file into it are ever looked at, so it need not be zeroed. */
  private readonly window = Buffer.allocUnsafeSlow(WINDOW_BYTES);
  /** File offset of window[0], and how many bytes of the window hold file data. */
  private windowStart = 0;
  private windowBytes = 0;
  private offset: number;
  private readonly framing: 3 | 4;
  private readonly headerBytes: number;
  private fd: number | null;
  private header: BlackBoxHeader | null = null;
  private nextTick = 0;
  private ended = false;
  private done = false;
  private tornBytes = 0;
  private damage: BlackBoxDamage | null = null;
  readonly fileBytes: number;

  private constructor(
    readonly path: string,
    fd: number,
    fileBytes: number,
  ) {
    this.fd = fd;
    this.fileBytes = fileBytes;
    const magic = Buffer.alloc(8);
    const got = fileBytes >= 8 ? readSync(fd, magic, 0, 8, 0) : 0;
    const text = magic.toString('latin1', 0, got);
    if (text === BLACK_BOX_MAGIC) this.framing = 4;
    else if (text === BLACK_BOX_MAGIC_UNCHECKED) this.framing = 3;
    else {
      this.close();
      throw new BlackBoxFormatError(`${path}: not a tmr black-box log (no ${JSON.stringify(BLACK_BOX_MAGIC.trim())} at the start)`);
    }
    this.headerBytes = this.framing === 4 ? 8 : 4;
    this.offset = 8;
    this.windowStart = 8;
  }

  /**
   * Opens a log: a regular file beginning with a black-box magic (InputFileError / BlackBoxFormatError
   * otherwise); from its first record, or from a checkpoint taken by a reader of the same file.
   */
  static open(path: string, from?: BlackBoxCheckpoint): BlackBoxReader {
    const { fd, sizeBytes } = openInputFile(path, 'log', LOG_BYTES_MAX);
    const reader = new BlackBoxReader(path, fd, sizeBytes);
    if (from !== undefined) {
      reader.offset = from.offset;
      reader.windowStart = from.offset;
      reader.header = from.header;
      reader.nextTick = from.nextTick;
      reader.ended = from.ended;
    }
    return reader;
  }

  /** Where the reader stands: before the record next() reads next. */
  checkpoint(): BlackBoxCheckpoint {
    return { offset: this.offset, header: this.header, nextTick: this.nextTick, ended: this.ended };
  }

  /** The header, once read (the first record). */
  get headerRecord(): BlackBoxHeader | null {
    return this.header;
  }

  /** How reading ended; call after next() has returned null. */
  get outcome(): BlackBoxOutcome {
    return { fileBytes: this.fileBytes, tornBytes: this.tornBytes, damage: this.damage, framing: this.framing };
  }

  /** The next record, or null at the end of the file, at a torn tail or at damage (see outcome). */
  next(): BlackBoxRecord | null {
    if (this.done) return null;
    const record = this.readRecord();
    if (record === null) {
      this.done = true;
      this.close();
    }
    return record;
  }

  /** Every record, in order (a generator over next()). */
  *records(): Generator<BlackBoxRecord> {
    for (let r = this.next(); r !== null; r = this.next()) yield r;
  }

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }

  private stop(reason: string): null {
    this.damage = { offset: this.offset, reason };
    return null;
  }

  private readRecord(): BlackBoxRecord | null {
    const at = this.offset;
    const remaining = this.fileBytes - at;
    if (remaining === 0) return null;
    if (this.ended) return this.stop(`${remaining} bytes after the end record`);
    if (remaining < this.headerBytes) {
      this.tornBytes = remaining;
      return null;
    }
    const head = this.bytes(at, this.headerBytes);
    const length = head.readUInt32LE(0);
    if (this.framing === 4 && crc32(head.subarray(0, 4)) !== head.readUInt32LE(4)) return this.stop(`a record's length field fails its CRC`);
    const extent = length + this.headerBytes + 4;
    if (length < 1 || length > RECORD_BYTES_MAX) return this.stop(`a record claims ${length} bytes (1 to ${RECORD_BYTES_MAX} allowed)`);
    if (remaining < extent) {
      this.tornBytes = remaining;
      return null;
    }
    const whole = this.bytes(at, extent);
    const payload = whole.subarray(this.headerBytes, this.headerBytes + length);
    if (crc32(payload) !== whole.readUInt32LE(this.headerBytes + length)) {
      // Formats 2 and 3 cannot tell a last record written in part from a damaged one: taken for torn, as they were.
      if (this.framing === 3 && at + extent === this.fileBytes) {
        this.tornBytes = remaining;
        return null;
      }
      return this.stop(`a record of ${length} bytes fails its CRC`);
    }
    let value: unknown;
    try {
      value = DECODER.decode(payload);
    } catch (error) {
      return this.stop(`a record with a good CRC does not decode as CBOR (${error instanceof Error ? error.message : String(error)})`);
    }
    const record = this.check(value, at);
    if (typeof record === 'string') return this.stop(record);
    this.offset = at + extent;
    return record;
  }

  /** `count` bytes at file offset `at` (count <= the window), reading the window forward as needed. */
  private bytes(at: number, count: number): Buffer {
    if (at < this.windowStart || at + count > this.windowStart + this.windowBytes) {
      const fd = this.fd as number;
      this.windowStart = at;
      this.windowBytes = 0;
      const want = Math.min(WINDOW_BYTES, this.fileBytes - at);
      // Bounded: each read moves at least one byte, or the file shrank under us (then short).
      while (this.windowBytes < want) {
        const n = readSync(fd, this.window, this.windowBytes, want - this.windowBytes, at + this.windowBytes);
        if (n === 0) break;
        this.windowBytes += n;
      }
      if (this.windowBytes < count) throw new InputFileError(`log ${this.path}: the file shrank while being read (${this.fileBytes} bytes when opened)`);
    }
    return this.window.subarray(at - this.windowStart, at - this.windowStart + count);
  }

  /** A decoded payload as a record of this format, in its place; a string says why it is not. */
  private check(value: unknown, offset: number): BlackBoxRecord | string {
    if (!Array.isArray(value) || value.length < 2) return 'a record with a good CRC is not a [type, …] array';
    const type = value[0];
    if (this.header === null && type !== 0) return `the first record is of type ${show(type)}, not the header`;
    if (type === 0) {
      if (this.header !== null) return 'a second header record';
      const header = checkHeader(value[1], this.framing);
      if (typeof header === 'string') return `the header record: ${header}`;
      this.header = header;
      return { type: 'header', offset, header };
    }
    const h = this.header as BlackBoxHeader;
    if (type === 1) {
      const tick = checkTick(value, h);
      if (typeof tick === 'string') return `the record after tick ${this.nextTick - 1}: ${tick}`;
      if (tick.tick !== this.nextTick) return `tick ${tick.tick} where tick ${this.nextTick} comes next`;
      this.nextTick++;
      return { type: 'tick', offset, tick };
    }
    if (type === 2) {
      const end = checkEnd(value[1]);
      if (typeof end === 'string') return `the end record: ${end}`;
      this.ended = true;
      return { type: 'end', offset, end };
    }
    return `a record of unknown type ${show(type)}`;
  }
}

function show(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value === 'object' ? 'an object' : String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const isText = (v: unknown): v is string => typeof v === 'string' && v.length <= TEXT_CHARS_MAX;
const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;

/** A list of `count` integers in [min, max], or why not. */
function intList(v: unknown, name: string, count: number, min: number, max: number): string | null {
  if (!Array.isArray(v)) return `${name} is ${show(v)}, not a list`;
  if (v.length !== count) return `${name} has ${v.length} values, ${count} expected`;
  const bad = v.findIndex((x) => !isInt(x, min, max));
  return bad < 0 ? null : `${name}[${bad}] is ${show(v[bad])}, not an integer in [${min}, ${max}]`;
}

function textList(v: unknown, name: string, minCount: number, maxCount: number): string | null {
  if (!Array.isArray(v) || v.length < minCount || v.length > maxCount) return `${name} is ${show(v)}, not a list of ${minCount} to ${maxCount} names`;
  const bad = v.findIndex((x) => !isText(x));
  return bad < 0 ? null : `${name}[${bad}] is ${show(v[bad])}, not a name`;
}

/** The first problem in a list of checks (each null when fine). */
function first(...problems: (string | null | (() => string | null))[]): string | null {
  for (const p of problems) {
    const problem = typeof p === 'function' ? p() : p;
    if (problem !== null) return problem;
  }
  return null;
}

function intField(o: Record<string, unknown>, name: string, min: number, max: number, optional = false): string | null {
  if (optional && o[name] === undefined) return null;
  return isInt(o[name], min, max) ? null : `${name} is ${show(o[name])}, not an integer in [${min}, ${max}]`;
}

function textField(o: Record<string, unknown>, name: string): string | null {
  return isText(o[name]) ? null : `${name} is ${show(o[name])}, not text`;
}

function checkHeader(v: unknown, framing: 3 | 4): BlackBoxHeader | string {
  if (!isObject(v)) return `${show(v)} is not an object`;
  const versions = framing === 4 ? [4] : [2, 3];
  if (!versions.includes(v.version as number)) {
    // Not damage: a log of another format (its records may mean something else), refused as such.
    throw new BlackBoxFormatError(`log format ${show(v.version)}, written by another tmr; this one reads formats 2, 3 and 4`);
  }
  const law = v.law;
  const problem = first(
    isObject(law) ? null : `law is ${show(law)}, not an object`,
    () => {
      const l = law as Record<string, unknown>;
      return first(
        textField(l, 'name'), intField(l, 'version', 0, INT32_MAX), intField(l, 'selfTestHash', 0, 0xffff_ffff), textField(l, 'source'),
        textList(l.inputs, 'law.inputs', 0, CHANNELS_MAX), textList(l.outputs, 'law.outputs', 1, CHANNELS_MAX),
      );
    },
    textField(v, 'plant'),
    intField(v, 'rateHz', 1, 1_000_000),
    () => (isInt(v.replicaCount, 3, REPLICA_COUNT_MAX) && (v.replicaCount as number) % 2 === 1 ? null : `replicaCount is ${show(v.replicaCount)}, not odd in [3, ${REPLICA_COUNT_MAX}]`),
    intField(v, 'seed', 0, Number.MAX_SAFE_INTEGER),
    intField(v, 'ticks', 0, Number.MAX_SAFE_INTEGER),
    v.simplexPolicy === 'simplex' || v.simplexPolicy === 'safe' ? null : `simplexPolicy is ${show(v.simplexPolicy)}, not "simplex" or "safe"`,
    intField(v, 'deadlineMissLimit', 1, 1000),
    intField(v, 'errorDensityLimit', 1, 1000),
    intField(v, 'quorumLossTicksMax', 0, 100),
    intField(v, 'commonModeLimitMs', 0, 3_600_000, true),
    () => checkStalls(v.stalls),
    () => checkRecovery(v.recovery),
    () => intList(v.safeOutputs, 'safeOutputs', ((law as Record<string, unknown>).outputs as unknown[]).length, INT32_MIN, INT32_MAX),
    () => checkInjects(v.injects, v.replicaCount as number),
    () => checkExcluded(v.initialExcluded, v.replicaCount as number),
    textField(v, 'wallClockStart'),
  );
  return problem ?? (v as unknown as BlackBoxHeader);
}

function checkList(v: unknown, name: string, each: (entry: unknown) => string | null): string | null {
  if (!Array.isArray(v) || v.length > LIST_ENTRIES_MAX) return `${name} is ${show(v)}, not a list of at most ${LIST_ENTRIES_MAX}`;
  for (const [i, entry] of v.entries()) {
    const problem = each(entry);
    if (problem !== null) return `${name}[${i}]: ${problem}`;
  }
  return null;
}

function checkStalls(v: unknown): string | null {
  if (v === undefined) return null;
  return checkList(v, 'stalls', (s) => (isObject(s) ? first(intField(s, 'startTick', 0, Number.MAX_SAFE_INTEGER), intField(s, 'durationTicks', 1, Number.MAX_SAFE_INTEGER)) : 'not an object'));
}

function checkRecovery(v: unknown): string | null {
  if (v === undefined) return null;
  if (!isObject(v)) return `recovery is ${show(v)}, not an object`;
  if (typeof v.enabled !== 'boolean') return `recovery.enabled is ${show(v.enabled)}, not true or false`;
  const problem = first(
    intField(v, 'probationTicks', 1, PROBATION_TICKS_MAX),
    ...['restartsMax', 'restartWindowMs', 'backoffMsBase', 'backoffMsMax', 'stableMs'].map((k) => intField(v, k, 0, Number.MAX_SAFE_INTEGER, true)),
  );
  return problem === null ? null : `recovery.${problem}`;
}

function checkInjects(v: unknown, replicaCount: number): string | null {
  return checkList(v, 'injects', (f) =>
    isObject(f)
      ? first(
          (FAULT_KINDS as readonly unknown[]).includes(f.kind) ? null : `kind is ${show(f.kind)}, not a fault kind`,
          intField(f, 'replicaIndex', 0, replicaCount - 1),
          intField(f, 'startTick', 0, Number.MAX_SAFE_INTEGER),
          intField(f, 'durationTicks', 0, Number.MAX_SAFE_INTEGER),
        )
      : 'not an object',
  );
}

function checkExcluded(v: unknown, replicaCount: number): string | null {
  return checkList(v, 'initialExcluded', (e) =>
    Array.isArray(e) && e.length === 3 && isInt(e[0], 0, replicaCount - 1) && isText(e[1]) && isText(e[2]) ? null : `${show(e)} is not [replica, reason, detail]`,
  );
}

function checkEnd(v: unknown): EndRecord | string {
  if (!isObject(v)) return `${show(v)} is not an object`;
  const problem = first(intField(v, 'ticks', 0, Number.MAX_SAFE_INTEGER), textField(v, 'reason'), intField(v, 'unsafeCommands', 0, Number.MAX_SAFE_INTEGER), textField(v, 'votedTraceHash'));
  return problem ?? (v as unknown as EndRecord);
}

/** A tick record's fields, each checked against the header (counts, ranges), as the decoder of a frame does. */
function checkTick(v: unknown[], h: BlackBoxHeader): TickRecord | string {
  const n = h.replicaCount;
  const channels = h.law.outputs.length;
  const fields = h.version === 2 ? 14 : 15;
  if (v.length !== fields) return `${v.length} fields, ${fields} expected`;
  const maskMax = 2 ** n - 1;
  const problem = first(
    isInt(v[1], 0, Number.MAX_SAFE_INTEGER) ? null : `tick is ${show(v[1])}`,
    intList(v[2], 'inputs', h.law.inputs.length, INT32_MIN, INT32_MAX),
    isInt(v[3], 0, maskMax) ? null : `onTimeMask is ${show(v[3])}`,
    intList(v[4], 'outputs', n * channels, INT32_MIN, INT32_MAX),
    intList(v[5], 'digests', n, 0, 0xffff_ffff),
    intList(v[6], 'lateReplies', n, 0, 0xffff),
    intList(v[7], 'protocolErrors', n, 0, 0xffff),
    isInt(v[8], 0, maskMax) ? null : `linkDownMask is ${show(v[8])}`,
    intList(v[9], 'commands', channels, INT32_MIN, INT32_MAX),
    isInt(v[10], 0, SOURCES.length - 1) ? null : `source is ${show(v[10])}`,
    isInt(v[11], 0, LOG_MODES.length - 1) ? null : `mode is ${show(v[11])}`,
    isInt(v[12], 0, maskMax) ? null : `inServiceMask is ${show(v[12])}`,
    checkList(v[13], 'events', (e) => (Array.isArray(e) && e.length === 3 && isText(e[0]) && isInt(e[1], -1, n - 1) && isText(e[2]) ? null : `${show(e)} is not [kind, replica, reason]`)),
    fields === 15 && v[14] !== 0 && v[14] !== 1 ? `hostLate is ${show(v[14])}, not 0 or 1` : null,
  );
  if (problem !== null) return problem;
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

/** What reading a whole log found (readBlackBox): for tests and small logs, since it keeps every tick in memory. */
export interface BlackBoxContents {
  readonly header: BlackBoxHeader | null;
  readonly ticks: TickRecord[];
  readonly end: EndRecord | null;
  /** Bytes after the last complete record (a tail torn by a crash); 0 for a clean file. */
  readonly tornBytes: number;
  /** Where and why reading stopped on damage, in one line; null if it did not. */
  readonly corruption: string | null;
  readonly damage: BlackBoxDamage | null;
  readonly fileBytes: number;
}

/** Reads a whole log into memory (tests and small logs; `tmr log` and `tmr replay` stream with BlackBoxReader). */
export function readBlackBox(path: string): BlackBoxContents {
  const reader = BlackBoxReader.open(path);
  let end: EndRecord | null = null;
  const ticks: TickRecord[] = [];
  for (const r of reader.records()) {
    if (r.type === 'tick') ticks.push(r.tick);
    else if (r.type === 'end') end = r.end;
  }
  const { tornBytes, damage, fileBytes } = reader.outcome;
  return { header: reader.headerRecord, ticks, end, tornBytes, damage, fileBytes, corruption: damage === null ? null : damageText(damage, fileBytes) };
}
