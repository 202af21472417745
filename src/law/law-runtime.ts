/**
 * What the runtime derives from a law so that no law writes it by hand: the state digest, the
 * self-test hash, the hello a host sends for it, range checks on inputs, outputs and parameters,
 * and the checks a law must pass at load (deterministic, does not throw, stays within its declared
 * output ranges, serialises and deserialises its state losslessly). A law is only ever run through
 * a LoadedLaw.
 *
 * The self-test is specified bit for bit in PROTOCOL.md and implemented again in C
 * (boards/common/law_runtime.c): a replica proves at the handshake that its implementation of the
 * law computes exactly what ours does.
 */
import { assert, isInt32 } from '../core/assert.js';
import { crc32, crc32UpdateU32Le } from '../core/crc32.js';
import type { ChannelSpec } from '../core/voter.js';
import { Prng } from '../core/prng.js';
import { PROTOCOL_VERSION, type HelloMessage } from '../protocol/messages.js';
import { LawError, isLawDefinition, declarationProblems, type LawDefinition } from './law.js';

export const SELF_TEST_SEED = 0x7a3f0002;
export const SELF_TEST_SEGMENTS = 4;
export const SELF_TEST_STEPS_PER_SEGMENT = 64;
export const SELF_TEST_STEPS = SELF_TEST_SEGMENTS * SELF_TEST_STEPS_PER_SEGMENT;

/** lo + (u32 mod (hi - lo + 1)): exact in doubles for any int32 lo <= hi (the span is at most 2^32). */
export function drawInRange(prng: Prng, lo: number, hi: number): number {
  return lo + (prng.nextU32() % (hi - lo + 1));
}

/** The self-test's parameter set for a segment: the defaults first, then ends, defaults and draws. */
export function drawParams(prng: Prng, law: LawDefinition, segment: number, into: Int32Array): void {
  law.params.forEach((p, i) => {
    if (segment === 0) {
      into[i] = p.default;
      return;
    }
    const mode = prng.nextU32() % 4;
    into[i] = mode === 0 ? p.min : mode === 1 ? p.max : mode === 2 ? p.default : drawInRange(prng, p.min, p.max);
  });
}

/** Starting points of the inputs' random walks: the middle of each range. */
export function resetWalk(law: LawDefinition, previous: Float64Array): void {
  law.inputs.forEach((c, i) => {
    previous[i] = c.min + Math.floor((c.max - c.min) / 2);
  });
}

/**
 * One step's inputs: per channel an end of the range (1 in 4), a uniform draw (1 in 4) or a step
 * of up to 1/64 of the range from the previous value (1 in 2), so laws see both extremes and
 * smooth signals.
 */
export function drawInputs(prng: Prng, law: LawDefinition, previous: Float64Array, into: Int32Array): void {
  law.inputs.forEach((c, i) => {
    const mode = prng.nextU32() % 8;
    let value: number;
    if (mode === 0) value = c.min;
    else if (mode === 1) value = c.max;
    else if (mode <= 3) value = drawInRange(prng, c.min, c.max);
    else {
      const width = Math.floor((c.max - c.min) / 64);
      value = (previous[i] as number) + drawInRange(prng, -width, width);
      if (value < c.min) value = c.min;
      else if (value > c.max) value = c.max;
    }
    into[i] = value;
    previous[i] = value;
  });
}

/** Where an output left its declared range, or null. */
export function outputOutOfRange(law: LawDefinition, outputs: Int32Array): string | null {
  for (let c = 0; c < law.outputs.length; c++) {
    const spec = law.outputs[c]!;
    const value = outputs[c] as number;
    if (!(value >= spec.min && value <= spec.max)) return `wrote ${spec.name} = ${value}, outside [${spec.min}, ${spec.max}]`;
  }
  return null;
}

