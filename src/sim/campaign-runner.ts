/**
 * Runs a campaign's seeds across worker processes. Seeds go out in batches to whichever worker is
 * idle; results come back in any order and are folded in seed order through a reorder buffer, so
 * the report (and its digest) is the same for any number of workers. Memory is bounded by the
 * batches in flight, not by the number of seeds. Workers are separate Node processes (forked, one
 * IPC channel each), so a worker that dies (out of memory, a native crash) is a named error for
 * the campaign, not the end of the host process, and each gets its own heap and collector.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { assert } from '../core/assert.js';
import { crc32Update } from '../core/crc32.js';
import { CAMPAIGN_SEEDS_MAX, checkSeed, type CampaignFaults, type CampaignSetup, type SeedResult } from './campaign.js';
import { DEFAULT_LAW, importLaw } from '../law/law-loader.js';
import { importPlant } from './plants.js';
import { checkSeedFullStack } from './full-stack-campaign.js';

/** Loads a campaign's law and plant by source and name (a worker does this once). */
export async function campaignSetup(law: string, plant: string): Promise<CampaignSetup> {
  const loaded = await importLaw(law);
  return { law: loaded, plant: await importPlant(loaded, plant === '' ? undefined : plant) };
}

/** model: the fast simulator (src/sim/simulator.ts); full: the real runner in simulated time (src/sim/full-stack.ts). */
export type CampaignStack = 'model' | 'full';
export const CAMPAIGN_STACKS: readonly CampaignStack[] = ['model', 'full'];
/** The full stack runs every message and timer as an event: shorter runs by default. */
export const FULL_STACK_TICKS_DEFAULT: Readonly<Record<CampaignFaults, number>> = { single: 300, double: 300, mixed: 1_000 };

export interface CampaignSpec {
  /** First seed. */
  readonly from: number;
  readonly seeds: number;
  readonly faults: CampaignFaults;
  readonly ticks: number;
  readonly workers: number;
  /** Which stack runs each seed (default model). */
  readonly stack?: CampaignStack;
  /** TEST HOOK: swap in the deliberately broken voter (see campaign.ts); tests only, not in the CLI. */
  readonly testHookBrokenVoter?: boolean;
  /** The law's source (a shipped name or a module path; default pid-q16) and the plant's name (default: the law's). */
  readonly law?: string;
  readonly plant?: string;
}

export interface CampaignReport {
  readonly from: number;
  readonly seeds: number;
  readonly faults: CampaignFaults;
  readonly ticks: number;
  passed: number;
  failed: number;
  /** Failed seeds in seed order, at most FAILURES_KEPT_MAX (the rest are counted in `failed`). */
  readonly failures: SeedResult[];
  /** Seeds on which each optional check applied, and faults that hit a replica on probation. */
  safeBoundChecked: number;
  livenessChecked: number;
  /** --stack full: quiet seeds checked against the fast model tick for tick. */
  modelTraceChecked: number;
  probationHits: number;
  /** CRC-32 over every seed's `seed verdict traceHash` line, in seed order: equal campaigns, equal digests. */
  digest: string;
  /** Per seed (only up to RESULTS_LISTED_MAX seeds): the verdict and the per-tick trace hash. */
  readonly results: { seed: number; ok: boolean; traceHash: string }[] | null;
}

export const WORKERS_MAX = 64;
export const FAILURES_KEPT_MAX = 1_000;
export const RESULTS_LISTED_MAX = 10_000;
const BATCH_SEEDS = 20;

export interface BatchRequest {
  readonly index: number;
  readonly from: number;
  readonly count: number;
  readonly faults: CampaignFaults;
  readonly ticks: number;
  readonly stack: CampaignStack;
  readonly testHookBrokenVoter: boolean;
  /** The law's source (a shipped name or a module path) and the plant's name: each worker loads them. */
  readonly law: string;
  readonly plant: string;
}

