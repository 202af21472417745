/**
 * The CLI side of the black-box log: `--log FILE` on run and sim, `tmr log FILE` (a summary, or
 * an export as CSV or JSON lines) and `tmr replay FILE` (re-run the voter and the law over it).
 */
import { performance } from 'node:perf_hooks';
import type { StepResult } from '../core/tmr-core.js';
import { BLACK_BOX_VERSION, BlackBoxFormatError, BlackBoxWriter, readBlackBox, type BlackBoxContents, type BlackBoxHeader } from '../loop/black-box.js';
import type { LoopModel, LoopOptions, RunSummary } from '../loop/loop-model.js';
import { replayBlackBox, ReplayError } from '../loop/replay.js';
import { UsageError } from './options.js';
import { importLaw } from '../law/law-loader.js';
import { hex, type LoadedLaw } from '../law/law-runtime.js';

/** Writes one run's log: the header once the replicas are known, a record per tick, the end. */
export class RunLog {
  private readonly writer: BlackBoxWriter;
  private headerWritten = false;

  constructor(path: string) {
    try {
      this.writer = new BlackBoxWriter(path, () => performance.now());
    } catch (error) {
      throw new UsageError(`--log ${path}: cannot write (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }

  /** Before tick 0: the options and the replicas already out (refused at handshake). */
  start(options: LoopOptions, model: LoopModel): void {
    this.writer.writeHeader(blackBoxHeader(options, model, new Date().toISOString()));
    this.headerWritten = true;
  }

  tick(model: LoopModel, result: StepResult): void {
    if (!this.headerWritten) return;
    this.writer.writeTick(result.tick, model.inputs, model.obs, result);
  }

  end(summary: RunSummary, reason: string): void {
    this.writer.writeEnd({ ticks: summary.ticks, reason, unsafeCommands: summary.unsafeCommands, votedTraceHash: summary.votedTraceHash });
  }

  close(): void {
    this.writer.close();
  }
}

function readLog(path: string): BlackBoxContents {
  try {
    return readBlackBox(path);
  } catch (error) {
    if (error instanceof BlackBoxFormatError) throw new UsageError(error.message);
    throw new UsageError(`${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function damage(log: BlackBoxContents): string[] {
  const lines: string[] = [];
  if (log.tornBytes > 0) lines.push(`torn tail: the last ${log.tornBytes} bytes are an incomplete record (the writer was killed); everything before them was read`);
  if (log.corruption !== null) lines.push(`DAMAGED: ${log.corruption}`);
  if (log.end === null && log.corruption === null) lines.push('no end record: the run did not end in order (killed, or still running)');
  return lines;
}

/** `tmr log FILE [--csv | --jsonl]` */
export function logCommand(argv: readonly string[]): number {
  const [path, format, ...extra] = argv;
  if (path === undefined || path.startsWith('--') || extra.length > 0 || (format !== undefined && format !== '--csv' && format !== '--jsonl')) {
    throw new UsageError('usage: tmr log FILE [--csv | --jsonl]');
  }
  const log = readLog(path);
  if (format === '--jsonl') {
    if (log.header !== null) process.stdout.write(`${JSON.stringify({ record: 'header', ...log.header })}\n`);
    for (const t of log.ticks) process.stdout.write(`${JSON.stringify({ record: 'tick', ...t })}\n`);
    if (log.end !== null) process.stdout.write(`${JSON.stringify({ record: 'end', ...log.end })}\n`);
  } else if (format === '--csv') {
    const n = log.header?.replicaCount ?? 0;
    const inputNames = log.header?.law.inputs ?? [];
    const outputNames = log.header?.law.outputs ?? [];
    const channels = outputNames.length;
    // One column per input and per commanded channel; each replica's on-time flag and its first output channel.
    const replicaColumns = Array.from({ length: n }, (_, i) => `r${i}_on_time,r${i}_${outputNames[0] ?? 'output'}`).join(',');
    const named = [...inputNames.map((c) => `in_${c}`), ...outputNames.map((c) => `cmd_${c}`)].join(',');
    process.stdout.write(`tick,${named},source,mode,in_service_mask,${replicaColumns},events\n`);
    for (const t of log.ticks) {
      const replicas = Array.from({ length: n }, (_, i) => ((t.onTimeMask >> i) & 1 ? `1,${t.outputs[i * channels]}` : '0,')).join(',');
      const events = t.events.map((e) => `${e[0]}${e[1] >= 0 ? `:r${e[1]}` : ''}${e[2] === '' ? '' : `:${e[2]}`}`).join(' ');
      process.stdout.write(`${t.tick},${t.inputs.join(',')},${t.commands.join(',')},${t.source},${t.mode},${t.inServiceMask},${replicas},${events}\n`);
    }
  } else {
    process.stdout.write(`${summarise(path, log).join('\n')}\n`);
  }
  return log.corruption === null ? 0 : 1;
}

function summarise(path: string, log: BlackBoxContents): string[] {
  const h = log.header;
  const lines = [`${path}: ${log.fileBytes} bytes, ${log.ticks.length} tick records`];
  if (h === null) lines.push('no header record');
  else {
    lines.push(`run: law ${h.law.name} v${h.law.version} on plant ${h.plant}, ${h.replicaCount} replicas at ${h.rateHz} Hz, seed ${h.seed}, ${h.ticks} ticks planned, started ${h.wallClockStart}`);
    for (const [replica, reason, detail] of h.initialExcluded) lines.push(`  replica ${replica} refused before tick 0: ${reason} ${detail}`);
  }
  const sources: Record<string, number> = {};
  let lastMode = '';
  for (const t of log.ticks) {
    sources[t.source] = (sources[t.source] ?? 0) + 1;
    if (t.mode !== lastMode) lines.push(`  tick ${t.tick}: mode ${t.mode}`);
    lastMode = t.mode;
    for (const [kind, replica, reason] of t.events) if (kind === 'replicaExcluded') lines.push(`  tick ${t.tick}: replica ${replica} excluded: ${reason}`);
  }
  lines.push(`commands: ${Object.entries(sources).map(([k, v]) => `${v} ${k}`).join(', ') || 'none'}`);
  if (log.end !== null) lines.push(`end: ${log.end.reason} after ${log.end.ticks} ticks, ${log.end.unsafeCommands} unsafe commands, voted trace ${log.end.votedTraceHash}`);
  return [...lines, ...damage(log)];
}

/** `tmr replay FILE [--json]`: exit 0 when every logged command is reproduced, 1 otherwise. */
export async function replayCommand(argv: readonly string[]): Promise<number> {
  const [path, flag, ...extra] = argv;
  if (path === undefined || path.startsWith('--') || extra.length > 0 || (flag !== undefined && flag !== '--json')) throw new UsageError('usage: tmr replay FILE [--json]');
  const log = readLog(path);
  let report;
  try {
    report = replayBlackBox(log, await lawOfLog(path, log));
  } catch (error) {
    if (error instanceof ReplayError) throw new UsageError(`${path}: ${error.message}`);
    throw error;
  }
  const ok = report.mismatchCount === 0 && log.corruption === null;
  if (flag === '--json') {
    process.stdout.write(`${JSON.stringify({ ok, ...report, tornBytes: log.tornBytes, corruption: log.corruption, ended: log.end !== null })}\n`);
    return ok ? 0 : 1;
  }
  const lines = [
    `${path}: replayed ${report.ticks} ticks through the voter and the control law; ${report.votedChecked} voted commands checked against the law`,
    ...damage(log),
  ];
  if (report.mismatchCount === 0) lines.push('every logged command, source, mode and in-service set was reproduced bit for bit');
  else {
    lines.push(`MISMATCH: ${report.mismatchCount} differences; the first ${report.mismatches.length}:`);
    for (const m of report.mismatches) lines.push(`  tick ${m.tick}: ${m.what}: logged ${m.logged}, replayed ${m.replayed}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return ok ? 0 : 1;
}

/** The law a log was written with, loaded by its source and checked against the logged self-test hash. */
async function lawOfLog(path: string, log: BlackBoxContents): Promise<LoadedLaw> {
  const h = log.header;
  if (h === null) throw new UsageError(`${path}: no header record, so no law to replay with`);
  let law: LoadedLaw;
  try {
    law = await importLaw(h.law.source);
  } catch (error) {
    throw new UsageError(`${path}: cannot load law ${h.law.name} from ${h.law.source}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (law.name !== h.law.name || law.version !== h.law.version || law.selfTestHash !== h.law.selfTestHash) {
    throw new UsageError(`${path}: the log was written with law ${h.law.name} v${h.law.version} (hash ${hex(h.law.selfTestHash)}); ${h.law.source} now gives ${law.name} v${law.version} (hash ${hex(law.selfTestHash)})`);
  }
  return law;
}

/** The header record of a run's log: its options, its law and plant, and the replicas out before tick 0. */
export function blackBoxHeader(options: LoopOptions, model: LoopModel, wallClockStart: string): BlackBoxHeader {
  const law = model.law;
  return {
    version: BLACK_BOX_VERSION,
    law: {
      name: law.name,
      version: law.version,
      selfTestHash: law.selfTestHash,
      source: law.source,
      inputs: law.definition.inputs.map((c) => c.name),
      outputs: law.definition.outputs.map((c) => c.name),
    },
    plant: options.plant.name,
    rateHz: options.rateHz,
    replicaCount: options.replicaCount,
    seed: options.seed,
    ticks: options.ticks,
    simplexPolicy: options.simplexPolicy,
    deadlineMissLimit: options.deadlineMissLimit,
    errorDensityLimit: options.errorDensityLimit,
    quorumLossTicksMax: options.quorumLossTicksMax,
    commonModeLimitMs: options.commonModeLimitMs,
    stalls: options.stalls,
    recovery: options.recovery,
    safeOutputs: model.coreConfig.channels.map((c) => c.safe),
    injects: options.injects,
    initialExcluded: model.core.status.flatMap((status, i) =>
      status === 'excluded' ? [[i, model.core.exclusionReason[i] ?? 'HANDSHAKE_REFUSED', model.replicaDetail[i] ?? ''] as const] : [],
    ),
    wallClockStart,
  };
}
