/**
 * `tmr law check LAW.ts LAW.c`: proves that a law's TypeScript and C implementations compute the
 * same thing, bit for bit. The C law is built for the host with the SDK's harness
 * (boards/common/law_harness.c), which answers requests on its stdin/stdout (PROTOCOL.md, "The
 * host law harness"); this side draws seeded parameter sets and inputs, runs both laws over them
 * and compares every output and every state byte after every step, with state transfers between
 * the two in mid-run. It also compares the two declarations and self-test hashes.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../core/prng.js';
import { LawError, type LawDefinition } from './law.js';
import { drawInputs, drawParams, hex, outputOutOfRange, resetWalk, type LoadedLaw } from './law-runtime.js';
import { packageRoot } from './law-loader.js';

export const CHECK_STEPS_DEFAULT = 1_000_000;
export const CHECK_STEPS_MAX = 100_000_000;
/** Steps per harness request: the harness's buffer limit. */
export const HARNESS_BATCH_STEPS_MAX = 4096;
/** A parameter set is kept for this many steps at most before both laws start again. */
const EPISODE_STEPS_MAX = 20_000;
const HARNESS_REPLY_TIMEOUT_MS = 20_000;
const DESCRIPTION_BYTES_MAX = 16 * 1024;
export const C_FLAGS = ['-std=c11', '-O2', '-Wall', '-Wextra', '-Wconversion', '-Werror'] as const;

/** The C SDK sources a law is built with, besides the law itself. */
export function sdkSources(root = packageRoot()): { readonly includeDir: string; readonly sources: readonly string[] } {
  const dir = join(root, 'boards', 'common');
  return { includeDir: dir, sources: ['law_harness.c', 'law_runtime.c', 'crc32.c', 'prng.c'].map((f) => join(dir, f)) };
}

/** Builds the harness for a C law into `dir`; throws a LawError with the compiler's first lines. */
export function buildHarness(lawC: string, dir: string): string {
  const out = join(dir, 'law-harness');
  const { includeDir, sources } = sdkSources();
  const cc = process.env.CC ?? 'cc';
  const result = spawnSync(cc, [...C_FLAGS, '-I', includeDir, ...sources, lawC, '-o', out], { encoding: 'utf8' });
  if (result.error !== undefined) throw new LawError(`cannot run the C compiler '${cc}': ${result.error.message}`);
  if (result.status !== 0) {
    const lines = `${result.stderr}`.split('\n').filter((l) => l.includes('error') || l.includes('warning'));
    throw new LawError(`${lawC} does not compile (${cc} ${C_FLAGS.join(' ')}): ${lines.slice(0, 3).join(' | ') || `exit ${result.status}`}`);
  }
  return out;
}

/** The declaration the harness reports, as JSON. */
export interface CDeclaration {
  readonly name: string;
  readonly version: number;
  readonly inputs: readonly { name: string; unit: string; min: number; max: number }[];
  readonly outputs: readonly { name: string; unit: string; min: number; max: number; safe: number; vote: string; tolerance: number }[];
  readonly params: readonly { name: string; min: number; max: number; default: number }[];
  readonly stateSizeBytes: number;
  readonly selfTestHash?: number;
  readonly selfTestError?: string;
}

/** The declaration of the TypeScript law in the harness's form, for a field-by-field comparison. */
export function declarationOf(law: LawDefinition): Omit<CDeclaration, 'selfTestHash' | 'selfTestError'> {
  return {
    name: law.name,
    version: law.version,
    inputs: law.inputs.map((c) => ({ name: c.name, unit: c.unit, min: c.min, max: c.max })),
    outputs: law.outputs.map((c) => ({ name: c.name, unit: c.unit, min: c.min, max: c.max, safe: c.safe, vote: c.vote, tolerance: c.tolerance ?? 0 })),
    params: law.params.map((p) => ({ name: p.name, min: p.min, max: p.max, default: p.default })),
    stateSizeBytes: law.stateSizeBytes,
  };
}

