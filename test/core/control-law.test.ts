import { readFileSync } from 'node:fs';
import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isInt32 } from '../../src/core/assert.js';
import { crc32 } from '../../src/core/crc32.js';
import {
  CHANNEL_COMMAND_MV,
  CHANNEL_RATE_MILLIDEG_PER_TICK,
  DEFAULT_GAINS,
  KD_Q16_LIMIT,
  KI_Q16_LIMIT,
  KP_Q16_LIMIT,
  LAW_ID,
  LAW_NAME,
  LAW_STATE_FORMAT_VERSION,
  LAW_STATE_SIZE_BYTES,
  LAW_VERSION,
  OUTPUT_CHANNEL_COUNT,
  OUTPUT_LIMIT_MV_LIMIT,
  POSITION_MILLIDEG_LIMIT,
  SELF_TEST_PARAMS,
  SELF_TEST_SEED,
  SELF_TEST_STEPS,
  createLawState,
  deserializeLawState,
  drawLawInputs,
  lawParamsForRate,
  lawParamsValid,
  lawSelfTestHash,
  lawStateDigest,
  lawStep,
  serializeLawState,
  type LawParams,
  type LawState,
} from '../../src/core/control-law.js';
import { Prng } from '../../src/core/prng.js';
import { VECTOR_FILE_URL, generateLawVectors } from '../vectors/generate-law-vectors.js';
import { parseVectorFile, type LongRun, type StepRun, type VectorFile } from '../helpers/law-vectors.js';

const M = POSITION_MILLIDEG_LIMIT;
const Q16 = 65_536;

// ---------------------------------------------------------------------------------------------
// Vector file: parser and checker, written from the format documented in the file's header.
// ---------------------------------------------------------------------------------------------

function hex8(word: number): string {
  return (word >>> 0).toString(16).padStart(8, '0');
}

function stateToHex(state: LawState): string {
  const bytes = new Uint8Array(LAW_STATE_SIZE_BYTES);
  serializeLawState(state, bytes);
  return Buffer.from(bytes).toString('hex');
}

/** One step's 12 bytes in the long-run chain, appended with node:zlib (independent of src/core/crc32.ts). */
function chainStep(crc: number, command: number, rate: number, digest: number): number {
  const word = Buffer.alloc(12);
  word.writeInt32LE(command, 0);
  word.writeInt32LE(rate, 4);
  word.writeUInt32LE(digest, 8);
  return zlibCrc32(word, crc);
}

/** Runs Prng(seed) + drawLawInputs for `steps` steps and returns the chain: the self-test construction. */
function chainHash(params: LawParams, seed: number, tickStart: number, steps: number): number {
  const prng = new Prng(seed);
  const state = createLawState();
  const outputs = new Int32Array(OUTPUT_CHANNEL_COUNT);
  const inputs = { setpointMilliDeg: 0, positionMilliDeg: 0 };
  let crc = 0;
  for (let step = 0; step < steps; step++) {
    drawLawInputs(prng, inputs.positionMilliDeg, inputs);
    lawStep(params, state, (tickStart + step) >>> 0, inputs.setpointMilliDeg, inputs.positionMilliDeg, outputs);
    crc = chainStep(crc, outputs[0]!, outputs[1]!, lawStateDigest(state));
  }
  return crc;
}

function mismatch(where: string, field: string, inFile: number | string, computed: number | string): string | null {
  return inFile === computed ? null : `${where}: ${field} is ${inFile} in the file, ${computed} computed`;
}

function checkStepRun(file: VectorFile, run: StepRun): string | null {
  const set = file.sets[run.setIndex];
  if (set === undefined) return `line ${run.lineNumber}: unknown set ${run.setIndex}`;
  if (run.records.length !== run.stepCount) return `line ${run.lineNumber}: ${run.records.length} 's' records, ${run.stepCount} declared`;
  const state = createLawState();
  if (run.kind === 'edge') {
    const problem = deserializeLawState(Buffer.from(run.initialStateHex, 'hex'), state, set.params);
    if (problem !== null) return `line ${run.lineNumber}: initial state rejected: ${problem}`;
  }
  const prng = new Prng(run.seed);
  const inputs = { setpointMilliDeg: 0, positionMilliDeg: 0 };
  const outputs = new Int32Array(OUTPUT_CHANNEL_COUNT);
  for (const [index, r] of run.records.entries()) {
    const where = `line ${r.lineNumber}: ${run.kind} run '${run.label}' of set ${run.setIndex} (${set.name}) step ${index}`;
    const checks: (string | null)[] = [mismatch(where, 'step', r.step, index)];
    if (run.kind === 'full') {
      drawLawInputs(prng, inputs.positionMilliDeg, inputs);
      checks.push(
        mismatch(where, 'tick', r.tick, (run.tickStart + index) >>> 0),
        mismatch(where, 'setpoint', r.setpoint, inputs.setpointMilliDeg),
        mismatch(where, 'position', r.position, inputs.positionMilliDeg),
      );
    }
    const firstInputProblem = checks.find((c) => c !== null);
    if (firstInputProblem !== undefined) return firstInputProblem;
    lawStep(set.params, state, r.tick, r.setpoint, r.position, outputs);
    const outputProblem = [
      mismatch(where, 'command', r.command, outputs[CHANNEL_COMMAND_MV]!),
      mismatch(where, 'rate', r.rate, outputs[CHANNEL_RATE_MILLIDEG_PER_TICK]!),
      mismatch(where, 'digest', hex8(r.digest), hex8(lawStateDigest(state))),
      mismatch(where, 'state', r.stateHex, stateToHex(state)),
    ].find((c) => c !== null);
    if (outputProblem !== undefined) return outputProblem;
  }
  return null;
}

