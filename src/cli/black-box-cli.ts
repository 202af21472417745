/**
 * The CLI side of the black-box log: `tmr log FILE` (a summary, or an export as CSV or JSON lines)
 * and `tmr replay FILE` (re-run the voter and the law over it), and the header a run's log begins
 * with (the runtime writes the log of `--log FILE`: src/api/run-log.ts).
 * Both read the log as a stream (BlackBoxReader), in bounded memory at any length: the summary
 * keeps counts and at most LISTED_LINES_MAX lines of events, the exports write as they read.
 */
import { once } from 'node:events';
import { BLACK_BOX_VERSION, type BlackBoxHeader, type EndRecord, type TickRecord } from '../loop/black-box.js';
import { BlackBoxFormatError, BlackBoxReader, damageText, type BlackBoxOutcome } from '../loop/black-box-reader.js';
import { InputFileError } from '../loop/input-file.js';
import type { LoopModel, LoopOptions } from '../loop/loop-model.js';
import { replayBlackBox, ReplayError, type ReplayReport } from '../loop/replay.js';
import { UsageError } from './options.js';
import { importLaw } from '../law/law-loader.js';
import { hex, type LoadedLaw } from '../law/law-runtime.js';

/** Exit code of a run that went well but whose log stopped short (README "Exit codes"). */
export const EXIT_LOG_INCOMPLETE = 5;
/** Event lines `tmr log` lists (mode changes, exclusions, probations, re-admissions); the rest are counted. */
const LISTED_LINES_MAX = 1_000;
/** Output collected before one write to stdout. */
const OUT_CHUNK_CHARS = 64 * 1024;

/** Opens a log for reading; what is not a readable log is one line naming the path. */
function openLog(path: string): BlackBoxReader {
  try {
    return BlackBoxReader.open(path);
  } catch (error) {
    if (error instanceof BlackBoxFormatError || error instanceof InputFileError) throw new UsageError(error.message);
    throw error;
  }
}

/** Reads the next record; a format error mid-file (a header of another format) is one line. */
function nextRecord(reader: BlackBoxReader): ReturnType<BlackBoxReader['next']> {
  try {
    return reader.next();
  } catch (error) {
    if (error instanceof BlackBoxFormatError) throw new UsageError(`${reader.path}: ${error.message}`);
    if (error instanceof InputFileError) throw new UsageError(error.message);
    throw error;
  }
}

/** The header, the first record (null when the file ends, torn or damaged, before it). */
function readHeader(reader: BlackBoxReader): BlackBoxHeader | null {
  // The reader takes nothing but a header first: anything else there is damage.
  const first = nextRecord(reader);
  return first?.type === 'header' ? first.header : null;
}

/** Every tick record after the header, as a stream; the end record is kept on the reader side. */
function* ticksOf(reader: BlackBoxReader, seen: { end: EndRecord | null }): Generator<TickRecord> {
  for (let r = nextRecord(reader); r !== null; r = nextRecord(reader)) {
    if (r.type === 'tick') yield r.tick;
    else if (r.type === 'end') seen.end = r.end;
  }
}

function damage(outcome: BlackBoxOutcome, ended: boolean): string[] {
  const lines: string[] = [];
  if (outcome.tornBytes > 0) lines.push(`torn tail: the last ${outcome.tornBytes} bytes are a record cut short while being written (the writer stopped mid-write); everything before them was read`);
  if (outcome.damage !== null) lines.push(`DAMAGED: ${damageText(outcome.damage, outcome.fileBytes)}`);
  if (!ended && outcome.damage === null) lines.push('no end record: the run did not end in order (killed, or still running)');
  return lines;
}

/** Text to stdout in chunks, waiting for the pipe to drain, so an export of any length holds little memory. */
class Out {
  private pending: string[] = [];
  private chars = 0;

  async line(text: string): Promise<void> {
    this.pending.push(text);
    this.chars += text.length + 1;
    if (this.chars >= OUT_CHUNK_CHARS) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const text = `${this.pending.join('\n')}\n`;
    this.pending = [];
    this.chars = 0;
    if (!process.stdout.write(text)) await once(process.stdout, 'drain');
  }
}