/** Field paths where two declarations differ ("outputs[1].tolerance: ts 2, c 3"). */
export function declarationDifferences(ts: object, c: object, path = ''): string[] {
  const differences: string[] = [];
  const a = ts as Record<string, unknown>;
  const b = c as Record<string, unknown>;
  for (const key of Object.keys(a)) {
    const here = Array.isArray(ts) ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;
    const x = a[key];
    const y = b[key];
    if (typeof x === 'object' && x !== null && typeof y === 'object' && y !== null) {
      if (Array.isArray(x) && Array.isArray(y) && x.length !== y.length) differences.push(`${here}: ts has ${x.length}, c has ${y.length}`);
      else differences.push(...declarationDifferences(x, y, here));
    } else if (x !== y) differences.push(`${here}: ts ${JSON.stringify(x)}, c ${JSON.stringify(y)}`);
  }
  return differences;
}

/** The C law behind its harness process: one request at a time. */
export class CLawHarness {
  private readonly child: ChildProcessWithoutNullStreams;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private waiter: (() => void) | null = null;
  private exited: string | null = null;
  private stderr = '';

  constructor(
    executable: string,
    private readonly law: LawDefinition,
  ) {
    this.child = spawn(executable, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (chunk: Buffer) => {
      this.buffered.push(chunk);
      this.bufferedBytes += chunk.length;
      this.waiter?.();
    });
    this.child.stderr.on('data', (chunk: Buffer) => {
      if (this.stderr.length < 2000) this.stderr += chunk.toString('utf8');
    });
    this.child.on('exit', (code, signal) => {
      this.exited = signal !== null ? `killed by ${signal}` : `exited with code ${code}`;
      this.waiter?.();
    });
    this.child.stdin.on('error', () => {
      // A harness that died mid-request: the read that follows reports how it ended.
    });
  }

  /** Waits for more output from the harness; throws if it ended or stayed silent past the deadline. */
  private async waitMore(what: string, deadline: number): Promise<void> {
    if (this.exited !== null) throw new LawError(`the C law's harness ${this.exited} during ${what}${this.stderr === '' ? '' : `: ${this.stderr.trim().split('\n')[0]}`}`);
    const left = deadline - Date.now();
    if (left <= 0) throw new LawError(`the C law's harness did not answer ${what} within ${HARNESS_REPLY_TIMEOUT_MS} ms`);
    await new Promise<void>((resolveWait) => {
      const timer = setTimeout(resolveWait, left);
      this.waiter = () => {
        clearTimeout(timer);
        resolveWait();
      };
    });
    this.waiter = null;
  }

  private take(bytes: number): Buffer {
    const all = Buffer.concat(this.buffered, this.bufferedBytes);
    this.buffered = all.length > bytes ? [all.subarray(bytes)] : [];
    this.bufferedBytes = all.length - bytes;
    return all.subarray(0, bytes);
  }

  private async read(bytes: number, what: string): Promise<Buffer> {
    const deadline = Date.now() + HARNESS_REPLY_TIMEOUT_MS;
    while (this.bufferedBytes < bytes) await this.waitMore(what, deadline);
    return this.take(bytes);
  }

  private async readLine(what: string): Promise<string> {
    const deadline = Date.now() + HARNESS_REPLY_TIMEOUT_MS;
    for (;;) {
      const newline = Buffer.concat(this.buffered, this.bufferedBytes).indexOf(0x0a);
      if (newline >= 0) return this.take(newline + 1).subarray(0, newline).toString('utf8');
      if (this.bufferedBytes > DESCRIPTION_BYTES_MAX) throw new LawError(`the C law's harness sent a description of over ${DESCRIPTION_BYTES_MAX} bytes`);
      await this.waitMore(what, deadline);
    }
  }

  async describe(): Promise<CDeclaration> {
    this.child.stdin.write(Buffer.from('D'));
    const line = await this.readLine('the description request');
    try {
      return JSON.parse(line) as CDeclaration;
    } catch {
      throw new LawError(`the C law's harness described itself in malformed JSON: ${line.slice(0, 80)}`);
    }
  }