function checkLongRun(file: VectorFile, run: LongRun): string | null {
  const set = file.sets[run.setIndex];
  if (set === undefined) return `line ${run.lineNumber}: unknown set ${run.setIndex}`;
  if (run.intervalSteps < 1 || run.checkpoints.length !== Math.floor(run.stepCount / run.intervalSteps)) {
    return `line ${run.lineNumber}: ${run.checkpoints.length} checkpoints for ${run.stepCount} steps every ${run.intervalSteps}`;
  }
  const prng = new Prng(run.seed);
  const state = createLawState();
  const inputs = { setpointMilliDeg: 0, positionMilliDeg: 0 };
  const outputs = new Int32Array(OUTPUT_CHANNEL_COUNT);
  let crc = 0;
  let checkpointIndex = 0;
  for (let step = 0; step < run.stepCount; step++) {
    drawLawInputs(prng, inputs.positionMilliDeg, inputs);
    lawStep(set.params, state, (run.tickStart + step) >>> 0, inputs.setpointMilliDeg, inputs.positionMilliDeg, outputs);
    const digest = lawStateDigest(state);
    crc = chainStep(crc, outputs[0]!, outputs[1]!, digest);
    if ((step + 1) % run.intervalSteps !== 0) continue;
    const c = run.checkpoints[checkpointIndex++]!;
    const where = `line ${c.lineNumber}: long run of set ${run.setIndex} (${set.name}) checkpoint ${checkpointIndex - 1}`;
    const problem = [
      mismatch(where, 'step', c.step, step),
      mismatch(where, 'crc', hex8(c.crc), hex8(crc)),
      mismatch(where, 'digest', hex8(c.digest), hex8(digest)),
    ].find((p) => p !== null);
    if (problem !== undefined) return problem;
  }
  return null;
}

/** Null if the current law reproduces every record of the file, else the first difference. */
function firstMismatch(file: VectorFile): string | null {
  const header = [
    mismatch('format', 'version', file.formatVersion, 1),
    mismatch('law', 'id', file.law?.id ?? -1, LAW_ID),
    mismatch('law', 'name', file.law?.name ?? '', LAW_NAME),
    mismatch('law', 'version', file.law?.version ?? -1, LAW_VERSION),
    mismatch('state', 'format version', file.state?.formatVersion ?? -1, LAW_STATE_FORMAT_VERSION),
    mismatch('state', 'size', file.state?.sizeBytes ?? -1, LAW_STATE_SIZE_BYTES),
    mismatch('file', 'end record', String(file.ended), 'true'),
  ].find((p) => p !== null);
  if (header !== undefined) return header;
  for (const [index, set] of file.sets.entries()) {
    const problem = lawParamsValid(set.params);
    if (problem !== null) return `set ${index}: ${problem}`;
  }
  for (const run of file.runs) {
    const problem = checkStepRun(file, run);
    if (problem !== null) return problem;
  }
  for (const run of file.longRuns) {
    const problem = checkLongRun(file, run);
    if (problem !== null) return problem;
  }
  const selfTest = file.selfTest;
  if (selfTest === null) return 'no self_test record';
  const set = file.sets[selfTest.setIndex];
  if (set === undefined) return `self_test names unknown set ${selfTest.setIndex}`;
  return (
    mismatch('self_test', 'hash', hex8(selfTest.hash), hex8(lawSelfTestHash())) ??
    mismatch('self_test', 'hash recomputed from its record', hex8(selfTest.hash), hex8(chainHash(set.params, selfTest.seed, selfTest.tickStart, selfTest.steps)))
  );
}

function firstDifferentLine(expected: string, actual: string): string | null {
  if (expected === actual) return null;
  const a = expected.split('\n');
  const b = actual.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `line ${i + 1} differs:\n  committed: ${a[i] ?? '<none>'}\n  generated: ${b[i] ?? '<none>'}`;
  }
  return 'files differ in line endings';
}

const committedText = readFileSync(VECTOR_FILE_URL, 'ascii');
const committed = parseVectorFile(committedText);