/** `tmr log FILE [--csv | --jsonl]`: exit 0 for a whole log or one with a torn tail, 1 for a damaged one. */
export async function logCommand(argv: readonly string[]): Promise<number> {
  const [path, format, ...extra] = argv;
  if (path === undefined || path.startsWith('--') || extra.length > 0 || (format !== undefined && format !== '--csv' && format !== '--jsonl')) {
    throw new UsageError('usage: tmr log FILE [--csv | --jsonl]');
  }
  const reader = openLog(path);
  const out = new Out();
  const header = readHeader(reader);
  const seen: { end: EndRecord | null } = { end: null };
  if (format === '--jsonl') {
    if (header !== null) await out.line(JSON.stringify({ record: 'header', ...header }));
    for (const t of ticksOf(reader, seen)) await out.line(JSON.stringify({ record: 'tick', ...t }));
    if (seen.end !== null) await out.line(JSON.stringify({ record: 'end', ...seen.end }));
  } else if (format === '--csv') {
    const n = header?.replicaCount ?? 0;
    const inputNames = header?.law.inputs ?? [];
    const outputNames = header?.law.outputs ?? [];
    const channels = outputNames.length;
    // One column per input and per commanded channel; each replica's on-time flag and its first output channel.
    const replicaColumns = Array.from({ length: n }, (_, i) => `r${i}_on_time,r${i}_${outputNames[0] ?? 'output'}`).join(',');
    const named = [...inputNames.map((c) => `in_${c}`), ...outputNames.map((c) => `cmd_${c}`)].join(',');
    await out.line(`tick,${named},source,mode,in_service_mask,${replicaColumns},events`);
    for (const t of ticksOf(reader, seen)) {
      const replicas = Array.from({ length: n }, (_, i) => ((t.onTimeMask >> i) & 1 ? `1,${t.outputs[i * channels]}` : '0,')).join(',');
      const events = t.events.map((e) => `${e[0]}${e[1] >= 0 ? `:r${e[1]}` : ''}${e[2] === '' ? '' : `:${e[2]}`}`).join(' ');
      await out.line(`${t.tick},${t.inputs.join(',')},${t.commands.join(',')},${t.source},${t.mode},${t.inServiceMask},${replicas},${events}`);
    }
  } else {
    for (const line of summarise(path, header, ticksOf(reader, seen), () => seen.end, () => reader.outcome)) await out.line(line);
  }
  await out.flush();
  const outcome = reader.outcome;
  // An export says what it could not read on stderr; the summary has it in its text.
  if (format !== undefined) for (const line of damage(outcome, seen.end !== null)) process.stderr.write(`tmr: ${path}: ${line}\n`);
  return outcome.damage === null ? 0 : 1;
}

function summaryEnd(end: EndRecord): string {
  return `end: ${end.reason} after ${end.ticks} ticks, ${end.unsafeCommands} unsafe commands, voted trace ${end.votedTraceHash}`;
}

/** The summary's lines, built while the ticks stream past: counts, and the first LISTED_LINES_MAX event lines. */
function* summarise(
  path: string,
  h: BlackBoxHeader | null,
  ticks: Iterable<TickRecord>,
  end: () => EndRecord | null,
  outcome: () => BlackBoxOutcome,
): Generator<string> {
  const head: string[] = [];
  if (h === null) head.push('no header record');
  else {
    head.push(`run: law ${h.law.name} v${h.law.version} on plant ${h.plant}, ${h.replicaCount} replicas at ${h.rateHz} Hz, seed ${h.seed}, ${h.ticks} ticks planned, started ${h.wallClockStart}`);
    for (const [replica, reason, detail] of h.initialExcluded) head.push(`  replica ${replica} refused before tick 0: ${reason} ${detail}`);
  }
  const events: string[] = [];
  let eventLines = 0;
  const list = (line: string): void => {
    eventLines++;
    if (events.length < LISTED_LINES_MAX) events.push(line);
  };
  const sources: Record<string, number> = {};
  let lastMode = '';
  let tickCount = 0;
  for (const t of ticks) {
    tickCount++;
    sources[t.source] = (sources[t.source] ?? 0) + 1;
    if (t.mode !== lastMode) list(`  tick ${t.tick}: mode ${t.mode}`);
    lastMode = t.mode;
    for (const [kind, replica, reason] of t.events) {
      if (kind === 'replicaExcluded') list(`  tick ${t.tick}: replica ${replica} excluded: ${reason}`);
      else if (kind === 'probationStarted') list(`  tick ${t.tick}: replica ${replica} on probation`);
      // Decided at the end of the tick: the vote counts it from the next one (the summary's readmittedTick).
      else if (kind === 'replicaReadmitted') list(`  tick ${t.tick}: replica ${replica} re-admitted, in the vote from tick ${t.tick + 1}`);
      else if (kind === 'coldStarted') list(`  tick ${t.tick}: replica ${replica} cold-started`);
    }
  }
  const o = outcome();
  yield `${path}: ${o.fileBytes} bytes, ${tickCount} tick records`;
  yield* head;
  yield* events;
  if (eventLines > events.length) yield `  … ${eventLines - events.length} more event lines not listed`;
  yield `commands: ${Object.entries(sources).map(([k, v]) => `${v} ${k}`).join(', ') || 'none'}`;
  const e = end();
  if (e !== null) yield summaryEnd(e);
  yield* damage(o, e !== null);
}