  async init(params: Int32Array): Promise<void> {
    const request = Buffer.alloc(1 + 4 * params.length);
    request[0] = 0x49;
    params.forEach((p, i) => request.writeInt32LE(p, 1 + 4 * i));
    this.child.stdin.write(request);
    await this.read(1, 'init');
  }

  /** Steps the C law over `count` input rows; the reply holds outputs and state bytes per step. */
  async step(inputs: Int32Array, count: number): Promise<Buffer> {
    const inputCount = this.law.inputs.length;
    const request = Buffer.alloc(5 + 4 * inputCount * count);
    request[0] = 0x53;
    request.writeUInt32LE(count, 1);
    for (let i = 0; i < inputCount * count; i++) request.writeInt32LE(inputs[i] as number, 5 + 4 * i);
    this.child.stdin.write(request);
    return this.read(count * (4 * this.law.outputs.length + this.law.stateSizeBytes), 'a step request');
  }

  /** Loads state bytes into the C law; true if it accepted them. */
  async load(bytes: Uint8Array): Promise<boolean> {
    this.child.stdin.write(Buffer.concat([Buffer.from('L'), Buffer.from(bytes)]));
    return (await this.read(1, 'a state load'))[0] === 0;
  }

  close(): void {
    if (this.exited === null) this.child.kill('SIGKILL');
  }
}

export interface CheckOptions {
  readonly steps: number;
  readonly seed: number;
}

export interface CheckReport {
  readonly steps: number;
  readonly parameterSets: number;
  readonly transfers: number;
  readonly selfTestHash: number;
  readonly elapsedMs: number;
}

/** The first step where the two disagree, with everything needed to reproduce it. */
export class LawMismatch extends Error {
  override readonly name = 'LawMismatch';
}

const hexBytes = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/**
 * Runs both implementations side by side. Throws LawMismatch at the first difference (of the
 * declarations, the self-test hashes, an output, a state byte or a state transfer).
 */