describe('committed vector file test/vectors/pid-q16-v1.txt', () => {
  it('has the promised shape: ASCII, short lines, under 2 MB, five sets, full + edge + long runs', () => {
    expect(committedText.length).toBeLessThan(2_000_000);
    expect(/^[\x0a\x20-\x7e]*$/.test(committedText)).toBe(true);
    expect(committedText.split('\n').every((line) => line.length <= 127)).toBe(true);
    expect(committed.sets.map((s) => s.name)).toEqual(['self_test', 'rate_50hz', 'rate_500hz', 'rate_2000hz', 'extreme']);
    expect(committed.sets[0]!.params).toEqual(SELF_TEST_PARAMS);
    expect(committed.sets[1]!.params).toEqual(lawParamsForRate(50, DEFAULT_GAINS));
    expect(committed.sets[2]!.params).toEqual(lawParamsForRate(500, DEFAULT_GAINS));
    expect(committed.sets[3]!.params).toEqual(lawParamsForRate(2000, DEFAULT_GAINS));
    expect(committed.sets[4]!.params).toEqual({ kpQ16: KP_Q16_LIMIT - 1, kiQ16: KI_Q16_LIMIT - 1, kdQ16: KD_Q16_LIMIT - 1, outputLimitMv: 2 ** 15 - 1 });
    const full = committed.runs.filter((r) => r.kind === 'full');
    expect(full.map((r) => [r.setIndex, r.stepCount])).toEqual([0, 1, 2, 3, 4].map((i) => [i, 2_000]));
    expect(committed.runs.filter((r) => r.kind === 'edge').length).toBeGreaterThanOrEqual(5 * 6);
    // The generator runs saturate most commands; the small-signal runs must not.
    for (const run of committed.runs.filter((r) => r.label === 'small_signal')) {
      const limit = committed.sets[run.setIndex]!.params.outputLimitMv;
      const unsaturated = run.records.filter((r) => Math.abs(r.command) < limit);
      expect(unsaturated.length).toBeGreaterThan(0.6 * run.records.length);
      expect(unsaturated.filter((r) => r.command < 0).length).toBeGreaterThan(0.1 * run.records.length);
    }
    expect(committed.runs.filter((r) => r.label === 'small_signal').map((r) => r.setIndex)).toEqual([0, 1, 2, 3, 4]);
    expect(committed.longRuns.map((r) => [r.setIndex, r.stepCount, r.intervalSteps])).toEqual([0, 1, 2, 3, 4].map((i) => [i, 100_000, 1_000]));
    expect(committed.selfTest).toMatchObject({ setIndex: 0, seed: SELF_TEST_SEED, tickStart: 0, steps: SELF_TEST_STEPS });
  });

  it('is reproduced exactly by the current TypeScript law', () => {
    expect(firstMismatch(committed)).toBeNull();
  });

  it('equals the generator output byte for byte', () => {
    expect(firstDifferentLine(committedText, generateLawVectors())).toBeNull();
  });

  it('the checker reports the first differing step and field', () => {
    const lines = committedText.split('\n');
    const lineIndex = (pattern: RegExp, from = 0): number => {
      const index = lines.findIndex((line, i) => i >= from && pattern.test(line));
      expect(index).toBeGreaterThanOrEqual(0);
      return index;
    };
    const mutated = (index: number, field: number, edit: (f: string) => string): VectorFile => {
      const copy = lines.slice();
      copy[index] = copy[index]!.split(' ').map((f, i) => (i === field ? edit(f) : f)).join(' ');
      expect(copy[index]).not.toBe(lines[index]);
      return parseVectorFile(copy.join('\n'));
    };
    const plusOne = (f: string): string => String(Number(f) + 1);
    const flipHex = (f: string): string => f.slice(0, -1) + (f.endsWith('0') ? '1' : '0');
    const step1234 = lineIndex(/^s 1234 /, lineIndex(/^full 2 /));
    const where = `^line ${step1234 + 1}: full run 'full' of set 2 \\(rate_500hz\\) step 1234: `;
    expect(firstMismatch(mutated(step1234, 3, plusOne))).toMatch(new RegExp(where + 'setpoint is '));
    expect(firstMismatch(mutated(step1234, 4, plusOne))).toMatch(new RegExp(where + 'position is '));
    expect(firstMismatch(mutated(step1234, 5, plusOne))).toMatch(new RegExp(where + 'command is '));
    expect(firstMismatch(mutated(step1234, 6, plusOne))).toMatch(new RegExp(where + 'rate is '));
    expect(firstMismatch(mutated(step1234, 7, flipHex))).toMatch(new RegExp(where + 'digest is '));
    expect(firstMismatch(mutated(step1234, 8, flipHex))).toMatch(new RegExp(where + 'state is '));
    const edgeStep = lineIndex(/^s 2 /, lineIndex(/^edge 3 integral_at_minus_limit /));
    expect(firstMismatch(mutated(edgeStep, 5, plusOne))).toMatch(/edge run 'integral_at_minus_limit' of set 3 \(rate_2000hz\) step 2: command is /);
    const checkpoint = lineIndex(/^c 57999 /, lineIndex(/^long 0 /));
    expect(firstMismatch(mutated(checkpoint, 2, flipHex))).toMatch(/long run of set 0 \(self_test\) checkpoint 57: crc is /);
    expect(firstMismatch(mutated(checkpoint, 3, flipHex))).toMatch(/long run of set 0 \(self_test\) checkpoint 57: digest is /);
    expect(firstMismatch(mutated(lineIndex(/^self_test /), 5, flipHex))).toMatch(/^self_test: hash is /);
    // kp + 1 LSB: the first effect shows up wherever the command is not saturated.
    expect(firstMismatch(mutated(lineIndex(/^set 1 /), 3, plusOne))).toMatch(/^line \d+: full run 'full' of set 1 \(rate_50hz\) step \d+: (command|digest) is /);
  });

  it('detects a one-LSB change of any parameter of any set', () => {
    const keys = ['kpQ16', 'kiQ16', 'kdQ16', 'outputLimitMv'] as const;
    for (const [setIndex, set] of committed.sets.entries()) {
      for (const key of keys) {
        for (const delta of [-1, 1]) {
          const params = { ...set.params, [key]: set.params[key] + delta };
          if (lawParamsValid(params) !== null) continue;
          const sets = committed.sets.map((s, i) => (i === setIndex ? { name: s.name, params } : s));
          const runs = committed.runs.filter((r) => r.setIndex === setIndex);
          const problem = firstMismatch({ ...committed, sets, runs, longRuns: [] });
          expect({ setIndex, key, delta, detected: problem !== null }).toEqual({ setIndex, key, delta, detected: true });
        }
      }
    }
  });

  it('the self-test hash equals the chain after step 255 of set 0 and lawSelfTestHash()', () => {
    expect(committed.selfTest?.hash).toBe(lawSelfTestHash());
    expect(chainHash(SELF_TEST_PARAMS, SELF_TEST_SEED, 0, SELF_TEST_STEPS)).toBe(lawSelfTestHash());
    expect(hex8(lawSelfTestHash())).toBe('4b3293ca');
  });
});

