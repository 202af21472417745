/**
 * `tmr campaign`: many seeded fault schedules in the deterministic simulator, checked every tick
 * (src/sim/campaign.ts), spread over worker processes (src/sim/campaign-runner.ts); or, with --seed,
 * one seed replayed with its per-tick trace.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CAMPAIGN_FAULTS, CAMPAIGN_SEEDS_MAX, CAMPAIGN_TICKS_DEFAULT, CAMPAIGN_TICKS_MAX, CAMPAIGN_TICKS_MIN, checkSeed, type CampaignFaults, type CampaignSetup, type SeedResult } from '../sim/campaign.js';
import { CAMPAIGN_STACKS, CampaignError, campaignSetup, defaultWorkers, FULL_STACK_TICKS_DEFAULT, runCampaign, WORKERS_MAX, type CampaignReport, type CampaignStack } from '../sim/campaign-runner.js';
import { checkSeedFullStack } from '../sim/full-stack-campaign.js';
import { DEFAULT_LAW } from '../law/law-loader.js';
import { LawError } from '../law/law.js';
import { assertFamilyParses, CAMPAIGN_OPTIONS, refuseUnusedOptions, UsageError } from './options.js';

const FLAGS = {
  seeds: { type: 'string' },
  from: { type: 'string' },
  faults: { type: 'string' },
  ticks: { type: 'string' },
  workers: { type: 'string' },
  json: { type: 'boolean' },
  seed: { type: 'string' },
  trace: { type: 'string' },
  law: { type: 'string' },
  plant: { type: 'string' },
  stack: { type: 'string' },
} as const;
assertFamilyParses(CAMPAIGN_OPTIONS, FLAGS, 'tmr campaign');

/** Failed seeds printed in the text report; the JSON report keeps up to FAILURES_KEPT_MAX. */
const FAILURES_PRINTED_MAX = 20;
const PROGRESS_PERIOD_MS = 100;
const PROGRESS_BAR_CELLS = 30;
const FROM_DEFAULT = 1;
const TRACE_LINES_PER_WRITE = 4096;
/** tmr's exit code for a failed internal assertion (see tmr.ts EXIT). */
const EXIT_ASSERTION = 3;

export function whole(flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) throw new UsageError(`${flag} must be a whole number, got '${text}'`);
  const value = Number(text);
  if (value < min || value > max) throw new UsageError(`${flag} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function parse(argv: readonly string[]): Record<string, string | boolean | undefined> {
  try {
    return parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }).values;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const code = (error as { code?: string }).code;
    const flag = /'(--?[a-z-]+)/.exec(message)?.[1] ?? 'an option';
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option '${flag}' for tmr campaign (try: tmr help)`);
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new UsageError(`unexpected argument ${/'[^']*'/.exec(message)?.[0] ?? ''} (options start with --)`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(`${flag} needs a value`);
    throw new UsageError(message.split('\n')[0]!);
  }
}

/** What besides the seed decides a campaign's runs: replay lines repeat it. */
interface CampaignContext {
  readonly faults: CampaignFaults;
  readonly ticks: number;
  /** model: the fast simulator; full: the real runner in simulated time (src/sim/full-stack.ts). */
  readonly stack: CampaignStack;
  /** --law and --plant as given (null: the defaults). */
  readonly law: string | null;
  readonly plant: string | null;
}

/** The one-line command that replays exactly this seed's run with its per-tick trace. */
function campaignReplayLine(seed: number, c: CampaignContext): string {
  const lawArgs = `${c.law === null ? '' : ` --law ${c.law}`}${c.plant === null ? '' : ` --plant ${c.plant}`}`;
  return `npx tmr campaign --seed ${seed}${c.stack === 'full' ? ' --stack full' : ''} --faults ${c.faults} --ticks ${c.ticks}${lawArgs} --trace -`;
}

function failureLines(r: SeedResult, c: CampaignContext): string[] {
  const v = r.violation!;
  return [
    `FAILED seed ${r.seed}: ${v.invariant} at tick ${v.tick}: ${v.detail}`,
    `  schedule: ${r.schedule || '(no faults)'} (policy ${r.simplexPolicy}, recovery ${r.recovery ? 'on' : 'off'})`,
    ...(r.environment === undefined ? [] : [`  timing:   ${r.environment}`]),
    `  replay:   ${campaignReplayLine(r.seed, c)}`,
  ];
}

