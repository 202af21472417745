/**
 * `tmr law`: what a law declares and derives (info), whether its TypeScript and C implementations
 * agree bit for bit (check), and test vectors for a firmware's own tests (vectors).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Prng } from '../core/prng.js';
import { LawError } from '../law/law.js';
import { checkLawPair, CHECK_STEPS_DEFAULT, CHECK_STEPS_MAX, declarationOf, LawMismatch } from '../law/law-check.js';
import { importLaw, isShippedLaw, shippedLawSources } from '../law/law-loader.js';
import { drawInputs, drawParams, hex, resetWalk, type LoadedLaw } from '../law/law-runtime.js';
import { whole } from './campaign-cli.js';
import { assertFamilyParses, LAW_OPTIONS, refuseUnusedOptions, UsageError } from './options.js';

const FLAGS = {
  steps: { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
} as const;
assertFamilyParses(LAW_OPTIONS, FLAGS, 'tmr law');

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const VECTOR_STEPS_DEFAULT = 10_000;
const VECTOR_STEPS_MAX = 10_000_000;
/** Vector steps per parameter set. */
const VECTOR_EPISODE_STEPS = 1_000;
const PROGRESS_PERIOD_MS = 200;

export const LAW_HELP = `  tmr law info LAW [--json]   a law's declaration, self-test hash and defaults
  tmr law check NAME | LAW.ts LAW.c [--steps N] [--seed S]
                       build the C law for this host and run it beside the TypeScript law over
                       N seeded steps (default 1000000): random and edge inputs, random
                       parameter sets, state transfers both ways; exit 1 at the first difference
  tmr law vectors LAW --out FILE [--steps N] [--seed S]
                       test vectors (parameters, inputs, outputs, state bytes) for a firmware
`;

function parse(argv: readonly string[], sub: string): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    return parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: true });
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    throw new UsageError(`tmr law ${sub}: ${message}`);
  }
}

export async function lawCommand(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, sub ?? '');
  try {
    switch (sub) {
      case 'info':
        refuseUnusedOptions(LAW_OPTIONS, 'law info', values);
        if (positionals.length !== 1) throw new UsageError('tmr law info takes one law: a shipped name or a .js/.ts file');
        return await info(positionals[0]!, values.json === true);
      case 'check':
        refuseUnusedOptions(LAW_OPTIONS, 'law check', values);
        return await check(positionals, values);
      case 'vectors':
        refuseUnusedOptions(LAW_OPTIONS, 'law vectors', values);
        return await vectors(positionals, values);
      default:
        throw new UsageError(`tmr law needs info, check or vectors${sub === undefined ? '' : `, got '${sub}'`}`);
    }
  } catch (error) {
    if (error instanceof LawError || error instanceof LawMismatch) {
      process.stderr.write(`tmr law ${sub}: ${error.message}\n`);
      return EXIT_FAILED;
    }
    throw error;
  }
}