/** A law that passed its load-time checks, with everything the runtime derives from it. */
export class LoadedLaw<S = unknown> {
  readonly selfTestHash: number;
  /** The voter's channel table, from the output declarations. */
  readonly channels: readonly ChannelSpec[];
  /**
   * How another process loads this same law (`--law` of a replica process, a campaign worker):
   * a shipped law's name, or the absolute path of a user's module.
   */
  source: string;
  /** What else the law's module exports (a user's law may carry its own plant as `plant`); null for a shipped law. */
  moduleExports: Readonly<Record<string, unknown>> | null = null;
  private readonly scratch: Uint8Array;

  constructor(readonly definition: LawDefinition<S>) {
    this.scratch = new Uint8Array(definition.stateSizeBytes);
    this.channels = definition.outputs.map((c) => ({ name: c.name, kind: c.vote === 'exact' ? 'exact' : 'midValue', toleranceCounts: c.tolerance ?? 0 }));
    this.selfTestHash = checkedSelfTestHash(definition);
    this.source = definition.name;
  }

  get name(): string {
    return this.definition.name;
  }
  get version(): number {
    return this.definition.version;
  }
  get inputCount(): number {
    return this.definition.inputs.length;
  }
  get outputCount(): number {
    return this.definition.outputs.length;
  }

  /** The state digest: CRC-32 of the serialised state. Allocation-free (one scratch buffer). */
  digest(state: S): number {
    this.definition.serialize(state, this.scratch);
    return crc32(this.scratch);
  }

  /** The serialised state, as a new array (state transfer and logs; not per tick). */
  stateBytes(state: S): Uint8Array {
    const out = new Uint8Array(this.definition.stateSizeBytes);
    this.definition.serialize(state, out);
    return out;
  }

  /** The default parameters at a tick rate (the law's paramsForRate, else the declared defaults), checked. */
  paramsForRate(rateHz: number): Int32Array {
    const list = this.definition.paramsForRate?.(rateHz) ?? this.definition.params.map((p) => p.default);
    const problem = this.paramsProblem(list);
    if (problem !== null) throw new LawError(`law '${this.name}': its parameters at ${rateHz} Hz are invalid: ${problem}`);
    return Int32Array.from(list);
  }

  /** Why a parameter list does not fit the declaration, or null. */
  paramsProblem(list: ArrayLike<number>): string | null {
    const params = this.definition.params;
    if (list.length !== params.length) return `${list.length} parameters given, the law declares ${params.length}`;
    for (let i = 0; i < params.length; i++) {
      const p = params[i]!;
      const value = list[i] as number;
      if (!isInt32(value) || value < p.min || value > p.max) return `${p.name} = ${value} outside [${p.min}, ${p.max}]`;
    }
    return null;
  }

  /** Whether every input is within its declared range (the replica checks what came off the wire). */
  inputsValid(inputs: ArrayLike<number>): boolean {
    const spec = this.definition.inputs;
    if (inputs.length < spec.length) return false;
    for (let c = 0; c < spec.length; c++) {
      const value = inputs[c] as number;
      const channel = spec[c]!;
      if (!(value >= channel.min && value <= channel.max)) return false;
    }
    return true;
  }

  outputOutOfRange(outputs: Int32Array): string | null {
    return outputOutOfRange(this.definition, outputs);
  }

  /** The safe value of every output channel, in order. */
  safeOutputs(): Int32Array {
    return Int32Array.from(this.definition.outputs.map((c) => c.safe));
  }
}

/**
 * Runs the self-test (see PROTOCOL.md for the exact algorithm) and returns its hash. The law's
 * own failures (a throw, an output out of range, state bytes that do not round-trip) come back as
 * the reason string instead.
 */
