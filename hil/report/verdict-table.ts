/**
 * HIL scenario results as a plain-text table for a terminal: one aligned row per scenario (verdict,
 * ticks, rate, replicas, wall time, speed, first failure), a key to the replica abbreviations and
 * a totals line. At most TABLE_WIDTH_MAX columns; nothing a terminal would interpret gets through.
 */
import { assert } from '../../src/core/assert.js';
import type { ScenarioResult } from '../result.js';
import { formatCount, formatRealTimeFactor, formatWallTime, terminalSafe, truncateText } from './report-text.js';

const TABLE_WIDTH_MAX = 140;
const COLUMN_GAP = '  ';
/** The first-failure column is never narrower than this, even if other columns must give way. */
const FAILURE_WIDTH_MIN = 20;

interface ColumnSpec {
  readonly header: string;
  readonly align: 'left' | 'right';
  /** Cells longer than this are cut with '…'. */
  readonly widthMax: number;
}

/** Every column but the last ('first failure'), which takes what is left of TABLE_WIDTH_MAX. */
const COLUMNS: readonly ColumnSpec[] = [
  { header: 'scenario', align: 'left', widthMax: 30 },
  { header: 'verdict', align: 'left', widthMax: 7 },
  { header: 'ticks', align: 'right', widthMax: 11 },
  { header: 'rate Hz', align: 'right', widthMax: 7 },
  { header: 'replicas', align: 'left', widthMax: 16 },
  { header: 'wall', align: 'right', widthMax: 10 },
  { header: '×real', align: 'right', widthMax: 7 },
];
const FAILURE_HEADER = 'first failure';

/** Known replica kinds and their short names; other kinds are shown cut to 6 characters. */
const KIND_ABBREVIATIONS: Readonly<Record<string, string>> = {
  node: 'N',
  'sim-board': 'SB',
  'avr-sim': 'AVR',
  serial: 'SER',
};
const UNKNOWN_KIND_LENGTH_MAX = 6;

/** The table, a key to the replica abbreviations used, and 'N passed, M failed, K errors' last. */
export function formatVerdictTable(results: readonly ScenarioResult[]): string {
  const rows = results.map(rowCells);
  const widths = COLUMNS.map((column, index) =>
    Math.min(column.widthMax, Math.max(column.header.length, ...rows.map((row) => row.cells[index]?.length ?? 0))),
  );
  const fixedWidth = widths.reduce((sum, width) => sum + width + COLUMN_GAP.length, 0);
  const failureWidth = Math.max(FAILURE_WIDTH_MIN, TABLE_WIDTH_MAX - fixedWidth);
  const lines = [
    formatRow(COLUMNS.map((column) => column.header), FAILURE_HEADER, widths, failureWidth),
    '-'.repeat(Math.min(TABLE_WIDTH_MAX, fixedWidth + failureWidth)),
    ...rows.map((row) => formatRow(row.cells, row.failure, widths, failureWidth)),
  ];
  const key = abbreviationKey(results);
  if (key !== '') lines.push(key);
  lines.push(totalsLine(results));
  for (const line of lines) assert(line.length <= TABLE_WIDTH_MAX, `formatVerdictTable: line of ${line.length} columns`);
  return `${lines.join('\n')}\n`;
}

function rowCells(result: ScenarioResult): { cells: string[]; failure: string } {
  const cells = [
    terminalSafe(result.name),
    result.verdict.toUpperCase(),
    formatCount(result.ticks),
    String(result.rateHz),
    result.replicaKinds.map(abbreviateKind).join(',') || '-',
    formatWallTime(result.wallMs),
    formatRealTimeFactor(result.realTimeFactor),
  ];
  return { cells, failure: terminalSafe(firstFailure(result)) };
}

function firstFailure(result: ScenarioResult): string {
  if (result.verdict === 'error') return `error: ${result.error ?? 'no error text recorded'}`;
  const failed = result.criteria.find((criterion) => !criterion.passed);
  if (failed !== undefined) return failed.message;
  return result.verdict === 'fail' ? 'verdict fail, but no criterion is marked failed' : '';
}

/** 'node' → 'N', 'serial:/dev/ttyACM0@115200' → 'SER'. */
function abbreviateKind(kind: string): string {
  const base = kind.split(':')[0] ?? kind;
  return KIND_ABBREVIATIONS[base] ?? truncateText(terminalSafe(base), UNKNOWN_KIND_LENGTH_MAX);
}

function formatRow(cells: readonly string[], failure: string, widths: readonly number[], failureWidth: number): string {
  const padded = COLUMNS.map((column, index) => {
    const width = widths[index] ?? column.widthMax;
    const cell = truncateText(cells[index] ?? '', width);
    return column.align === 'right' ? cell.padStart(width) : cell.padEnd(width);
  });
  padded.push(failure === '' ? '' : truncateText(failure, failureWidth));
  return padded.join(COLUMN_GAP).trimEnd();
}

/** 'replicas: N node, SB sim-board' for the known kinds that appear, in the order above. */
function abbreviationKey(results: readonly ScenarioResult[]): string {
  const bases = new Set(results.flatMap((result) => result.replicaKinds.map((kind) => kind.split(':')[0] ?? kind)));
  const used = Object.entries(KIND_ABBREVIATIONS).filter(([kind]) => bases.has(kind));
  if (used.length === 0) return '';
  return `replicas: ${used.map(([kind, abbreviation]) => `${abbreviation} ${kind}`).join(', ')}`;
}

function totalsLine(results: readonly ScenarioResult[]): string {
  const count = (verdict: ScenarioResult['verdict']): number =>
    results.filter((result) => result.verdict === verdict).length;
  const errorCount = count('error');
  return `${count('pass')} passed, ${count('fail')} failed, ${errorCount} ${errorCount === 1 ? 'error' : 'errors'}`;
}
