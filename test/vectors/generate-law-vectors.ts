/**
 * Writes test/vectors/pid-q16-v1.txt, the committed test vectors that the TypeScript control law
 * and the C firmware must both reproduce bit for bit. Regenerate from the repository root with
 *
 *   npx tsx test/vectors/generate-law-vectors.ts
 *
 * and review the diff. A changed vector file means a changed law (which needs a new LAW_VERSION
 * and file name) or retuned DEFAULT_GAINS (sets 1 to 3 are lawParamsForRate(…, DEFAULT_GAINS));
 * either way the C side must be re-checked against the new file.
 * The file's own header documents its format for the C reader; keep the two in step.
 * test/core/control-law.test.ts checks that generateLawVectors() equals the committed file.
 */
import { realpathSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { assert } from '../../src/core/assert.js';
import { crc32Update } from '../../src/core/crc32.js';
import {
  CHANNEL_COMMAND_MV,
  CHANNEL_RATE_MILLIDEG_PER_TICK,
  DEFAULT_GAINS,
  LAW_ID,
  LAW_NAME,
  LAW_STATE_FORMAT_VERSION,
  LAW_STATE_SIZE_BYTES,
  LAW_VERSION,
  OUTPUT_CHANNEL_COUNT,
  POSITION_MILLIDEG_LIMIT,
  SELF_TEST_PARAMS,
  SELF_TEST_SEED,
  SELF_TEST_STEPS,
  KD_Q16_LIMIT,
  KI_Q16_LIMIT,
  KP_Q16_LIMIT,
  OUTPUT_LIMIT_MV_LIMIT,
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

export const VECTOR_FILE_FORMAT_VERSION = 1;
export const VECTOR_FILE_URL = new URL('./pid-q16-v1.txt', import.meta.url);
/** Steps per 'full' run, one line each (section A). */
export const FULL_STEPS = 2_000;
/** Steps per 'long' run (section B); only every CHECKPOINT_INTERVAL_STEPS-th step gets a line. */
export const LONG_STEPS = 100_000;
export const CHECKPOINT_INTERVAL_STEPS = 1_000;
/** Bytes each step contributes to the long runs' CRC chain: le32 command, le32 rate, le32 digest. */
export const CHAIN_BYTES_PER_STEP = 12;
/** Promised to the C reader, whose line buffer can then be 128 bytes plus the newline. */
export const LINE_LENGTH_MAX = 127;

export interface VectorSet {
  readonly name: string;
  readonly params: LawParams;
  /** Seed of the input generator; the full run is the first FULL_STEPS steps of the long run. */
  readonly seed: number;
  /** Tick of step 0; tick = (tickStart + step) mod 2^32. */
  readonly tickStart: number;
}

const M = POSITION_MILLIDEG_LIMIT;

/**
 * The parameter sets. Tick starts are chosen so some runs cross 2^31 (signedness slips in C)
 * and 2^32 (wrap) inside the full section, where a mismatch is easy to pin to a line.
 */
export const VECTOR_SETS: readonly VectorSet[] = [
  { name: 'self_test', params: SELF_TEST_PARAMS, seed: SELF_TEST_SEED, tickStart: 0 },
  { name: 'rate_50hz', params: lawParamsForRate(50, DEFAULT_GAINS), seed: 0x7a3f0050, tickStart: 0xffff0000 },
  { name: 'rate_500hz', params: lawParamsForRate(500, DEFAULT_GAINS), seed: 0x7a3f0500, tickStart: 0x7ffffc18 },
  { name: 'rate_2000hz', params: lawParamsForRate(2000, DEFAULT_GAINS), seed: 0x7a3f2000, tickStart: 123_456_789 },
  {
    name: 'extreme',
    params: { kpQ16: KP_Q16_LIMIT - 1, kiQ16: KI_Q16_LIMIT - 1, kdQ16: KD_Q16_LIMIT - 1, outputLimitMv: OUTPUT_LIMIT_MV_LIMIT - 1 },
    seed: 0x7a3fffff,
    tickStart: 0xfffffc18,
  },
];

interface EdgeStep {
  readonly tick: number;
  readonly setpointMilliDeg: number;
  readonly positionMilliDeg: number;
}

interface EdgeCase {
  readonly name: string;
  readonly initial: LawState;
  readonly steps: readonly EdgeStep[];
}

function edgeStep(tick: number, setpointMilliDeg: number, positionMilliDeg: number): EdgeStep {
  return { tick, setpointMilliDeg, positionMilliDeg };
}

/**
 * Hand-picked steps from explicit initial states, applied to every set. `limitQ16` is the set's
 * integral bound, outputLimitMv * 2^16. The windup cases start one LSB inside the bound so the
 * clamped candidate still exceeds the held integral and conditional integration must act.
 */
export function edgeCases(params: LawParams): EdgeCase[] {
  const limitQ16 = params.outputLimitMv * 65_536;
  const state = (integralQ16: number, previousPositionMilliDeg: number, lastTick: number, primed: number): LawState => ({
    integralQ16,
    previousPositionMilliDeg,
    lastTick,
    primed,
  });
  return [
    {
      name: 'unprimed_first_step',
      initial: state(0, 300_000, 0, 0),
      steps: [edgeStep(7, 0, -M), edgeStep(8, 0, M), edgeStep(9, M, -M)],
    },
    {
      name: 'positions_extreme',
      initial: state(0, -M, 0xffffffff, 1),
      steps: [edgeStep(0, M, M), edgeStep(1, -M, -M), edgeStep(2, -M, M), edgeStep(3, M, -M), edgeStep(4, -M, M)],
    },
    {
      name: 'integral_below_plus_limit_windup',
      initial: state(limitQ16 - 1, 0, 100, 1),
      steps: [edgeStep(101, 1_000, 0), edgeStep(102, 1_000, 0), edgeStep(103, -1_000, 0), edgeStep(104, -M, M)],
    },
    {
      name: 'integral_at_plus_limit',
      initial: state(limitQ16, 0, 200, 1),
      steps: [edgeStep(201, 5_000, 0), edgeStep(202, 0, 0), edgeStep(203, 0, 1), edgeStep(204, M, -M)],
    },
    {
      name: 'integral_above_minus_limit_windup',
      initial: state(-limitQ16 + 1, 0, 300, 1),
      steps: [edgeStep(301, -1_000, 0), edgeStep(302, -1_000, 0), edgeStep(303, 1_000, 0), edgeStep(304, M, -M)],
    },
    {
      name: 'integral_at_minus_limit',
      initial: state(-limitQ16, 0, 400, 1),
      steps: [edgeStep(401, -5_000, 0), edgeStep(402, 0, 0), edgeStep(403, 0, -1), edgeStep(404, -M, M)],
    },
    {
      name: 'small_errors_rounding',
      initial: state(0, 0, 500, 1),
      steps: [edgeStep(501, -1, 0), edgeStep(502, 1, 0), edgeStep(503, 0, 1), edgeStep(504, 0, 0), edgeStep(505, -3, -1)],
    },
    {
      // u lands exactly on +L with a growing candidate: not saturated, so the integral advances
      // (an implementation comparing u >= L would hold it).
      name: 'output_exactly_at_plus_limit',
      initial: state(limitQ16 - params.kpQ16 - params.kiQ16, 0, 600, 1),
      steps: [edgeStep(601, 1, 0), edgeStep(602, 0, 0)],
    },
    {
      name: 'output_exactly_at_minus_limit',
      initial: state(-limitQ16 + params.kpQ16 + params.kiQ16, 0, 700, 1),
      steps: [edgeStep(701, -1, 0), edgeStep(702, 0, 0)],
    },
    {
      name: 'tick_wrap',
      initial: state(-12_345, -M, 0xfffffffe, 1),
      steps: [edgeStep(0xffffffff, 0, -M + 1), edgeStep(0, 0, -M + 2), edgeStep(1, 0, -M + 3)],
    },
  ];
}

/** Steps of the small-signal run of each set. */
export const SMALL_SIGNAL_STEPS = 500;

/**
 * The generator runs saturate the command on most steps (an error of tens of degrees times a
 * proportional gain near 1 mV/m° is far beyond 12 V), so they check the unsaturated arithmetic
 * only now and then.
 * This run keeps most commands unsaturated, with two kinds of step, half each:
 *   - noise: |error| and |delta| up to L / (4 (kp + ki + 2 kd)), so every term is small;
 *   - cancelling: a large position step (up to 8000 m°) with the setpoint placed so that the
 *     proportional term cancels the derivative term; the products are large but u is small, so
 *     a one-LSB error in kd or kp shows up in the floor.
 * Its inputs are written out; the C side does not need this generator.
 */
function smallSignalCase(params: LawParams, seed: number): EdgeCase {
  const limitQ16 = params.outputLimitMv * 65_536;
  const gainSumQ16 = params.kpQ16 + params.kiQ16 + 2 * params.kdQ16;
  const amplitudeMilliDeg = Math.min(2_000, Math.max(1, Math.floor(limitQ16 / (4 * gainSumQ16 + 1))));
  const prng = new Prng(seed);
  const clampPosition = (x: number): number => Math.min(M, Math.max(-M, x));
  const steps: EdgeStep[] = [];
  let position = 0;
  for (let step = 0; step < SMALL_SIGNAL_STEPS; step++) {
    const cancelling = prng.nextBelow(2) === 0 && params.kpQ16 > 0;
    const moveMilliDeg = prng.nextIntInclusive(-(cancelling ? 8_000 : amplitudeMilliDeg), cancelling ? 8_000 : amplitudeMilliDeg);
    // Reflect moves that would leave +/-2^16 m°, so the setpoint below stays in range.
    const previous = position;
    position = Math.abs(previous + moveMilliDeg) > 1 << 16 ? previous - moveMilliDeg : previous + moveMilliDeg;
    const noiseMilliDeg = prng.nextIntInclusive(-amplitudeMilliDeg, amplitudeMilliDeg);
    const cancelMilliDeg = cancelling ? Math.round((params.kdQ16 * (position - previous)) / params.kpQ16) : 0;
    steps.push(edgeStep(1_000 + step, clampPosition(position + cancelMilliDeg + noiseMilliDeg), position));
  }
  return { name: 'small_signal', initial: createLawState(), steps };
}

function hex8(word: number): string {
  return (word >>> 0).toString(16).padStart(8, '0');
}

function hexBytes(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += byte.toString(16).padStart(2, '0');
  return text;
}

/** Scratch shared by the run functions; the generator is single-threaded and not re-entrant. */
const stateBytes = new Uint8Array(LAW_STATE_SIZE_BYTES);
const outputs = new Int32Array(OUTPUT_CHANNEL_COUNT);

function stateHex(state: LawState): string {
  serializeLawState(state, stateBytes);
  return hexBytes(stateBytes);
}

function stepLine(step: number, tick: number, setpointMilliDeg: number, positionMilliDeg: number, state: LawState): string {
  const command = outputs[CHANNEL_COMMAND_MV]!;
  const rate = outputs[CHANNEL_RATE_MILLIDEG_PER_TICK]!;
  return `s ${step} ${tick} ${setpointMilliDeg} ${positionMilliDeg} ${command} ${rate} ${hex8(lawStateDigest(state))} ${stateHex(state)}`;
}

function fullRunLines(setIndex: number, set: VectorSet): string[] {
  const lines = [`full ${setIndex} ${hex8(set.seed)} ${set.tickStart} ${FULL_STEPS}`];
  const prng = new Prng(set.seed);
  const state = createLawState();
  const inputs = { setpointMilliDeg: 0, positionMilliDeg: 0 };
  for (let step = 0; step < FULL_STEPS; step++) {
    drawLawInputs(prng, inputs.positionMilliDeg, inputs);
    const tick = (set.tickStart + step) >>> 0;
    lawStep(set.params, state, tick, inputs.setpointMilliDeg, inputs.positionMilliDeg, outputs);
    lines.push(stepLine(step, tick, inputs.setpointMilliDeg, inputs.positionMilliDeg, state));
  }
  return lines;
}

function edgeRunLines(setIndex: number, set: VectorSet): string[] {
  const lines: string[] = [];
  for (const edge of [...edgeCases(set.params), smallSignalCase(set.params, (set.seed ^ 0x5a5a_5a5a) >>> 0)]) {
    const initialHex = stateHex(edge.initial);
    const state = createLawState();
    // Start from the bytes written to the file, exactly as the C reader will.
    const problem = deserializeLawState(Buffer.from(initialHex, 'hex'), state, set.params);
    assert(problem === null, `edge case ${edge.name} of ${set.name} has an invalid initial state: ${problem}`);
    lines.push(`edge ${setIndex} ${edge.name} ${initialHex} ${edge.steps.length}`);
    edge.steps.forEach((s, step) => {
      lawStep(set.params, state, s.tick, s.setpointMilliDeg, s.positionMilliDeg, outputs);
      lines.push(stepLine(step, s.tick, s.setpointMilliDeg, s.positionMilliDeg, state));
    });
  }
  return lines;
}

/** Appends one step's le32(command) le32(rate) le32(digest) to a running CRC-32. */
const chainWords = new Uint8Array(CHAIN_BYTES_PER_STEP);
const chainView = new DataView(chainWords.buffer);
function chainStep(crc: number, command: number, rate: number, digest: number): number {
  chainView.setInt32(0, command, true);
  chainView.setInt32(4, rate, true);
  chainView.setUint32(8, digest, true);
  return crc32Update(crc, chainWords);
}

function longRunLines(setIndex: number, set: VectorSet): string[] {
  const lines = [`long ${setIndex} ${hex8(set.seed)} ${set.tickStart} ${LONG_STEPS} ${CHECKPOINT_INTERVAL_STEPS}`];
  const prng = new Prng(set.seed);
  const state = createLawState();
  const inputs = { setpointMilliDeg: 0, positionMilliDeg: 0 };
  let crc = 0;
  for (let step = 0; step < LONG_STEPS; step++) {
    drawLawInputs(prng, inputs.positionMilliDeg, inputs);
    lawStep(set.params, state, (set.tickStart + step) >>> 0, inputs.setpointMilliDeg, inputs.positionMilliDeg, outputs);
    const digest = lawStateDigest(state);
    crc = chainStep(crc, outputs[CHANNEL_COMMAND_MV]!, outputs[CHANNEL_RATE_MILLIDEG_PER_TICK]!, digest);
    if ((step + 1) % CHECKPOINT_INTERVAL_STEPS === 0) lines.push(`c ${step} ${hex8(crc)} ${hex8(digest)}`);
  }
  return lines;
}

const HEADER_COMMENT = `# tmr control-law test vectors: law 1 "pid-q16", version 1.
# GENERATED FILE, do not edit. Regenerate from the repository root with:
#   npx tsx test/vectors/generate-law-vectors.ts
# The TypeScript law (src/core/control-law.ts) and the C firmware must both reproduce every
# record; neither is the reference. test/core/control-law.test.ts checks the TypeScript side.
#
# ==== Syntax ====
# ASCII, LF line ends, no line longer than 127 characters. Empty lines and lines starting with
# '#' are comments. Every other line is a record: a keyword, then fields separated by one space.
#   - signed quantities (setpoint, position, command, rate, gains) are decimal, fit in int32:
#     strtol(field, NULL, 10)
#   - ticks, step indexes and counts are decimal uint32: strtoul(field, NULL, 10)
#   - 32-bit words (seeds, digests, CRCs, the self-test hash) are exactly 8 lowercase hex digits,
#     no prefix: strtoul(field, NULL, 16)
#   - a serialised state is exactly 28 lowercase hex digits: its 14 bytes in order
#   - names ([a-z0-9_-], 1 to 40 characters) identify things for humans; no spaces
#
# Records, in file order:
#   format tmr-law-vectors <file_format_version>
#   law <law_id> <law_name> <law_version>
#   state <state_format_version> <state_size_bytes>
#   set <set> <name> <kp_q16> <ki_q16> <kd_q16> <output_limit_mv>      (sets numbered from 0)
#   self_test <set> <seed> <tick_start> <steps> <hash>
#   full <set> <seed> <tick_start> <steps>               then <steps> 's' records   (section A)
#   edge <set> <name> <initial_state> <steps>            then <steps> 's' records   (section A)
#   s <step> <tick> <setpoint> <position> <command> <rate> <digest> <state>
#   long <set> <seed> <tick_start> <steps> <interval>    then <steps>/<interval> 'c' records (B)
#   c <step> <crc> <digest>
#   end
#
# ==== Law step (one 's' record) ====
# Inputs: params of <set>, the state, <tick>, <setpoint>, <position> (both in [-2^19, 2^19],
# milli-degrees). With L = output_limit_mv * 2^16 and int64_t arithmetic throughout:
#   e     = setpoint - position                              |e| <= 2^20
#   delta = primed ? position - previous_position : 0        |delta| <= 2^20
#   p     = kp_q16 * e                     d = -(kd_q16 * delta)
#   cand  = clamp(integral_q16 + ki_q16 * e, -L, +L)
#   u     = p + cand + d                                     |u| < 2^47
#   if ((u > L && cand > integral_q16) || (u < -L && cand < integral_q16)) {   anti-windup
#     cand = integral_q16;  u = p + cand + d;
#   }
#   command = clamp(u >> 16, -output_limit_mv, +output_limit_mv)
#             (>> is an arithmetic shift = floor(u / 65536): -1.5 mV becomes -2)
#   rate    = delta                                          (milli-degrees per tick)
#   state  := { integral_q16 = cand, previous_position = position, last_tick = tick, primed = 1 }
# <command> and <rate> are the outputs; <state> is the state after the step, serialised;
# <digest> is the CRC-32 of those 14 bytes.
#
# ==== State serialisation (14 bytes) ====
#   byte 0       format version, 1
#   bytes 1..4   integral_q16, int32 two's complement, little-endian; |integral_q16| <= L
#   bytes 5..8   previous_position, int32 little-endian, in [-2^19, 2^19]
#   bytes 9..12  last_tick, uint32 little-endian
#   byte 13      primed, 0 or 1
# A reset state is 14 bytes of zero except byte 0 (integral 0, position 0, tick 0, not primed).
#
# ==== CRC-32 ====
# IEEE 802.3 / zlib: reflected polynomial 0xedb88320, init 0xffffffff, final xor 0xffffffff;
# CRC-32("123456789") = cbf43926. crc32_update(c, bytes) = crc32 continued from a previous
# result c, i.e. the CRC-32 of the concatenation; crc32_update(0, b) = crc32(b).
#
# ==== Section A ====
# 'full': start from a reset state; the inputs are the first <steps> draws of the generator
# below with <seed>, and tick = (tick_start + step) mod 2^32. The inputs are also written out,
# so the law can be checked before the generator is written.
# 'edge': explicit inputs. Deserialise <initial_state> (it is valid for the set's params), then
# apply each 's' record's tick, setpoint and position in order. Most are a few hand-picked
# steps (extreme positions and errors, integral at and one LSB inside +/-L with anti-windup
# acting, u exactly +/-L, first step not primed, tick wrap). 'small_signal' is a longer run
# whose commands are mostly unsaturated (the generator runs saturate on most steps): small
# errors, and large position steps whose derivative term the proportional term cancels.
#
# ==== Section B ====
# 'long': the same run as 'full' (same seed and tick start; its first steps equal the full
# run's records) continued for <steps> steps. With crc = 0 before step 0, after each step
#   crc = crc32_update(crc, le32(command) || le32(rate) || le32(digest))      (12 bytes)
# where command and rate are int32 two's complement and digest is the step's state digest.
# A 'c' record follows every step with (step + 1) % interval == 0: <step> is that step's
# 0-based index, <crc> the chain after it, <digest> the state digest after it.
# The self-test hash in the 'self_test' record is this chain after <steps> (256) steps of the
# run with <seed> and <tick_start> on params of <set>: the full and long runs of set 0 start
# with exactly those steps, so it is their crc after step 255.
#
# ==== Input generator ====
# All arithmetic on uint32_t, wrapping mod 2^32; rotl(x, k) = (x << k) | (x >> (32 - k)).
#   fmix32(z):     z = (z ^ (z >> 16)) * 0x85ebca6b;          (MurmurHash3's finaliser)
#                  z = (z ^ (z >> 13)) * 0xc2b2ae35;
#                  return z ^ (z >> 16);
#   seeding:       x = seed; for (i = 0; i < 4; i++) { x = x + 0x9e3779b9; s[i] = fmix32(x); }
#                  (a textbook splitmix32 stream: s[i] = fmix32(seed + (i + 1) * 0x9e3779b9).)
#                  If all four words are 0 set s[0] = 1 (cannot happen: fmix32 is a bijection.)
#   next_u32():    xoshiro128**:
#                  result = rotl(s[1] * 5, 7) * 9;
#                  t = s[1] << 9;
#                  s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
#                  s[2] ^= t; s[3] = rotl(s[3], 11);
#                  return result;
#   next_below(b): (uint32_t)(((uint64_t)next_u32() * b) >> 32)      for 1 <= b <= 2^21
#   next_int(lo, hi): lo + (int32_t)next_below(hi - lo + 1)          (hi inclusive)
#   draw(previous) -> (setpoint, position), previous = the position of the step before
#   (0 before step 0); setpoint is always drawn before position:
#     mode = next_below(8);
#     if (mode == 0) {
#       setpoint = next_below(2) == 0 ? 2^19 : -2^19;
#       position = next_below(2) == 0 ? 2^19 : -2^19;
#     } else if (mode <= 2) {
#       setpoint = next_int(-2^19, 2^19);  position = next_int(-2^19, 2^19);
#     } else {
#       setpoint = next_int(-90000, 90000);
#       position = clamp(previous + next_int(-2000, 2000), -2^19, 2^19);
#     }
# In TypeScript: new Prng(seed) and drawLawInputs(prng, previous, into) (src/core/prng.ts and
# src/core/control-law.ts).
`;

function headerLines(): string[] {
  const lines = [HEADER_COMMENT, `format tmr-law-vectors ${VECTOR_FILE_FORMAT_VERSION}`];
  lines.push(`law ${LAW_ID} ${LAW_NAME} ${LAW_VERSION}`);
  lines.push(`state ${LAW_STATE_FORMAT_VERSION} ${LAW_STATE_SIZE_BYTES}`);
  VECTOR_SETS.forEach((set, index) => {
    const p = set.params;
    lines.push(`set ${index} ${set.name} ${p.kpQ16} ${p.kiQ16} ${p.kdQ16} ${p.outputLimitMv}`);
  });
  lines.push(`self_test 0 ${hex8(SELF_TEST_SEED)} 0 ${SELF_TEST_STEPS} ${hex8(lawSelfTestHash())}`);
  return lines;
}

/** The whole vector file as text. Pure: the same code gives the same bytes. */
export function generateLawVectors(): string {
  const selfTestSet = VECTOR_SETS[0]!;
  assert(selfTestSet.params === SELF_TEST_PARAMS && selfTestSet.seed === SELF_TEST_SEED && selfTestSet.tickStart === 0, 'set 0 is the self-test run');
  for (const set of VECTOR_SETS) assert(lawParamsValid(set.params) === null, `set ${set.name} has invalid params`);
  const lines = headerLines();
  lines.push('', '# ==== Section A: full runs ====');
  VECTOR_SETS.forEach((set, index) => lines.push(`# set ${index} ${set.name}`, ...fullRunLines(index, set)));
  lines.push('', '# ==== Section A: edge cases ====');
  VECTOR_SETS.forEach((set, index) => lines.push(...edgeRunLines(index, set)));
  lines.push('', '# ==== Section B: long runs ====');
  VECTOR_SETS.forEach((set, index) => lines.push(...longRunLines(index, set)));
  lines.push('end', '');
  const text = lines.join('\n');
  for (let i = 0; i < text.length; i++) assert(text.charCodeAt(i) < 0x80, `non-ASCII character at offset ${i}`);
  for (const line of text.split('\n')) assert(line.length <= LINE_LENGTH_MAX, `line longer than ${LINE_LENGTH_MAX}: ${line}`);
  return text;
}

function main(): void {
  const text = generateLawVectors();
  const path = fileURLToPath(VECTOR_FILE_URL);
  writeFileSync(path, text, 'ascii');
  process.stdout.write(`wrote ${path}: ${text.length} bytes, self-test hash ${hex8(lawSelfTestHash())}\n`);
}

const invokedPath = process.argv[1];
if (invokedPath !== undefined && import.meta.url === pathToFileURL(realpathSync(invokedPath)).href) main();