export function runSelfTest(law: LawDefinition): { ok: true; hash: number } | { ok: false; reason: string } {
  const prng = new Prng(SELF_TEST_SEED);
  const params = new Int32Array(law.params.length);
  const inputs = new Int32Array(law.inputs.length);
  const outputs = new Int32Array(law.outputs.length);
  const previous = new Float64Array(law.inputs.length);
  const bytes = new Uint8Array(law.stateSizeBytes);
  const again = new Uint8Array(law.stateSizeBytes);
  let hash = 0;
  let where = 'init';
  try {
    for (let segment = 0; segment < SELF_TEST_SEGMENTS; segment++) {
      drawParams(prng, law, segment, params);
      where = `init with parameters [${params.join(', ')}]`;
      const state = law.init(params);
      resetWalk(law, previous);
      for (let i = 0; i < SELF_TEST_STEPS_PER_SEGMENT; i++) {
        const stepIndex = segment * SELF_TEST_STEPS_PER_SEGMENT + i;
        drawInputs(prng, law, previous, inputs);
        where = `self-test step ${stepIndex} (inputs [${inputs.join(', ')}], parameters [${params.join(', ')}])`;
        outputs.fill(0);
        law.step(state, inputs, outputs);
        const range = outputOutOfRange(law, outputs);
        if (range !== null) return { ok: false, reason: `${range} at ${where}` };
        for (let c = 0; c < outputs.length; c++) hash = crc32UpdateU32Le(hash, (outputs[c] as number) >>> 0);
        law.serialize(state, bytes);
        hash = crc32UpdateU32Le(hash, crc32(bytes));
        if (i % 16 === 15) {
          // The state must survive a transfer: into a fresh state and back out, the same bytes.
          const copy = law.init(params);
          const refused = law.deserialize(copy, bytes);
          if (refused !== null) return { ok: false, reason: `refused its own state bytes (${refused}) at ${where}` };
          law.serialize(copy, again);
          if (!equalBytes(bytes, again)) return { ok: false, reason: `state bytes do not survive serialize/deserialize at ${where}` };
        }
      }
    }
  } catch (error) {
    return { ok: false, reason: `threw at ${where}: ${error instanceof Error ? error.message : String(error)}` };
  }
  return { ok: true, hash };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function checkedSelfTestHash(law: LawDefinition): number {
  const first = runSelfTest(law);
  if (!first.ok) throw new LawError(`law '${law.name}' refused: it ${first.reason}`);
  const second = runSelfTest(law);
  if (!second.ok) throw new LawError(`law '${law.name}' refused: not deterministic: a second self-test run ${second.reason}`);
  if (second.hash !== first.hash) {
    throw new LawError(`law '${law.name}' refused: not deterministic: two self-test runs gave ${hex(first.hash)} and ${hex(second.hash)}`);
  }
  return first.hash;
}

export function hex(value: number): string {
  return (value >>> 0).toString(16).padStart(8, '0');
}

/** The hello a host sends for a law and its parameters (the host's runtime and the simulator build it the same way). */
export function helloFor(law: LoadedLaw, replicaIndex: number, params: ArrayLike<number>): HelloMessage {
  return {
    kind: 'hello',
    protocolVersion: PROTOCOL_VERSION,
    replicaIndex,
    lawName: law.name,
    lawVersion: law.version,
    inputCount: law.inputCount,
    outputCount: law.outputCount,
    lawHash: law.selfTestHash,
    lawParams: Array.from(params),
  };
}

/** Loads a law: checks the declaration again (a module may hand us anything) and runs the load-time checks. */
export function loadLaw<S>(candidate: LawDefinition<S> | unknown, origin: string): LoadedLaw<S> {
  if (!isLawDefinition(candidate)) throw new LawError(`${origin}: does not export a law (export default defineLaw({ ... }))`);
  const problems = declarationProblems(candidate);
  if (problems.length > 0) throw new LawError(`law '${String(candidate.name)}' (${origin}): ${problems.join('; ')}`);
  const loaded = new LoadedLaw(candidate as LawDefinition<S>);
  assert(loaded.channels.length === candidate.outputs.length, 'channel table does not match the outputs');
  return loaded;
}