// ---------------------------------------------------------------------------------------------
// Unit behaviour with hand-computed integers.
// ---------------------------------------------------------------------------------------------

function params(kpQ16: number, kiQ16: number, kdQ16: number, outputLimitMv: number): LawParams {
  return { kpQ16, kiQ16, kdQ16, outputLimitMv };
}

function primedAt(positionMilliDeg: number, integralQ16 = 0): LawState {
  return { integralQ16, previousPositionMilliDeg: positionMilliDeg, lastTick: 0, primed: 1 };
}

/** Runs one step; returns [command, rate]. */
function step(p: LawParams, state: LawState, setpointMilliDeg: number, positionMilliDeg: number, tick = 1): [number, number] {
  const outputs = new Int32Array(OUTPUT_CHANNEL_COUNT);
  lawStep(p, state, tick, setpointMilliDeg, positionMilliDeg, outputs);
  return [outputs[CHANNEL_COMMAND_MV]!, outputs[CHANNEL_RATE_MILLIDEG_PER_TICK]!];
}

describe('lawStep, proportional only', () => {
  it('commands kp * error', () => {
    const p = params(Q16, 0, 0, 12_000);
    expect(step(p, primedAt(0), 100, 0)).toEqual([100, 0]);
    expect(step(p, primedAt(0), 0, 100)).toEqual([-100, 100]);
  });

  it('rounds toward minus infinity: -1.5 mV becomes -2, +1.5 mV becomes 1', () => {
    const half = params(Q16 / 2, 0, 0, 12_000);
    expect(step(half, primedAt(0), 3, 0)[0]).toBe(1);
    expect(step(half, primedAt(0), -3, 0)[0]).toBe(-2);
    expect(step(half, primedAt(0), 1, 0)[0]).toBe(0);
    expect(step(half, primedAt(0), -1, 0)[0]).toBe(-1);
    const kp06 = params(39_322, 0, 0, 12_000); // 0.6000061 mV/m°
    expect(step(kp06, primedAt(0), 1_000, 0)[0]).toBe(600); // 600.006
    expect(step(kp06, primedAt(0), -1_000, 0)[0]).toBe(-601); // -600.006
  });
});

describe('lawStep, integral only', () => {
  it('accumulates ki * error per tick, floored', () => {
    const p = params(0, Q16 / 4, 0, 12_000);
    const up = createLawState();
    expect([1, 2, 3, 4].map((tick) => step(p, up, 2, 0, tick)[0])).toEqual([0, 1, 1, 2]);
    expect(up.integralQ16).toBe(4 * 2 * (Q16 / 4));
    const down = createLawState();
    expect([1, 2, 3, 4].map((tick) => step(p, down, -2, 0, tick)[0])).toEqual([-1, -1, -2, -2]);
    expect(down.integralQ16).toBe(-131_072);
  });

  it('clamps the integral at +/- outputLimitMv * 2^16 even when not saturating', () => {
    const p = params(0, 1_000 * Q16, 0, 100);
    const state = createLawState();
    expect(step(p, state, 1, 0)[0]).toBe(100);
    expect(state.integralQ16).toBe(100 * Q16);
    expect(step(p, state, -1, 0)[0]).toBe(-100);
    expect(state.integralQ16).toBe(-100 * Q16);
  });
});

describe('lawStep, derivative only', () => {
  it('acts on the measured position change, -kd * delta', () => {
    const p = params(0, 0, 2 * Q16, 12_000);
    const state = createLawState();
    expect(step(p, state, 777, 0)).toEqual([0, 0]);
    expect(step(p, state, -5, 5)).toEqual([-10, 5]);
    expect(step(p, state, 123_456, 2)).toEqual([6, -3]);
  });

  it('floors fractional derivative commands', () => {
    const p = params(0, 0, (3 * Q16) / 2, 12_000);
    expect(step(p, primedAt(0), 0, 1)).toEqual([-2, 1]); // -1.5
    expect(step(p, primedAt(0), 0, -1)).toEqual([1, -1]); // +1.5
  });

  it('has no kick on a setpoint step (derivative on measurement)', () => {
    const p = params(Q16, 0, 100 * Q16, 30_000);
    const state = primedAt(0);
    expect(step(p, state, 0, 0)).toEqual([0, 0]);
    expect(step(p, state, 10_000, 0)).toEqual([10_000, 0]); // derivative on error would add 1,000,000
    expect(step(p, state, 10_000, 10)).toEqual([10_000 - 10 - 100 * 10, 10]);
  });
});