export type BatchReply =
  | { readonly index: number; readonly results: SeedResult[]; readonly error: null }
  | { readonly index: number; readonly results: null; readonly error: { readonly seed: number; readonly message: string } };

/** Runs one batch (in a worker, or inline with one worker). An exception names its seed. */
export async function runBatch(request: BatchRequest, setup: CampaignSetup): Promise<BatchReply> {
  const results: SeedResult[] = [];
  for (let k = 0; k < request.count; k++) {
    const seed = request.from + k;
    try {
      const check = { testHookBrokenVoter: request.testHookBrokenVoter, setup };
      results.push(request.stack === 'full' ? await checkSeedFullStack(seed, request.faults, request.ticks, check) : checkSeed(seed, request.faults, request.ticks, check));
    } catch (error) {
      return { index: request.index, results: null, error: { seed, message: error instanceof Error ? error.message : String(error) } };
    }
  }
  return { index: request.index, results, error: null };
}

export class CampaignError extends Error {
  override readonly name = 'CampaignError';
  constructor(
    readonly seed: number,
    message: string,
  ) {
    super(message);
  }
}

export function defaultWorkers(): number {
  return Math.min(WORKERS_MAX, availableParallelism());
}

const ENCODER = new TextEncoder();

function emptyReport(spec: CampaignSpec): CampaignReport {
  return {
    from: spec.from,
    seeds: spec.seeds,
    faults: spec.faults,
    ticks: spec.ticks,
    passed: 0,
    failed: 0,
    failures: [],
    safeBoundChecked: 0,
    livenessChecked: 0,
    modelTraceChecked: 0,
    probationHits: 0,
    digest: '00000000',
    results: spec.seeds <= RESULTS_LISTED_MAX ? [] : null,
  };
}

/** Folds one seed's result into the report; called in seed order only. */
function fold(report: CampaignReport, crc: { value: number }, r: SeedResult): void {
  if (r.ok) report.passed++;
  else {
    report.failed++;
    if (report.failures.length < FAILURES_KEPT_MAX) report.failures.push(r);
  }
  if (r.checked.safeBound) report.safeBoundChecked++;
  if (r.checked.liveness) report.livenessChecked++;
  if (r.checked.modelTrace === true) report.modelTraceChecked++;
  report.probationHits += r.probationHits;
  report.results?.push({ seed: r.seed, ok: r.ok, traceHash: r.traceHash });
  const verdict = r.violation === null ? 'ok' : `${r.violation.invariant}@${r.violation.tick}`;
  crc.value = crc32Update(crc.value, ENCODER.encode(`${r.seed} ${verdict} ${r.traceHash}\n`));
}

/** Runs the campaign; `onProgress` hears how many seeds are done (in seed order) and how many failed. */
export async function runCampaign(spec: CampaignSpec, onProgress?: (done: number, failed: number) => void): Promise<CampaignReport> {
  assert(spec.seeds >= 1 && spec.seeds <= CAMPAIGN_SEEDS_MAX, 'campaign seed count out of range');
  assert(spec.from >= 0 && spec.from + spec.seeds - 1 <= 0xffff_ffff, 'campaign seeds beyond 2^32');
  assert(spec.workers >= 1 && spec.workers <= WORKERS_MAX, 'campaign worker count out of range');
  const report = emptyReport(spec);
  // Loaded here too, so a law that fails its checks is refused before any worker starts.
  const setup = await campaignSetup(spec.law ?? DEFAULT_LAW, spec.plant ?? '');
  const crc = { value: 0 };
  const batchCount = Math.ceil(spec.seeds / BATCH_SEEDS);
  const request = (index: number): BatchRequest => ({
    index,
    from: spec.from + index * BATCH_SEEDS,
    count: Math.min(BATCH_SEEDS, spec.seeds - index * BATCH_SEEDS),
    faults: spec.faults,
    ticks: spec.ticks,
    stack: spec.stack ?? 'model',
    testHookBrokenVoter: spec.testHookBrokenVoter === true,
    law: setup.law.source,
    plant: setup.plant.name,
  });
  const accept = (reply: BatchReply): void => {
    if (reply.error !== null) throw new CampaignError(reply.error.seed, `seed ${reply.error.seed}: ${reply.error.message}`);
    for (const r of reply.results) fold(report, crc, r);
    onProgress?.(report.passed + report.failed, report.failed);
  };
  if (spec.workers === 1) {
    for (let b = 0; b < batchCount; b++) {
      accept(await runBatch(request(b), setup));
      // Let the event loop breathe between batches (signals, the progress bar).
      await new Promise((resolve) => setImmediate(resolve));
    }
  } else {
    await runOnWorkers(Math.min(spec.workers, batchCount), batchCount, request, accept);
  }
  report.digest = (crc.value >>> 0).toString(16).padStart(8, '0');
  return report;
}