export async function campaignCommand(argv: readonly string[]): Promise<number> {
  const v = parse(argv);
  // --seed S replays one seed; otherwise a campaign of --seeds N. Each takes its own options (src/cli/options.ts).
  refuseUnusedOptions(CAMPAIGN_OPTIONS, v.seed === undefined ? 'campaign --seeds' : 'campaign --seed', v);
  const faultsText = (v.faults as string | undefined) ?? 'single';
  if (!(CAMPAIGN_FAULTS as readonly string[]).includes(faultsText)) throw new UsageError(`--faults must be one of ${CAMPAIGN_FAULTS.join(', ')}, got '${faultsText}'`);
  const faults = faultsText as CampaignFaults;
  const stackText = (v.stack as string | undefined) ?? 'model';
  if (!(CAMPAIGN_STACKS as readonly string[]).includes(stackText)) throw new UsageError(`--stack must be one of ${CAMPAIGN_STACKS.join(', ')}, got '${stackText}'`);
  const stack = stackText as CampaignStack;
  const ticksDefault = stack === 'full' ? FULL_STACK_TICKS_DEFAULT[faults] : CAMPAIGN_TICKS_DEFAULT[faults];
  const ticks = whole('--ticks', v.ticks as string | undefined, ticksDefault, CAMPAIGN_TICKS_MIN[faults], CAMPAIGN_TICKS_MAX);
  const json = v.json === true;
  const context: CampaignContext = { faults, ticks, stack, law: (v.law as string | undefined) ?? null, plant: (v.plant as string | undefined) ?? null };
  let setup: CampaignSetup;
  try {
    setup = await campaignSetup(context.law ?? DEFAULT_LAW, context.plant ?? '');
  } catch (error) {
    if (error instanceof LawError) throw new UsageError(error.message);
    throw error;
  }
  if (v.seed !== undefined) {
    return await replay(whole('--seed', v.seed as string, 0, 0, 0xffff_ffff), context, setup, (v.trace as string | undefined) ?? null, json);
  }
  if (v.seeds === undefined) throw new UsageError('tmr campaign needs --seeds N (or --seed S to replay one seed)');
  const seeds = whole('--seeds', v.seeds as string, 0, 1, CAMPAIGN_SEEDS_MAX);
  const from = whole('--from', v.from as string | undefined, FROM_DEFAULT, 0, 0xffff_ffff);
  if (from + seeds - 1 > 0xffff_ffff) throw new UsageError(`--from ${from} --seeds ${seeds} runs past seed 4294967295`);
  const workers = whole('--workers', v.workers as string | undefined, defaultWorkers(), 1, WORKERS_MAX);
  const live = process.stderr.isTTY === true;
  const startMs = Date.now();
  let lastDrawMs = 0;
  const progress = (done: number, failed: number): void => {
    if (!live) return;
    const now = Date.now();
    if (now - lastDrawMs < PROGRESS_PERIOD_MS && done < seeds) return;
    lastDrawMs = now;
    const cells = Math.round((done / seeds) * PROGRESS_BAR_CELLS);
    const rate = done / Math.max(0.001, (now - startMs) / 1000);
    process.stderr.write(`\r\x1b[Kcampaign [${'#'.repeat(cells)}${'.'.repeat(PROGRESS_BAR_CELLS - cells)}] ${done}/${seeds} seeds, ${failed} failed, ${Math.round(rate)} seeds/s`);
  };
  let report: CampaignReport;
  try {
    report = await runCampaign({ from, seeds, faults, ticks, workers, stack, law: setup.law.source, plant: setup.plant.name }, progress);
  } catch (error) {
    // A seed that throws (an assertion inside the simulator) is a bug: name it and how to replay it.
    if (!(error instanceof CampaignError)) throw error;
    if (live) process.stderr.write('\r\x1b[K');
    process.stderr.write(`tmr: campaign stopped: ${error.message}\n  replay: ${campaignReplayLine(error.seed, context)}\n`);
    return EXIT_ASSERTION;
  }
  const wallMs = Date.now() - startMs;
  const seedsPerSecond = Math.round(seeds / Math.max(0.001, wallMs / 1000));
  if (live) process.stderr.write('\r\x1b[K');
  process.stderr.write(`tmr campaign: ${seeds} seeds in ${(wallMs / 1000).toFixed(1)} s on ${workers} worker${workers === 1 ? '' : 's'} (${seedsPerSecond} seeds/s): ${report.passed} passed, ${report.failed} failed\n`);
  if (json) {
    process.stdout.write(`${JSON.stringify({ ...report, timing: { wallMs, workers, seedsPerSecond } })}\n`);
  } else {
    process.stdout.write(textReport(report, context));
  }
  return report.failed === 0 ? 0 : 1;
}