describe('lawStep, first step', () => {
  it('has no derivative term and no rate before it is primed, whatever the stored position', () => {
    const p = params(0, 0, Q16, 12_000);
    const state: LawState = { integralQ16: 0, previousPositionMilliDeg: 5_000, lastTick: 0, primed: 0 };
    expect(step(p, state, 0, 0, 9)).toEqual([0, 0]);
    expect(state).toEqual({ integralQ16: 0, previousPositionMilliDeg: 0, lastTick: 9, primed: 1 });
    expect(step(p, state, 0, 3, 10)).toEqual([-3, 3]);
    const primed: LawState = { integralQ16: 0, previousPositionMilliDeg: 5_000, lastTick: 0, primed: 1 };
    expect(step(p, primed, 0, 0)).toEqual([5_000, -5_000]);
  });

  it('stores the tick modulo 2^32', () => {
    const state = createLawState();
    step(SELF_TEST_PARAMS, state, 0, 0, 0xffff_ffff);
    expect(state.lastTick).toBe(0xffff_ffff);
    step(SELF_TEST_PARAMS, state, 0, 0, 2 ** 32 + 7);
    expect(state.lastTick).toBe(7);
  });
});

describe('lawStep, saturation and anti-windup', () => {
  it('saturates on both sides', () => {
    const p = params(Q16, 0, 0, 100);
    const commands = [100, 101, 1_000, M, -100, -101, -1_000, -M].map((e) => step(p, primedAt(0), e, 0)[0]);
    expect(commands).toEqual([100, 100, 100, 100, -100, -100, -100, -100]);
    const half = params(Q16 / 2, 0, 0, 100);
    expect(step(half, primedAt(0), 201, 0)[0]).toBe(100); // 100.5
    expect(step(half, primedAt(0), -201, 0)[0]).toBe(-100); // -100.5 floors to -101, then clamps
  });

  it('holds the integral while saturated in the direction it would grow, resumes on a sign change', () => {
    const p = params(Q16, Q16, 0, 1_000);
    for (const sign of [1, -1]) {
      const state = createLawState();
      const trace = [300, 300, 300, 300, 500, -100].map((e) => {
        const [command] = step(p, state, sign * e, 0);
        return [command, state.integralQ16 / Q16];
      });
      expect(trace).toEqual(
        [[600, 300], [900, 600], [900, 600], [900, 600], [1_000, 600], [400, 500]].map(([c, i]) => [sign * c!, sign * i!]),
      );
    }
  });

  it('lets the integral unwind while saturated the other way', () => {
    // u is far above the limit through the derivative, but the error is negative: integrate.
    const p = params(0, Q16, 10 * Q16, 1_000);
    const state = primedAt(0, 500 * Q16);
    expect(step(p, state, -300, -200)).toEqual([1_000, -200]);
    expect(state.integralQ16).toBe(400 * Q16);
  });

  it('holds the integral one LSB below the limit (the clamped candidate still grows)', () => {
    const p = params(Q16, Q16, 0, 1_000);
    const state = primedAt(0, 1_000 * Q16 - 1);
    expect(step(p, state, 10, 0)).toEqual([1_000, 0]);
    expect(state.integralQ16).toBe(1_000 * Q16 - 1);
  });

  it('commands exactly the limit when u equals the limit (not saturated)', () => {
    const p = params(0, 0, 0, 1_000);
    expect(step(p, primedAt(0, 1_000 * Q16), 0, 0)[0]).toBe(1_000);
    expect(step(p, primedAt(0, -1_000 * Q16), 0, 0)[0]).toBe(-1_000);
    expect(step(p, primedAt(0, -1), 0, 0)[0]).toBe(-1);
  });
});

// ---------------------------------------------------------------------------------------------
// State serialisation and digest.
// ---------------------------------------------------------------------------------------------

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const withExtremes = (min: number, max: number, ...more: number[]): fc.Arbitrary<number> =>
  fc.oneof(fc.constantFrom(min, max, ...more), fc.integer({ min, max }));
const positionArb = withExtremes(-M, M, 0, 1, -1, M - 1, -M + 1);
const paramsArb: fc.Arbitrary<LawParams> = fc.record({
  kpQ16: withExtremes(0, KP_Q16_LIMIT - 1, 1),
  kiQ16: withExtremes(0, KI_Q16_LIMIT - 1, 1),
  kdQ16: withExtremes(0, KD_Q16_LIMIT - 1, 1),
  outputLimitMv: withExtremes(1, OUTPUT_LIMIT_MV_LIMIT - 1, 12_000),
});
const stateArb = (outputLimitMv: number): fc.Arbitrary<LawState> => {
  const limitQ16 = outputLimitMv * Q16;
  return fc.record({
    integralQ16: withExtremes(-limitQ16, limitQ16, 0, limitQ16 - 1, -limitQ16 + 1),
    previousPositionMilliDeg: positionArb,
    lastTick: fc.oneof(fc.constantFrom(0, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff), u32),
    primed: fc.constantFrom(0, 1),
  });
};
const paramsAndStateArb = paramsArb.chain((p) => fc.tuple(fc.constant(p), stateArb(p.outputLimitMv)));

