/**
 * The law test-vector file (test/vectors/pid-q16-v1.txt), parsed from the format documented in
 * its header. Shared by the TypeScript law's test and the firmware checks.
 */
import type { LawParams } from '../../src/core/control-law.js';

export interface StepRecord {
  readonly lineNumber: number;
  readonly step: number;
  readonly tick: number;
  readonly setpoint: number;
  readonly position: number;
  readonly command: number;
  readonly rate: number;
  readonly digest: number;
  readonly stateHex: string;
}

export interface StepRun {
  readonly kind: 'full' | 'edge';
  readonly lineNumber: number;
  readonly setIndex: number;
  readonly label: string;
  readonly seed: number;
  readonly tickStart: number;
  readonly initialStateHex: string;
  readonly stepCount: number;
  readonly records: StepRecord[];
}

export interface Checkpoint {
  readonly lineNumber: number;
  readonly step: number;
  readonly crc: number;
  readonly digest: number;
}

export interface LongRun {
  readonly lineNumber: number;
  readonly setIndex: number;
  readonly seed: number;
  readonly tickStart: number;
  readonly stepCount: number;
  readonly intervalSteps: number;
  readonly checkpoints: Checkpoint[];
}

export interface VectorFile {
  formatVersion: number;
  law: { id: number; name: string; version: number } | null;
  state: { formatVersion: number; sizeBytes: number } | null;
  sets: { name: string; params: LawParams }[];
  selfTest: { setIndex: number; seed: number; tickStart: number; steps: number; hash: number } | null;
  runs: StepRun[];
  longRuns: LongRun[];
  ended: boolean;
}

function fieldParser(lineNumber: number, fields: readonly string[]) {
  const at = (index: number): string => {
    const field = fields[index];
    if (field === undefined) throw new Error(`line ${lineNumber}: missing field ${index}`);
    return field;
  };
  const matching = (index: number, pattern: RegExp, what: string): string => {
    const field = at(index);
    if (!pattern.test(field)) throw new Error(`line ${lineNumber}: field ${index} '${field}' is not ${what}`);
    return field;
  };
  return {
    count(expected: number): void {
      if (fields.length !== expected) throw new Error(`line ${lineNumber}: ${fields.length} fields, expected ${expected}`);
    },
    decimal: (index: number): number => Number.parseInt(matching(index, /^-?(0|[1-9][0-9]*)$/, 'a decimal'), 10),
    hex8: (index: number): number => Number.parseInt(matching(index, /^[0-9a-f]{8}$/, '8 hex digits'), 16),
    stateHex: (index: number): string => matching(index, /^[0-9a-f]{28}$/, '28 hex digits'),
    name: (index: number): string => matching(index, /^[a-z0-9_-]{1,40}$/, 'a name'),
  };
}

export function parseVectorFile(text: string): VectorFile {
  const file: VectorFile = { formatVersion: 0, law: null, state: null, sets: [], selfTest: null, runs: [], longRuns: [], ended: false };
  let currentRun: StepRun | null = null;
  let currentLong: LongRun | null = null;
  const lines = text.split('\n');
  if (lines.at(-1) !== '') throw new Error('the file does not end with a newline');
  lines.forEach((line, index) => {
    const lineNumber = index + 1;
    if (line === '' || line.startsWith('#')) return;
    if (file.ended) throw new Error(`line ${lineNumber}: record after 'end'`);
    const fields = line.split(' ');
    const f = fieldParser(lineNumber, fields);
    const keyword = fields[0];
    if (keyword === 's') {
      f.count(9);
      if (currentRun === null) throw new Error(`line ${lineNumber}: 's' outside a full or edge run`);
      currentRun.records.push({
        lineNumber, step: f.decimal(1), tick: f.decimal(2), setpoint: f.decimal(3), position: f.decimal(4),
        command: f.decimal(5), rate: f.decimal(6), digest: f.hex8(7), stateHex: f.stateHex(8),
      });
    } else if (keyword === 'c') {
      f.count(4);
      if (currentLong === null) throw new Error(`line ${lineNumber}: 'c' outside a long run`);
      currentLong.checkpoints.push({ lineNumber, step: f.decimal(1), crc: f.hex8(2), digest: f.hex8(3) });
    } else {
      currentRun = null;
      currentLong = null;
      if (keyword === 'format') {
        f.count(3);
        if (fields[1] !== 'tmr-law-vectors') throw new Error(`line ${lineNumber}: not a tmr-law-vectors file`);
        file.formatVersion = f.decimal(2);
      } else if (keyword === 'law') {
        f.count(4);
        file.law = { id: f.decimal(1), name: f.name(2), version: f.decimal(3) };
      } else if (keyword === 'state') {
        f.count(3);
        file.state = { formatVersion: f.decimal(1), sizeBytes: f.decimal(2) };
      } else if (keyword === 'set') {
        f.count(7);
        if (f.decimal(1) !== file.sets.length) throw new Error(`line ${lineNumber}: sets must be numbered 0, 1, ...`);
        file.sets.push({ name: f.name(2), params: { kpQ16: f.decimal(3), kiQ16: f.decimal(4), kdQ16: f.decimal(5), outputLimitMv: f.decimal(6) } });
      } else if (keyword === 'self_test') {
        f.count(6);
        file.selfTest = { setIndex: f.decimal(1), seed: f.hex8(2), tickStart: f.decimal(3), steps: f.decimal(4), hash: f.hex8(5) };
      } else if (keyword === 'full') {
        f.count(5);
        currentRun = { kind: 'full', lineNumber, setIndex: f.decimal(1), label: 'full', seed: f.hex8(2), tickStart: f.decimal(3), initialStateHex: '', stepCount: f.decimal(4), records: [] };
        file.runs.push(currentRun);
      } else if (keyword === 'edge') {
        f.count(5);
        currentRun = { kind: 'edge', lineNumber, setIndex: f.decimal(1), label: f.name(2), seed: 0, tickStart: 0, initialStateHex: f.stateHex(3), stepCount: f.decimal(4), records: [] };
        file.runs.push(currentRun);
      } else if (keyword === 'long') {
        f.count(6);
        currentLong = { lineNumber, setIndex: f.decimal(1), seed: f.hex8(2), tickStart: f.decimal(3), stepCount: f.decimal(4), intervalSteps: f.decimal(5), checkpoints: [] };
        file.longRuns.push(currentLong);
      } else if (keyword === 'end') {
        f.count(1);
        file.ended = true;
      } else {
        throw new Error(`line ${lineNumber}: unknown record '${keyword}'`);
      }
    }
  });
  return file;
}