export async function checkLawPair(law: LoadedLaw, lawC: string, options: CheckOptions, onProgress?: (stepsDone: number) => void): Promise<CheckReport> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'tmr-law-check-'));
  let harness: CLawHarness | null = null;
  try {
    harness = new CLawHarness(buildHarness(lawC, dir), law.definition);
    const declaration = await harness.describe();
    const { selfTestHash, selfTestError, ...cDeclaration } = declaration;
    const differences = declarationDifferences(declarationOf(law.definition), cDeclaration);
    if (differences.length > 0) throw new LawMismatch(`the declarations differ: ${differences.join('; ')}`);
    if (selfTestError !== undefined) throw new LawMismatch(`the C law fails its self-test: ${selfTestError}`);
    // The steps first: a differing step says where the two part, which a differing hash cannot.
    const hashes = selfTestHash === law.selfTestHash ? null : `self-test hashes differ: ts ${hex(law.selfTestHash)}, c ${hex(selfTestHash ?? 0)}`;
    let counts: { parameterSets: number; transfers: number };
    try {
      counts = await compareSteps(law, harness, options, onProgress);
    } catch (error) {
      if (error instanceof LawMismatch && hashes !== null) throw new LawMismatch(`${error.message} (and the ${hashes})`);
      throw error;
    }
    if (hashes !== null) throw new LawMismatch(`${hashes}, though ${options.steps} seeded steps agree`);
    return { ...counts, steps: options.steps, selfTestHash: law.selfTestHash, elapsedMs: Date.now() - started };
  } finally {
    harness?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function compareSteps(law: LoadedLaw, harness: CLawHarness, options: CheckOptions, onProgress?: (stepsDone: number) => void): Promise<{ parameterSets: number; transfers: number }> {
  const def = law.definition;
  const prng = new Prng(options.seed);
  const inputCount = def.inputs.length;
  const outputCount = def.outputs.length;
  const stateSize = def.stateSizeBytes;
  const params = new Int32Array(def.params.length);
  const inputs = new Int32Array(inputCount * HARNESS_BATCH_STEPS_MAX);
  const row = new Int32Array(inputCount);
  const previous = new Float64Array(inputCount);
  const outputs = new Int32Array(outputCount);
  const before = new Uint8Array(stateSize);
  const after = new Uint8Array(stateSize);
  let parameterSets = 0;
  let transfers = 0;
  let done = 0;
  while (done < options.steps) {
    drawParams(prng, def, parameterSets, params);
    parameterSets++;
    let state = def.init(params);
    await harness.init(params);
    resetWalk(def, previous);
    const episode = Math.min(options.steps - done, 1 + (prng.nextU32() % EPISODE_STEPS_MAX));
    const transferAt = prng.nextU32() % episode;
    let inEpisode = 0;
    while (inEpisode < episode) {
      // Batches end at the transfer point, so the transfer happens between two requests.
      const limit = inEpisode < transferAt ? transferAt - inEpisode : episode - inEpisode;
      const count = Math.min(limit, HARNESS_BATCH_STEPS_MAX);
      for (let k = 0; k < count; k++) {
        drawInputs(prng, def, previous, row);
        inputs.set(row, k * inputCount);
      }
      const reply = await harness.step(inputs, count);
      const recordBytes = 4 * outputCount + stateSize;
      for (let k = 0; k < count; k++) {
        def.serialize(state, before);
        // As the harness does: an output the law forgets to write reads 0 on both sides.
        outputs.fill(0);
        const stepInputs = inputs.subarray(k * inputCount, (k + 1) * inputCount);
        def.step(state, stepInputs, outputs);
        def.serialize(state, after);
        const at = k * recordBytes;
        let same = true;
        for (let c = 0; c < outputCount; c++) if (reply.readInt32LE(at + 4 * c) !== outputs[c]) same = false;
        const cState = reply.subarray(at + 4 * outputCount, at + recordBytes);
        if (!same || Buffer.compare(cState, after) !== 0 || outputOutOfRange(def, outputs) !== null) {
          const cOutputs = Array.from({ length: outputCount }, (_, c) => reply.readInt32LE(at + 4 * c));
          throw new LawMismatch(
            `first difference at step ${done + k}: inputs [${Array.from(stepInputs).join(', ')}], parameters [${Array.from(params).join(', ')}], ` +
              `state before ${hexBytes(before)}; ts outputs [${Array.from(outputs).join(', ')}] state ${hexBytes(after)}; ` +
              `c outputs [${cOutputs.join(', ')}] state ${hexBytes(cState)}` +
              (outputOutOfRange(def, outputs) === null ? '' : ` (ts ${outputOutOfRange(def, outputs)})`),
          );
        }
      }
      inEpisode += count;
      done += count;
      onProgress?.(done);
      if (inEpisode === transferAt && transferAt > 0) {
        transfers++;
        state = await transfer(def, harness, state, params, after, transfers % 2 === 0, done);
      }
    }
  }
  return { parameterSets, transfers };
}

/**
 * A state transfer in mid-run, alternately each way: ts to c (the C law loads the TypeScript
 * law's bytes) and c to ts (a fresh TypeScript state takes the C law's bytes, which equal the
 * TypeScript law's: the step before compared them). The steps that follow show whether the
 * receiving side carries on exactly as the sender would have.
 */
async function transfer<S>(def: LawDefinition<S>, harness: CLawHarness, state: S, params: Int32Array, bytes: Uint8Array, toC: boolean, step: number): Promise<S> {
  if (toC) {
    if (!(await harness.load(bytes))) throw new LawMismatch(`the C law refused the TypeScript law's state ${hexBytes(bytes)} at step ${step}`);
    return state;
  }
  const fresh = def.init(params);
  const refused = def.deserialize(fresh, bytes);
  if (refused !== null) throw new LawMismatch(`the TypeScript law refused the C law's state ${hexBytes(bytes)} at step ${step}: ${refused}`);
  return fresh;
}