function textReport(report: CampaignReport, context: CampaignContext): string {
  const { faults, ticks } = report;
  const lines = [
    `tmr campaign: seeds ${report.from}..${report.from + report.seeds - 1}, faults ${faults}, ${ticks} ticks each${context.law === null ? '' : `, law ${context.law}`}${context.stack === 'full' ? ', the full stack in simulated time' : ''}`,
    `passed ${report.passed}, failed ${report.failed}`,
    context.stack === 'full'
      ? `checked every tick: no minority command, the law's command, the host's rhythm; the fast model's trace on ${report.modelTraceChecked} quiet seeds; every run completes`
      : `checked every tick: no minority command, the law's command${faults === 'single' ? ', the fault-free run\'s command' : ''}; safe-state bound on ${report.safeBoundChecked} seeds; TMR after healing on ${report.livenessChecked}; faults that hit a replica on probation: ${report.probationHits}`,
    `digest ${report.digest}`,
  ];
  for (const r of report.failures.slice(0, FAILURES_PRINTED_MAX)) lines.push(...failureLines(r, context));
  if (report.failed > FAILURES_PRINTED_MAX) lines.push(`… and ${report.failed - FAILURES_PRINTED_MAX} more failed seeds (--json lists up to 1000)`);
  return `${lines.join('\n')}\n`;
}

function openTrace(path: string): number {
  try {
    return openSync(path, 'w');
  } catch (error) {
    throw new UsageError(`--trace ${path}: cannot write (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** One seed, with its per-tick trace to FILE or stdout ('-'); the verdict goes to stdout, or to stderr when the trace does. */
async function replay(seed: number, context: CampaignContext, setup: CampaignSetup, trace: string | null, json: boolean): Promise<number> {
  const { faults, ticks } = context;
  const fd = trace === null || trace === '-' ? null : openTrace(trace);
  let pending: string[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    const text = `${pending.join('\n')}\n`;
    // stdout through its stream (a pipe may be non-blocking); a file with plain writes.
    if (fd === null) process.stdout.write(text);
    else writeSync(fd, text);
    pending = [];
  };
  let result: SeedResult;
  try {
    const check = {
      setup,
      ...(trace === null
        ? {}
        : {
            onTraceLine: (line: string) => {
              pending.push(line);
              if (pending.length >= TRACE_LINES_PER_WRITE) flush();
            },
          }),
    };
    result = context.stack === 'full' ? await checkSeedFullStack(seed, faults, ticks, check) : checkSeed(seed, faults, ticks, check);
    flush();
  } finally {
    if (fd !== null) closeSync(fd);
  }
  const out = trace === '-' ? process.stderr : process.stdout;
  if (json) out.write(`${JSON.stringify(result)}\n`);
  else if (result.violation === null) {
    const timing = result.environment === undefined ? '' : `; timing ${result.environment}`;
    out.write(`seed ${seed} (${faults}, ${ticks} ticks): ok; schedule ${result.schedule || '(no faults)'} (policy ${result.simplexPolicy}, recovery ${result.recovery ? 'on' : 'off'})${timing}; trace ${result.traceHash}\n`);
  } else {
    out.write(`${failureLines(result, context).join('\n')}\n  trace ${result.traceHash}\n`);
  }
  return result.ok ? 0 : 1;
}