/** Hands batches to idle workers; replies are accepted strictly in batch order (a reorder buffer). */
function runOnWorkers(workerCount: number, batchCount: number, request: (index: number) => BatchRequest, accept: (reply: BatchReply) => void): Promise<void> {
  const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const workerPath = fileURLToPath(new URL(`./campaign-worker.${extension}`, import.meta.url));
  const workers: ChildProcess[] = [];
  const waiting = new Map<number, BatchReply>();
  let nextToSend = 0;
  let nextToAccept = 0;
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (error: unknown): void => {
      if (settled) return;
      settled = true;
      // Stopped by PID, and settled only once each has exited (reaped): the CLI ends with
      // process.exit, and a worker killed but not yet reaped would outlive it for a moment as a
      // zombie. A worker also exits by itself when its channel to us closes.
      const running = workers.filter((w) => w.exitCode === null && w.signalCode === null);
      let left = running.length;
      const done = (): void => {
        if (--left > 0) return;
        if (error === null) resolve();
        else reject(error);
      };
      if (left === 0) {
        left = 1;
        done();
        return;
      }
      for (const w of running) {
        w.once('exit', done);
        w.kill('SIGKILL');
      }
    };
    // A worker appears once per free slot; batches go out only while the window of batches not
    // yet accepted is small, so a slow batch cannot make the reorder buffer grow.
    const idle: ChildProcess[] = [];
    const windowBatches = workerCount * 4;
    const pump = (): void => {
      while (idle.length > 0 && nextToSend < batchCount && nextToSend - nextToAccept < windowBatches) idle.pop()!.send(request(nextToSend++));
    };
    for (let w = 0; w < workerCount; w++) {
      // The parent's execArgv carries a TypeScript loader when the runner itself runs from source.
      const worker = fork(workerPath, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      workers.push(worker);
      worker.on('message', (reply: BatchReply) => {
        if (settled) return;
        waiting.set(reply.index, reply);
        idle.push(worker);
        try {
          for (let ready = waiting.get(nextToAccept); ready !== undefined; ready = waiting.get(nextToAccept)) {
            waiting.delete(nextToAccept);
            nextToAccept++;
            accept(ready);
          }
        } catch (error) {
          finish(error);
          return;
        }
        if (nextToAccept === batchCount) finish(null);
        else pump();
      });
      worker.on('error', (error) => {
        // A send to a worker that has just died fails with EPIPE before its exit is reported: the
        // exit (with its signal or code) is the cause, and comes next; wait for it.
        if ((error as NodeJS.ErrnoException).code === 'EPIPE' && worker.exitCode === null && worker.signalCode === null) return;
        finish(new Error(`campaign worker ${w} (pid ${worker.pid ?? '?'}): ${error.message}`));
      });
      worker.on('exit', (code, signal) => {
        if (!settled) finish(new Error(`campaign worker ${w} (pid ${worker.pid ?? '?'}) exited (${signal ?? `code ${code}`}) before the campaign finished`));
      });
      // Two slots per worker, so no worker waits on the main process between batches.
      idle.push(worker, worker);
    }
    pump();
  });
}
