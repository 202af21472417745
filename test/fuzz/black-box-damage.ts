/**
 * Damaged black-box logs, shared by the unit suite (test/loop/black-box-damage.test.ts, a sample)
 * and the standalone run (test/fuzz/fuzz-black-box.ts: every bit and every cut of a 2,000-tick log).
 *
 * What must hold for every damaged log (issue 17):
 *   - one bit flipped anywhere: the magic is refused as "not a log"; anywhere in record k, reading
 *     stops with damage at record k's first byte, having read exactly the k records before it;
 *   - cut at any byte: a cut at a record boundary reads the records before it, whole, with no torn
 *     tail and no damage; a cut inside a record is a torn tail of exactly the bytes after the last
 *     boundary, never damage; a cut inside the magic is "not a log";
 *   - a record rewritten with valid CRCs but a malformed or misplaced payload: either damage at that
 *     record's first byte (or, for a header sound on its own, at the first record that does not fit
 *     it), or a log that reads and replays with only named errors; never an assertion, never
 *     another exception.
 * The reader is opened at the checkpoint before the record concerned (the reader's whole state),
 * so every bit of a log can be tried without re-reading what precedes it; a sample also reads from
 * the start and must give the same outcome.
 */
import { closeSync, ftruncateSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Encoder } from 'cbor-x';
import { crc32 } from 'node:zlib';
import { Prng } from '../../src/core/prng.js';
import { TmrAssertionError } from '../../src/core/assert.js';
import { shippedLaw } from '../../src/law/law-loader.js';
import { lengthCheck, RECORD_OVERHEAD_BYTES } from '../../src/loop/black-box.js';
import { BlackBoxFormatError, BlackBoxReader, readBlackBox, type BlackBoxCheckpoint } from '../../src/loop/black-box-reader.js';
import type { LoopOptions } from '../../src/loop/loop-model.js';
import { replayBlackBox, ReplayError } from '../../src/loop/replay.js';
import { DEFAULT_LOOP_OPTIONS } from '../../src/sim/plants.js';
import { logSimulationTo } from '../helpers/log-simulation.js';

const MAGIC_BYTES = 8;

/** A log and where its records are. */
export interface FuzzLog {
  readonly path: string;
  readonly bytes: Buffer;
  /** Start of each record, and the reader's checkpoint there. */
  readonly offsets: readonly number[];
  readonly checkpoints: readonly BlackBoxCheckpoint[];
}

/**
 * Writes a run of `ticks` ticks with faults and recovery (so its records hold events, probations
 * and re-admissions) exactly as `tmr sim --log` does, and maps its records.
 */
export function writeFuzzLog(dir: string, ticks: number, name = 'fuzz'): FuzzLog {
  const path = join(dir, `${name}.bbx`);
  const options: LoopOptions = {
    ...DEFAULT_LOOP_OPTIONS,
    ticks,
    injects: [
      { kind: 'wrong', replicaIndex: 1, startTick: Math.floor(ticks / 5), durationTicks: 40 },
      { kind: 'crash', replicaIndex: 2, startTick: Math.floor(ticks / 2), durationTicks: 0 },
    ],
    recovery: { ...DEFAULT_LOOP_OPTIONS.recovery, enabled: true },
  };
  logSimulationTo(path, options);
  const reader = BlackBoxReader.open(path);
  const offsets: number[] = [];
  const checkpoints: BlackBoxCheckpoint[] = [];
  for (;;) {
    const before = reader.checkpoint();
    const record = reader.next();
    if (record === null) break;
    offsets.push(record.offset);
    checkpoints.push(before);
  }
  const outcome = reader.outcome;
  if (outcome.damage !== null || outcome.tornBytes !== 0) throw new Error(`the fuzz log ${path} does not read cleanly`);
  return { path, bytes: readFileSync(path), offsets, checkpoints };
}