async function info(ref: string, json: boolean): Promise<number> {
  const law = await importLaw(ref);
  const declaration = declarationOf(law.definition);
  const twin = law.reference.shipped === null ? null : shippedLawSources(law.reference.shipped).c;
  if (json) {
    process.stdout.write(`${JSON.stringify({ ...declaration, selfTestHash: law.selfTestHash, module: law.reference.path, cTwin: twin })}\n`);
    return EXIT_OK;
  }
  const lines = [
    `law ${law.name} version ${law.version}  (${law.reference.path})`,
    `self-test hash ${hex(law.selfTestHash)}; state ${law.definition.stateSizeBytes} bytes`,
    'inputs:',
    ...declaration.inputs.map((c, i) => `  ${i} ${c.name} [${c.min}, ${c.max}] ${c.unit}`),
    'outputs:',
    ...declaration.outputs.map((c, i) => `  ${i} ${c.name} [${c.min}, ${c.max}] ${c.unit}, safe ${c.safe}, vote ${c.vote}${c.vote === 'mid-value' ? ` ±${c.tolerance}` : ''}`),
    'parameters:',
    ...(declaration.params.length === 0 ? ['  (none)'] : declaration.params.map((p, i) => `  ${i} ${p.name} [${p.min}, ${p.max}], default ${p.default}`)),
  ];
  if (twin !== null) lines.push(`C twin: ${twin}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return EXIT_OK;
}

async function check(positionals: readonly string[], values: Record<string, string | boolean | undefined>): Promise<number> {
  let tsRef: string;
  let cPath: string;
  if (positionals.length === 1 && isShippedLaw(positionals[0]!)) {
    tsRef = positionals[0]!;
    cPath = shippedLawSources(positionals[0]!).c;
  } else if (positionals.length === 2 && positionals[1]!.endsWith('.c')) {
    tsRef = positionals[0]!;
    cPath = positionals[1]!;
  } else {
    throw new UsageError('tmr law check takes a shipped law\'s name, or LAW.ts (or .js) and LAW.c');
  }
  const steps = whole('--steps', values.steps as string | undefined, CHECK_STEPS_DEFAULT, 1, CHECK_STEPS_MAX);
  const seed = whole('--seed', values.seed as string | undefined, 1, 0, 0xffff_ffff);
  const law = await importLaw(tsRef);
  let lastProgress = 0;
  const progress = process.stderr.isTTY
    ? (done: number): void => {
        const now = Date.now();
        if (now - lastProgress < PROGRESS_PERIOD_MS && done < steps) return;
        lastProgress = now;
        process.stderr.write(`\rtmr law check: ${done} of ${steps} steps`);
      }
    : undefined;
  const report = await checkLawPair(law, cPath, { steps, seed }, progress);
  if (progress !== undefined) process.stderr.write('\n');
  if (values.json === true) process.stdout.write(`${JSON.stringify({ law: law.name, version: law.version, cLaw: cPath, seed, ...report, passed: true })}\n`);
  else {
    process.stdout.write(
      `law ${law.name} v${law.version}: TypeScript and C agree on ${report.steps} steps (${report.parameterSets} parameter sets, ` +
        `${report.transfers} state transfers, seed ${seed}); self-test hash ${hex(report.selfTestHash)}; ${(report.elapsedMs / 1000).toFixed(1)} s\n`,
    );
  }
  return EXIT_OK;
}

async function vectors(positionals: readonly string[], values: Record<string, string | boolean | undefined>): Promise<number> {
  if (positionals.length !== 1) throw new UsageError('tmr law vectors takes one law and --out FILE');
  if (typeof values.out !== 'string' || values.out === '') throw new UsageError('tmr law vectors needs --out FILE');
  const steps = whole('--steps', values.steps as string | undefined, VECTOR_STEPS_DEFAULT, 1, VECTOR_STEPS_MAX);
  const seed = whole('--seed', values.seed as string | undefined, 1, 0, 0xffff_ffff);
  const law = await importLaw(positionals[0]!);
  let fd: number;
  try {
    fd = openSync(values.out, 'w');
  } catch (error) {
    throw new LawError(`cannot write ${values.out}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  try {
    writeVectors(law, steps, seed, (text) => writeSync(fd, text));
  } finally {
    closeSync(fd);
  }
  process.stdout.write(`wrote ${steps} steps of law ${law.name} v${law.version} (seed ${seed}) to ${values.out}\n`);
  return EXIT_OK;
}

/**
 * The vector format, one record a line, space-separated decimal int32s:
 *   # comments;  law NAME VERSION SELFTESTHASH(hex);  params P0 P1 … (init a fresh state with them);
 *   step I0 I1 … -> O0 O1 … state HEX  (the inputs, the outputs, the serialised state after the step).
 */
export function writeVectors(law: LoadedLaw, steps: number, seed: number, write: (text: string) => void): void {
  const def = law.definition;
  const prng = new Prng(seed);
  const params = new Int32Array(def.params.length);
  const inputs = new Int32Array(def.inputs.length);
  const outputs = new Int32Array(def.outputs.length);
  const previous = new Float64Array(def.inputs.length);
  const bytes = new Uint8Array(def.stateSizeBytes);
  write(`# tmr law vectors: ${def.inputs.map((c) => c.name).join(' ')} -> ${def.outputs.map((c) => c.name).join(' ')}; seed ${seed}\n`);
  write(`law ${def.name} ${def.version} ${hex(law.selfTestHash)}\n`);
  let lines: string[] = [];
  let state = def.init(params);
  for (let step = 0; step < steps; step++) {
    if (step % VECTOR_EPISODE_STEPS === 0) {
      drawParams(prng, def, step / VECTOR_EPISODE_STEPS, params);
      state = def.init(params);
      resetWalk(def, previous);
      lines.push(`params ${params.join(' ')}`);
    }
    drawInputs(prng, def, previous, inputs);
    def.step(state, inputs, outputs);
    def.serialize(state, bytes);
    lines.push(`step ${inputs.join(' ')} -> ${outputs.join(' ')} state ${Buffer.from(bytes).toString('hex')}`);
    if (lines.length >= 4096) {
      write(`${lines.join('\n')}\n`);
      lines = [];
    }
  }
  if (lines.length > 0) write(`${lines.join('\n')}\n`);
}