describe('state serialisation', () => {
  it('round-trips every valid state, in the documented byte layout', () => {
    fc.assert(
      fc.property(paramsAndStateArb, ([p, state]) => {
        const bytes = new Uint8Array(LAW_STATE_SIZE_BYTES);
        expect(serializeLawState(state, bytes)).toBe(LAW_STATE_SIZE_BYTES);
        const view = new DataView(bytes.buffer);
        expect([view.getUint8(0), view.getInt32(1, true), view.getInt32(5, true), view.getUint32(9, true), view.getUint8(13)]).toEqual([
          1, state.integralQ16, state.previousPositionMilliDeg, state.lastTick, state.primed,
        ]);
        const into = createLawState();
        expect(deserializeLawState(bytes, into, p)).toBeNull();
        expect(into).toEqual(state);
      }),
      { numRuns: 500 },
    );
  });

  it('rejects malformed bytes with the error string and leaves the target untouched', () => {
    const p = params(Q16, Q16, Q16, 1_000);
    const limitQ16 = 1_000 * Q16;
    const encode = (integral: number, position: number, tick: number, primed: number, version = 1): Uint8Array => {
      const bytes = new Uint8Array(LAW_STATE_SIZE_BYTES);
      const view = new DataView(bytes.buffer);
      view.setUint8(0, version);
      view.setInt32(1, integral, true);
      view.setInt32(5, position, true);
      view.setUint32(9, tick, true);
      view.setUint8(13, primed);
      return bytes;
    };
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(0), 'state is 0 bytes, expected 14'],
      [new Uint8Array(13).fill(1), 'state is 13 bytes, expected 14'],
      [new Uint8Array(15).fill(1), 'state is 15 bytes, expected 14'],
      [encode(0, 0, 0, 0, 0), 'state format 0, expected 1'],
      [encode(0, 0, 0, 0, 2), 'state format 2, expected 1'],
      [encode(limitQ16 + 1, 0, 0, 1), 'state integral beyond the output limit'],
      [encode(-limitQ16 - 1, 0, 0, 1), 'state integral beyond the output limit'],
      [encode(-0x8000_0000, 0, 0, 1), 'state integral beyond the output limit'],
      [encode(0, M + 1, 0, 1), 'state position out of range'],
      [encode(0, -M - 1, 0, 1), 'state position out of range'],
      [encode(0, 0x7fff_ffff, 0, 1), 'state position out of range'],
      [encode(0, 0, 0, 2), 'state primed flag is not 0 or 1'],
      [encode(0, 0, 0, 255), 'state primed flag is not 0 or 1'],
    ];
    for (const [bytes, message] of cases) {
      const into: LawState = { integralQ16: 7, previousPositionMilliDeg: 8, lastTick: 9, primed: 1 };
      expect(deserializeLawState(bytes, into, p)).toBe(message);
      expect(into).toEqual({ integralQ16: 7, previousPositionMilliDeg: 8, lastTick: 9, primed: 1 });
    }
    for (const bytes of [encode(limitQ16, M, 0xffff_ffff, 1), encode(-limitQ16, -M, 0, 0)]) {
      expect(deserializeLawState(bytes, createLawState(), p)).toBeNull();
    }
  });

  it('the digest is the CRC-32 of the serialised state and changes when any single field changes', () => {
    const fields = ['integralQ16', 'previousPositionMilliDeg', 'lastTick', 'primed'] as const;
    fc.assert(
      fc.property(paramsAndStateArb, fc.constantFrom(...fields), u32, ([p, state], field, draw) => {
        const bytes = new Uint8Array(LAW_STATE_SIZE_BYTES);
        serializeLawState(state, bytes);
        expect(lawStateDigest(state)).toBe(zlibCrc32(bytes));
        const limitQ16 = p.outputLimitMv * Q16;
        const span = { integralQ16: 2 * limitQ16 + 1, previousPositionMilliDeg: 2 * M + 1, lastTick: 2 ** 32, primed: 2 }[field];
        const low = { integralQ16: -limitQ16, previousPositionMilliDeg: -M, lastTick: 0, primed: 0 }[field];
        // Any other valid value: offset by 1 + (draw mod (span - 1)), wrapping within the field's range.
        const changed: LawState = { ...state, [field]: low + ((state[field] - low + 1 + (draw % (span - 1))) % span) };
        expect(changed[field]).not.toBe(state[field]);
        expect(lawStateDigest(changed)).not.toBe(lawStateDigest(state));
      }),
      { numRuns: 1_000 },
    );
  });

  it('the digest of a reset state is pinned', () => {
    // CRC-32 of 01 00 00 00 00 00 00 00 00 00 00 00 00 00.
    expect(hex8(lawStateDigest(createLawState()))).toBe('4cb498b1');
    expect(crc32(Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))).toBe(0x4cb498b1);
  });
});

describe('lawParamsForRate', () => {
  it('gives valid parameters for DEFAULT_GAINS at every rate from 50 to 2000 Hz', () => {
    for (let rateHz = 50; rateHz <= 2_000; rateHz++) {
      const p = lawParamsForRate(rateHz, DEFAULT_GAINS);
      if (lawParamsValid(p) !== null) throw new Error(`${rateHz} Hz: ${lawParamsValid(p)}`);
    }
  });

  it('converts physical gains to per-tick Q16.16 integers, rounded to nearest', () => {
    // Explicit gains, not DEFAULT_GAINS, so retuning the defaults does not break this test.
    const gains = { kpMvPerMilliDeg: 0.6, kiMvPerMilliDegSecond: 0.8, kdMvSecondPerMilliDeg: 0.02, outputLimitMv: 12_000 };
    expect(lawParamsForRate(50, gains)).toEqual(params(39_322, 1_049, 65_536, 12_000)); // 39321.6, 1048.576, 65536
    expect(lawParamsForRate(500, gains)).toEqual(params(39_322, 105, 655_360, 12_000)); // ki 104.8576
    expect(lawParamsForRate(2_000, gains)).toEqual(params(39_322, 26, 2_621_440, 12_000)); // ki 26.2144
  });
});