/** `tmr replay FILE [--json]`: exit 0 when every logged command is reproduced, 1 otherwise (or on damage). */
export async function replayCommand(argv: readonly string[]): Promise<number> {
  const [path, flag, ...extra] = argv;
  if (path === undefined || path.startsWith('--') || extra.length > 0 || (flag !== undefined && flag !== '--json')) throw new UsageError('usage: tmr replay FILE [--json]');
  const reader = openLog(path);
  const header = readHeader(reader);
  if (header === null && reader.outcome.damage !== null) {
    // Damaged before anything could be replayed: reported as damage (exit 1), like any other.
    const text = `DAMAGED: ${damageText(reader.outcome.damage, reader.fileBytes)}`;
    if (flag === '--json') process.stdout.write(`${JSON.stringify({ ok: false, ticks: 0, votedChecked: 0, mismatchCount: 0, mismatches: [], tornBytes: 0, corruption: text, damageOffset: reader.outcome.damage.offset, ended: false })}\n`);
    else process.stdout.write(`${path}: no header record, so nothing to replay\n${text}\n`);
    return 1;
  }
  const law = await lawOfLog(path, header, reader.outcome);
  const seen: { end: EndRecord | null } = { end: null };
  let report: ReplayReport;
  let refused: string | null = null;
  try {
    report = replayBlackBox({ header, ticks: ticksOf(reader, seen) }, law);
  } catch (error) {
    if (!(error instanceof ReplayError)) throw error;
    // A tick no run could have logged: reported like damage, with what was replayed before it.
    refused = error.message;
    report = { ticks: 0, votedChecked: 0, mismatchCount: 0, mismatches: [] };
  }
  reader.close();
  const outcome = reader.outcome;
  const ok = report.mismatchCount === 0 && outcome.damage === null && refused === null;
  const corruption = outcome.damage === null ? refused : damageText(outcome.damage, outcome.fileBytes);
  if (flag === '--json') {
    process.stdout.write(`${JSON.stringify({ ok, ...report, tornBytes: outcome.tornBytes, corruption, damageOffset: outcome.damage?.offset ?? null, ended: seen.end !== null })}\n`);
    return ok ? 0 : 1;
  }
  const lines = refused !== null
    ? [`${path}: replay stopped: ${refused}`]
    : [`${path}: replayed ${report.ticks} ticks through the voter and the control law; ${report.votedChecked} voted commands checked against the law`, ...damage(outcome, seen.end !== null)];
  if (refused === null && report.mismatchCount === 0) lines.push(outcome.damage === null ? 'every logged command, source, mode and in-service set was reproduced bit for bit' : 'every command read before the damage was reproduced bit for bit');
  else if (report.mismatchCount > 0) {
    lines.push(`MISMATCH: ${report.mismatchCount} differences; the first ${report.mismatches.length}:`);
    for (const m of report.mismatches) lines.push(`  tick ${m.tick}: ${m.what}: logged ${m.logged}, replayed ${m.replayed}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return ok ? 0 : 1;
}

/** The law a log was written with, loaded by its source and checked against the logged self-test hash. */
async function lawOfLog(path: string, h: BlackBoxHeader | null, outcome: BlackBoxOutcome): Promise<LoadedLaw> {
  if (h === null) {
    const why = outcome.damage !== null ? `; ${damageText(outcome.damage, outcome.fileBytes)}` : outcome.tornBytes > 0 ? ' (the file ends inside it)' : '';
    throw new UsageError(`${path}: no header record, so no law to replay with${why}`);
  }
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