/** The index of the record holding byte `at` (at >= the magic). */
export function recordAt(log: FuzzLog, at: number): number {
  let lo = 0;
  let hi = log.offsets.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((log.offsets[mid] as number) <= at) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

interface ReadResult {
  readonly records: number;
  readonly tornBytes: number;
  readonly damageOffset: number | null;
  readonly notALog: boolean;
}

/** Reads `path` to its end (from a checkpoint if given); any exception but "not a log" escapes. */
function readOutcome(path: string, from?: BlackBoxCheckpoint): ReadResult {
  let reader: BlackBoxReader;
  try {
    reader = BlackBoxReader.open(path, from);
  } catch (error) {
    if (error instanceof BlackBoxFormatError) return { records: 0, tornBytes: 0, damageOffset: null, notALog: true };
    throw error;
  }
  let records = 0;
  while (reader.next() !== null) records++;
  const { tornBytes, damage } = reader.outcome;
  return { records, tornBytes, damageOffset: damage?.offset ?? null, notALog: false };
}

const show = (r: ReadResult): string => JSON.stringify(r);

/**
 * Flips bit `bit` of the log's file in place (through `fd`), reads it, flips it back. Returns a
 * violation, or null. `fromStart` reads from the first record instead of the checkpoint.
 */
export function checkFlip(log: FuzzLog, fd: number, bit: number, fromStart = false): string | null {
  const at = bit >> 3;
  const original = log.bytes[at] as number;
  writeSync(fd, Buffer.of(original ^ (1 << (bit & 7))), 0, 1, at);
  try {
    if (at < MAGIC_BYTES) {
      const r = readOutcome(log.path);
      return r.notALog ? null : `bit ${bit} (in the magic): read as ${show(r)}, not refused as not a log`;
    }
    const k = recordAt(log, at);
    const r = fromStart ? readOutcome(log.path) : readOutcome(log.path, log.checkpoints[k]);
    const recordsExpected = fromStart ? k : 0;
    if (r.damageOffset !== log.offsets[k] || r.records !== recordsExpected || r.tornBytes !== 0 || r.notALog) {
      return `bit ${bit} (byte ${at}, record ${k} at byte ${log.offsets[k]}): read as ${show(r)}; expected damage at byte ${log.offsets[k]} after ${recordsExpected} records`;
    }
    return null;
  } finally {
    writeSync(fd, Buffer.of(original), 0, 1, at);
  }
}

/**
 * Cuts the log's file to `cut` bytes (through `fd`; call with cuts in decreasing order, then
 * restore) and reads it. Returns a violation, or null.
 */
export function checkCut(log: FuzzLog, fd: number, cut: number, fromStart = false): string | null {
  ftruncateSync(fd, cut);
  if (cut < MAGIC_BYTES) {
    const r = readOutcome(log.path);
    return r.notALog ? null : `cut at ${cut} (inside the magic): read as ${show(r)}, not refused as not a log`;
  }
  const ends = [...log.offsets.slice(1), log.bytes.length];
  const k = cut === MAGIC_BYTES ? 0 : recordAt(log, cut - 1);
  const boundary = cut === MAGIC_BYTES ? MAGIC_BYTES : (ends[k] as number) === cut ? cut : (log.offsets[k] as number);
  const wholeBefore = cut === MAGIC_BYTES ? 0 : (ends[k] as number) === cut ? k + 1 : k;
  const from = fromStart ? undefined : log.checkpoints[k];
  const r = readOutcome(log.path, from);
  const recordsExpected = fromStart ? wholeBefore : wholeBefore - k;
  if (r.damageOffset !== null || r.notALog || r.tornBytes !== cut - boundary || r.records !== recordsExpected) {
    return `cut at ${cut} (record ${k} at byte ${log.offsets[k]}): read as ${show(r)}; expected ${recordsExpected} records and a torn tail of ${cut - boundary} bytes`;
  }
  return null;
}

/** Restores the log's file after cuts. */
export function restore(log: FuzzLog): void {
  writeFileSync(log.path, log.bytes);
}

/** Opens the log's file for in-place damage. */
export function openForDamage(log: FuzzLog): number {
  return openSync(log.path, 'r+');
}

export function closeDamage(fd: number): void {
  closeSync(fd);
}

const encoder = new Encoder({ useRecords: false, tagUint8Array: false });

/** A record with both CRCs right around `payload`. */
export function framedRecord(payload: Uint8Array): Buffer {
  const record = Buffer.alloc(payload.length + RECORD_OVERHEAD_BYTES);
  record.writeUInt32LE(payload.length, 0);
  record.writeUInt32LE(lengthCheck(payload.length), 4);
  Buffer.from(payload).copy(record, 8);
  record.writeUInt32LE(crc32(payload), 8 + payload.length);
  return record;
}

/** A value changed the way a bad writer (or an attacker with a CRC table) might: type, range, shape. */
function mutateValue(prng: Prng, value: unknown, depth: number): unknown {
  if (Array.isArray(value) && value.length > 0 && depth < 4 && prng.nextBelow(3) !== 0) {
    const copy = [...value];
    const i = prng.nextBelow(copy.length);
    switch (prng.nextBelow(4)) {
      case 0:
        copy.splice(i, 1);
        break;
      case 1:
        copy.push(copy[i]);
        break;
      default:
        copy[i] = mutateValue(prng, copy[i], depth + 1);
    }
    return copy;
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && depth < 4 && prng.nextBelow(3) !== 0) {
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    const keys = Object.keys(copy);
    if (keys.length === 0) return 7;
    const key = keys[prng.nextBelow(keys.length)] as string;
    if (prng.nextBelow(4) === 0) delete copy[key];
    else copy[key] = mutateValue(prng, copy[key], depth + 1);
    return copy;
  }
  const replacements: unknown[] = [
    null, -1, 0, 1, 2, 3, 15, 16, 0x7fff_ffff, 0x8000_0000, -0x8000_0001, 2 ** 53, 1.5, Number.NaN, '', 'x', true, [], {}, [1, 2, 3],
    typeof value === 'number' ? value + 1 : 0, typeof value === 'number' ? -value : 'tmr',
  ];
  return replacements[prng.nextBelow(replacements.length)];
}

/**
 * Rewrites record k with a mutated payload and valid CRCs (seeded by `seed`), reads the log whole
 * and replays it. Returns a violation, or null. Writes the mutated log to `scratch`.
 */
export function checkMutation(log: FuzzLog, scratch: string, k: number, seed: number): string | null {
  const prng = new Prng(seed);
  const start = log.offsets[k] as number;
  const length = log.bytes.readUInt32LE(start);
  const payload = log.bytes.subarray(start + 8, start + 8 + length);
  const value = encoder.decode(payload) as unknown;
  const mutated = mutateValue(prng, value, 0);
  let encoded: Uint8Array;
  try {
    encoded = encoder.encode(mutated);
  } catch {
    return null; // not encodable (cbor-x refuses some values): nothing to write
  }
  if (encoded.length < 1 || encoded.length > 16 * 1024) return null;
  writeFileSync(scratch, Buffer.concat([log.bytes.subarray(0, start), framedRecord(encoded), log.bytes.subarray(start + length + RECORD_OVERHEAD_BYTES)]));
  const where = `record ${k} at byte ${start}, seed ${seed}`;
  try {
    const contents = readBlackBox(scratch);
    if (contents.damage !== null) {
      // At the rewritten record, or (a header that is sound alone) at the first record it does not fit.
      return contents.damage.offset >= start ? null : `${where}: damage reported at byte ${contents.damage.offset}, before the rewritten record`;
    }
    if (contents.header === null) return null;
    try {
      replayBlackBox(contents, shippedLaw('pid-q16'));
    } catch (error) {
      if (error instanceof ReplayError) return null;
      throw error;
    }
    return null;
  } catch (error) {
    if (error instanceof BlackBoxFormatError) return k === 0 ? null : `${where}: refused as another format, though the header was intact`;
    const kind = error instanceof TmrAssertionError ? 'an internal assertion' : 'an exception';
    return `${where}: ${kind}: ${error instanceof Error ? error.message : String(error)}`;
  }
}
