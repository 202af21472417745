/**
 * Sample statistics and the result table for the bench. Samples are preallocated Float64Arrays
 * of microseconds; percentiles use the nearest-rank rule on a sorted copy.
 */

export interface Percentiles {
  readonly count: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
}

/** Nearest-rank percentile of an ascending array; 0 for no samples. */
export function percentileOf(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

export function percentiles(samplesUs: Float64Array): Percentiles {
  const sorted = Float64Array.from(samplesUs).sort();
  return {
    count: sorted.length,
    p50Us: percentileOf(sorted, 0.5),
    p99Us: percentileOf(sorted, 0.99),
    p999Us: percentileOf(sorted, 0.999),
    maxUs: sorted.length > 0 ? (sorted[sorted.length - 1] as number) : 0,
  };
}

/** PASS / MISS against a target; INFO for rows that only explain. */
export type Verdict = 'PASS' | 'MISS' | 'INFO';

export interface ResultRow {
  readonly section: string;
  readonly metric: string;
  /** The measured value, its unit, and how it prints. */
  readonly measured: number;
  readonly unit: string;
  /** The floor it is compared with (same unit), if any. */
  readonly floor: number | null;
  /** measured / floor, if there is a floor. */
  readonly ratio: number | null;
  /** The target in words, e.g. "≤ 1.30× floor"; '-' for information rows. */
  readonly target: string;
  readonly verdict: Verdict;
}

export function formatNumber(value: number): string {
  const magnitude = Math.abs(value);
  if (magnitude >= 10_000) return Math.round(value).toLocaleString('en-US');
  if (magnitude >= 100) return value.toFixed(0);
  if (magnitude >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** One fixed-width text table; each section opens with its title on a line of its own. */
export function formatTable(rows: readonly ResultRow[]): string {
  const header = ['metric', 'measured', 'floor', 'ratio', 'target', 'result'];
  const cells = rows.map((r) => [
    r.metric,
    `${formatNumber(r.measured)} ${r.unit}`,
    r.floor === null ? '-' : `${formatNumber(r.floor)} ${r.unit}`,
    r.ratio === null ? '-' : `${r.ratio.toFixed(2)}×`,
    r.target,
    r.verdict,
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map((row) => (row[c] as string).length)));
  // Text columns left-aligned, numbers right-aligned.
  const rightAligned = [false, true, true, true, false, false];
  const line = (row: readonly string[]): string =>
    row.map((cell, c) => (rightAligned[c] ? cell.padStart(widths[c] as number) : cell.padEnd(widths[c] as number))).join('  ').trimEnd();
  const out = [line(header)];
  let previousSection: string | null = null;
  for (let i = 0; i < rows.length; i++) {
    const section = (rows[i] as ResultRow).section;
    if (section !== previousSection) out.push(`── ${section} ${'─'.repeat(Math.max(0, widths.reduce((a, b) => a + b + 2, -2) - section.length - 4))}`);
    previousSection = section;
    out.push(line(cells[i] as string[]));
  }
  return out.join('\n');
}

export function verdict(pass: boolean): Verdict {
  return pass ? 'PASS' : 'MISS';
}

export function infoRow(section: string, metric: string, measured: number, unit: string, floor: number | null = null): ResultRow {
  return { section, metric, measured, unit, floor, ratio: floor === null || floor === 0 ? null : measured / floor, target: '-', verdict: 'INFO' };
}