// ---------------------------------------------------------------------------------------------
// Overflow: BigInt reference with C int64 semantics.
// ---------------------------------------------------------------------------------------------

interface ReferenceStep {
  command: number;
  rate: number;
  state: LawState;
  /** Largest magnitude of any intermediate. */
  magnitudeMax: bigint;
  /** True if any int64 operation wrapped (undefined behaviour in C). */
  wrapped: boolean;
}

/**
 * The law as specified in the vector file header, on int64_t: every operation wraps to 64 bits
 * like C's int64_t would (and records that it did), and Q16.16 scaling is an arithmetic shift
 * (BigInt >> floors negative values, as gcc's >> on a negative int64_t does).
 */
function referenceLawStep(p: LawParams, state: LawState, tick: number, setpoint: number, position: number): ReferenceStep {
  let magnitudeMax = 0n;
  let wrapped = false;
  const i64 = (x: bigint): bigint => {
    const w = BigInt.asIntN(64, x);
    if (w !== x) wrapped = true;
    const magnitude = w < 0n ? -w : w;
    if (magnitude > magnitudeMax) magnitudeMax = magnitude;
    return w;
  };
  const clamp = (x: bigint, lo: bigint, hi: bigint): bigint => (x < lo ? lo : x > hi ? hi : x);
  const limitMv = BigInt(p.outputLimitMv);
  const limitQ16 = i64(limitMv << 16n);
  const integral = BigInt(state.integralQ16);
  const e = i64(BigInt(setpoint) - BigInt(position));
  const delta = state.primed === 1 ? i64(BigInt(position) - BigInt(state.previousPositionMilliDeg)) : 0n;
  const pTerm = i64(BigInt(p.kpQ16) * e);
  const dTerm = i64(-i64(BigInt(p.kdQ16) * delta));
  let candidate = clamp(i64(integral + i64(BigInt(p.kiQ16) * e)), -limitQ16, limitQ16);
  let u = i64(i64(pTerm + candidate) + dTerm);
  if ((u > limitQ16 && candidate > integral) || (u < -limitQ16 && candidate < integral)) {
    candidate = integral;
    u = i64(i64(pTerm + candidate) + dTerm);
  }
  const command = clamp(u >> 16n, -limitMv, limitMv);
  return {
    command: Number(command),
    rate: Number(delta),
    state: { integralQ16: Number(candidate), previousPositionMilliDeg: position, lastTick: tick >>> 0, primed: 1 },
    magnitudeMax,
    wrapped,
  };
}

const stepArb = fc.record({
  tick: fc.oneof(fc.constantFrom(0, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff), u32),
  setpoint: positionArb,
  position: positionArb,
});

/** |u| < 2^47 is the law's own bound; 2^53 is what doubles need. */
const INTERMEDIATE_BOUND = 2n ** 47n;

function checkAgainstReference(p: LawParams, state: LawState, s: { tick: number; setpoint: number; position: number }, outputs: Int32Array): void {
  const before = { ...state };
  const want = referenceLawStep(p, before, s.tick, s.setpoint, s.position);
  lawStep(p, state, s.tick, s.setpoint, s.position, outputs);
  const got = { command: outputs[0]!, rate: outputs[1]!, state: { ...state } };
  const context = `params ${JSON.stringify(p)} state ${JSON.stringify(before)} step ${JSON.stringify(s)}`;
  if (want.wrapped || want.magnitudeMax >= INTERMEDIATE_BOUND) throw new Error(`intermediate ${want.magnitudeMax} too large: ${context}`);
  if (got.command !== want.command || got.rate !== want.rate || JSON.stringify(got.state) !== JSON.stringify(want.state)) {
    throw new Error(`differs from the int64 reference: got ${JSON.stringify(got)} want ${JSON.stringify({ ...want, magnitudeMax: String(want.magnitudeMax) })}: ${context}`);
  }
  const limitQ16 = p.outputLimitMv * Q16;
  if (Math.abs(got.command) > p.outputLimitMv) throw new Error(`command beyond the limit: ${context}`);
  if (!isInt32(state.integralQ16) || Math.abs(state.integralQ16) > limitQ16) throw new Error(`integral beyond its bound: ${context}`);
}

