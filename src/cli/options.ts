/**
 * Command-line options for `tmr run` and `tmr sim`: parsed strictly, validated with limits, and
 * every problem reported as a one-line UsageError naming the flag and what is wrong.
 */
import { parseArgs } from 'node:util';
import type { SimplexPolicy } from '../core/degradation.js';
import { REPLICA_COUNT_MAX } from '../core/voter.js';
import { FAULT_KINDS, type FaultKind } from '../protocol/messages.js';
import { DEFAULT_LOOP_OPTIONS, type FaultSpec, type LoopOptions } from '../runtime/loop-model.js';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const RATE_HZ_MIN = 1;
export const RATE_HZ_MAX = 2_000;
export const TICKS_MAX_RUN = 10_000_000;
export const TICKS_MAX_SIM = 100_000_000;
export const INJECTS_MAX = 64;
/** Faults that happen once and have no duration. */
const ONE_SHOT_FAULTS: readonly FaultKind[] = ['crash', 'state'];

export interface CliRunOptions extends LoopOptions {
  readonly json: boolean;
  readonly deadlineUs: number;
  readonly traceFile: string | null;
}

const FLAGS = {
  replicas: { type: 'string' },
  'rate-hz': { type: 'string' },
  ticks: { type: 'string' },
  seed: { type: 'string' },
  inject: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  'simplex-policy': { type: 'string' },
  'deadline-us': { type: 'string' },
  trace: { type: 'string' },
} as const;

function integerFlag(raw: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new UsageError(`--${flag} must be a whole number, got '${raw}'`);
  const value = Number(raw);
  if (value < min || value > max) throw new UsageError(`--${flag} must be between ${min} and ${max}, got ${raw}`);
  return value;
}

/** KIND:REPLICA@TICK[+TICKS], e.g. crash:1@500 or wrong:2@800+200. */
export function parseInject(text: string, replicaCount: number, ticks: number): FaultSpec {
  const match = /^([a-z]+):(\d+)@(\d+)(?:\+(\d+))?$/.exec(text);
  if (!match) throw new UsageError(`--inject '${text}' is not KIND:REPLICA@TICK[+TICKS] (e.g. crash:1@500, wrong:2@800+200)`);
  const [, kindText, replicaText, tickText, durationText] = match;
  if (!(FAULT_KINDS as readonly string[]).includes(kindText!)) {
    throw new UsageError(`--inject '${text}': unknown fault kind '${kindText}' (one of ${FAULT_KINDS.join(', ')})`);
  }
  const kind = kindText as FaultKind;
  const replicaIndex = Number(replicaText);
  if (replicaIndex >= replicaCount) throw new UsageError(`--inject '${text}': replica ${replicaIndex} does not exist (replicas are 0..${replicaCount - 1})`);
  const startTick = Number(tickText);
  if (startTick >= ticks) throw new UsageError(`--inject '${text}': tick ${startTick} is past the end of the run (${ticks} ticks)`);
  if (durationText !== undefined && ONE_SHOT_FAULTS.includes(kind)) throw new UsageError(`--inject '${text}': a ${kind} fault takes no +TICKS duration`);
  const durationTicks = durationText === undefined ? 0 : Number(durationText);
  if (durationText !== undefined && (durationTicks < 1 || durationTicks > ticks)) {
    throw new UsageError(`--inject '${text}': duration must be between 1 and ${ticks} ticks`);
  }
  return { kind, replicaIndex, startTick, durationTicks };
}

/** node:util parseArgs errors, said in one short line. */
function parseArgsProblem(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  const flag = /'(--?[a-z-]+)/.exec(message)?.[1] ?? 'an option';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option '${flag}' (try: tmr help)`;
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `unexpected argument ${/'[^']*'/.exec(message)?.[0] ?? ''} (options start with --)`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (/ambiguous/.test(message)) return `${flag} needs a value; for a value that starts with '-', write ${flag}=VALUE`;
    return `${flag} needs a value`;
  }
  return message.split('\n')[0]!;
}

export function parseRunOptions(argv: readonly string[], mode: 'run' | 'sim'): CliRunOptions {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError(parseArgsProblem(error));
  }
  const v = parsed.values;
  const replicaCount = integerFlag(v.replicas, 'replicas', DEFAULT_LOOP_OPTIONS.replicaCount, 0, REPLICA_COUNT_MAX);
  if (replicaCount < 3 || replicaCount % 2 === 0) throw new UsageError(`--replicas must be odd and at least 3 (at most ${REPLICA_COUNT_MAX}), got ${replicaCount}`);
  const rateHz = integerFlag(v['rate-hz'], 'rate-hz', DEFAULT_LOOP_OPTIONS.rateHz, RATE_HZ_MIN, RATE_HZ_MAX);
  const ticks = integerFlag(v.ticks, 'ticks', DEFAULT_LOOP_OPTIONS.ticks, 1, mode === 'run' ? TICKS_MAX_RUN : TICKS_MAX_SIM);
  const seed = integerFlag(v.seed, 'seed', DEFAULT_LOOP_OPTIONS.seed, 0, 0xffff_ffff);
  const periodUs = Math.floor(1e6 / rateHz);
  const deadlineUs = integerFlag(v['deadline-us'], 'deadline-us', Math.floor(periodUs * 0.75), 100, periodUs - 1);
  const policy = v['simplex-policy'] ?? DEFAULT_LOOP_OPTIONS.simplexPolicy;
  if (policy !== 'safe' && policy !== 'simplex') throw new UsageError(`--simplex-policy must be 'safe' or 'simplex', got '${policy}'`);
  const injectTexts = v.inject ?? [];
  if (injectTexts.length > INJECTS_MAX) throw new UsageError(`at most ${INJECTS_MAX} --inject flags, got ${injectTexts.length}`);
  const injects = injectTexts.map((text) => parseInject(text, replicaCount, ticks));
  if (mode === 'sim' && v['deadline-us'] !== undefined) throw new UsageError('--deadline-us applies to tmr run only (the simulator has no wall clock)');
  return {
    ...DEFAULT_LOOP_OPTIONS,
    replicaCount,
    rateHz,
    ticks,
    seed,
    injects,
    simplexPolicy: policy as SimplexPolicy,
    json: v.json ?? false,
    deadlineUs,
    traceFile: v.trace ?? null,
  };
}