describe('overflow and exactness', () => {
  it('the reference detects int64 wrap and the 2^47 bound can be approached', () => {
    const extreme = params(KP_Q16_LIMIT - 1, KI_Q16_LIMIT - 1, KD_Q16_LIMIT - 1, OUTPUT_LIMIT_MV_LIMIT - 1);
    const limitQ16 = extreme.outputLimitMv * Q16;
    // e = +2^20 and delta = -2^20: p and d both at their maximum, integral held at +L.
    const worst = referenceLawStep(extreme, primedAt(M, limitQ16), 0, M, -M);
    const expectedU = BigInt(KP_Q16_LIMIT - 1) * 2n ** 20n + BigInt(limitQ16) + BigInt(KD_Q16_LIMIT - 1) * 2n ** 20n;
    expect(worst.magnitudeMax).toBe(expectedU);
    expect(worst.magnitudeMax).toBeGreaterThan(2n ** 46n);
    expect(worst.magnitudeMax).toBeLessThan(INTERMEDIATE_BOUND);
    expect(worst.wrapped).toBe(false);
    const state = primedAt(M, limitQ16);
    checkAgainstReference(extreme, state, { tick: 0, setpoint: M, position: -M }, new Int32Array(OUTPUT_CHANNEL_COUNT));
    // Gains far outside the allowed range must make the reference see the wrap.
    expect(referenceLawStep(params(2 ** 50, 0, 0, 1), primedAt(0), 0, M, -M).wrapped).toBe(true);
  });

  it('the reference would catch truncation instead of floor', () => {
    const p = params(Q16 / 2, 0, 0, 100);
    expect(referenceLawStep(p, primedAt(0), 0, -3, 0).command).toBe(-2);
    expect(Math.trunc(-1.5)).toBe(-1); // what a C '/' would give; the vectors pin -2
  });

  it('over the full allowed ranges: never throws, bounded outputs and integral, intermediates < 2^47', () => {
    const outputs = new Int32Array(OUTPUT_CHANNEL_COUNT);
    fc.assert(
      fc.property(paramsAndStateArb, fc.array(stepArb, { minLength: 1, maxLength: 10 }), ([p, initial], steps) => {
        const state = { ...initial };
        for (const s of steps) checkAgainstReference(p, state, s, outputs);
      }),
      { numRuns: 1_000 },
    );
  });

  it('equals the BigInt int64 reference on 20,000 random steps', () => {
    const outputs = new Int32Array(OUTPUT_CHANNEL_COUNT);
    const RUN_COUNT = 1_000;
    const STEPS_PER_RUN = 20;
    let stepCount = 0;
    fc.assert(
      fc.property(paramsAndStateArb, fc.array(stepArb, { minLength: STEPS_PER_RUN, maxLength: STEPS_PER_RUN }), ([p, initial], steps) => {
        const state = { ...initial };
        for (const s of steps) {
          checkAgainstReference(p, state, s, outputs);
          stepCount++;
        }
      }),
      { numRuns: RUN_COUNT },
    );
    expect(stepCount).toBeGreaterThanOrEqual(RUN_COUNT * STEPS_PER_RUN);
  });

  it('equals the reference along the seeded generator runs of every vector set', () => {
    const outputs = new Int32Array(OUTPUT_CHANNEL_COUNT);
    for (const set of committed.sets) {
      const prng = new Prng(0x5eed);
      const state = createLawState();
      const inputs = { setpointMilliDeg: 0, positionMilliDeg: 0 };
      for (let tick = 0; tick < 2_000; tick++) {
        drawLawInputs(prng, inputs.positionMilliDeg, inputs);
        checkAgainstReference(set.params, state, { tick, setpoint: inputs.setpointMilliDeg, position: inputs.positionMilliDeg }, outputs);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Self-test hash.
// ---------------------------------------------------------------------------------------------

describe('lawSelfTestHash', () => {
  it('is stable and equals the value in the vector file', () => {
    expect(lawSelfTestHash()).toBe(lawSelfTestHash());
    expect(lawSelfTestHash()).toBe(committed.selfTest?.hash);
  });

  const selfTestHashWith = (key: keyof LawParams, delta: number): number => {
    const modified: LawParams = { ...SELF_TEST_PARAMS, [key]: SELF_TEST_PARAMS[key] + delta };
    expect(lawParamsValid(modified)).toBeNull();
    return chainHash(modified, SELF_TEST_SEED, 0, SELF_TEST_STEPS);
  };

  it('the test re-implementation of the self-test equals lawSelfTestHash()', () => {
    expect(chainHash(SELF_TEST_PARAMS, SELF_TEST_SEED, 0, SELF_TEST_STEPS)).toBe(lawSelfTestHash());
  });

  // The self-test gains are chosen small enough that a one-LSB error in any parameter shows.
  it('changes when kdQ16 changes by one LSB', () => {
    const base = lawSelfTestHash();
    expect({ minusOne: selfTestHashWith('kdQ16', -1) !== base, plusOne: selfTestHashWith('kdQ16', 1) !== base }).toEqual({ minusOne: true, plusOne: true });
  });

  it('changes when any other single constant of SELF_TEST_PARAMS, the seed or the tick start changes', () => {
    const base = chainHash(SELF_TEST_PARAMS, SELF_TEST_SEED, 0, SELF_TEST_STEPS);
    expect(selfTestHashWith('kdQ16', -2)).not.toBe(base);
    const keys = ['kpQ16', 'kiQ16', 'outputLimitMv'] as const;
    for (const key of keys) {
      for (const delta of [-1, 1]) {
        expect({ key, delta, differs: selfTestHashWith(key, delta) !== base }).toEqual({ key, delta, differs: true });
      }
    }
    expect(chainHash(SELF_TEST_PARAMS, SELF_TEST_SEED + 1, 0, SELF_TEST_STEPS)).not.toBe(base);
    expect(chainHash(SELF_TEST_PARAMS, SELF_TEST_SEED, 1, SELF_TEST_STEPS)).not.toBe(base);
  });
});
