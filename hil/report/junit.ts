/**
 * HIL scenario results as JUnit XML, the format CI servers show as test results: one testcase per
 * scenario, a <failure> naming the first failed criterion (all of them in its body), an <error>
 * when the run could not be made, and a one-line run summary in <system-out>.
 * Deterministic (no timestamp, no host name); every text is escaped for XML 1.0.
 */
import { assert } from '../../src/core/assert.js';
import type { CriterionOutcome, ScenarioResult } from '../result.js';
import {
  escapeXmlAttr,
  escapeXmlText,
  formatPlantSeconds,
  formatRealTimeFactor,
  oneLine,
  truncateText,
} from './report-text.js';

/** Longest message attribute; the body carries the rest. */
const MESSAGE_LENGTH_MAX = 1_000;
/** Longest line in a failure body (one failed criterion). */
const BODY_LINE_LENGTH_MAX = 1_000;
const FAILED_CRITERIA_LISTED_MAX = 100;
/** Longest error text in an <error> body (a start-up failure may carry a child's stderr). */
const ERROR_BODY_LENGTH_MAX = 10_000;

/** A JUnit XML document with one testsuite named `suiteName` and one testcase per result. */
export function junitXml(results: readonly ScenarioResult[], suiteName: string): string {
  for (const result of results) {
    assert(Number.isFinite(result.wallMs) && result.wallMs >= 0, `junitXml: '${result.name}' wallMs ${result.wallMs}`);
  }
  const failureCount = results.filter((result) => result.verdict === 'fail').length;
  const errorCount = results.filter((result) => result.verdict === 'error').length;
  const totalMs = results.reduce((sum, result) => sum + result.wallMs, 0);
  const counts = `tests="${results.length}" failures="${failureCount}" errors="${errorCount}" time="${seconds(totalMs)}"`;
  const name = escapeXmlAttr(suiteName);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${name}" ${counts}>`,
    `  <testsuite name="${name}" ${counts} skipped="0">`,
    ...results.flatMap(testcase),
    '  </testsuite>',
    '</testsuites>',
    '',
  ];
  return lines.join('\n');
}

function seconds(wallMs: number): string {
  return (wallMs / 1000).toFixed(3);
}

function testcase(result: ScenarioResult): string[] {
  const lines = [
    `    <testcase classname="hil" name="${escapeXmlAttr(result.name)}" file="${escapeXmlAttr(result.file)}" ` +
      `time="${seconds(result.wallMs)}">`,
  ];
  if (result.verdict === 'fail') lines.push(failureElement(result));
  if (result.verdict === 'error') lines.push(errorElement(result));
  lines.push(`      <system-out>${escapeXmlText(runSummary(result))}</system-out>`);
  lines.push('    </testcase>');
  return lines;
}

/**
 * One failed criterion on one line: its name, the reader's message, then measured, bound and tick
 * spelled out, so the line stands on its own even if the message leaves one of them out.
 */
export function criterionFailureLine(criterion: CriterionOutcome): string {
  const where = criterion.tick === null ? '' : `; tick ${criterion.tick}`;
  return oneLine(
    `${criterion.name}: ${criterion.message} (measured ${criterion.measured}; bound ${criterion.bound}${where})`,
  );
}

function failureElement(result: ScenarioResult): string {
  const failed = result.criteria.filter((criterion) => !criterion.passed);
  const first = failed[0];
  let message = first === undefined ? 'verdict fail, but no criterion is marked failed' : criterionFailureLine(first);
  if (failed.length > 1) message += ` — and ${failed.length - 1} more failed criteria`;
  const body = failed
    .slice(0, FAILED_CRITERIA_LISTED_MAX)
    .map((criterion) => truncateText(criterionFailureLine(criterion), BODY_LINE_LENGTH_MAX));
  if (failed.length > FAILED_CRITERIA_LISTED_MAX) body.push(`… ${failed.length - FAILED_CRITERIA_LISTED_MAX} more`);
  body.push(`seed ${result.seed}, scenario ${result.file}; replay: ${result.replayCommand}`);
  return (
    `      <failure message="${escapeXmlAttr(truncateText(message, MESSAGE_LENGTH_MAX))}" type="criterion">` +
    `${escapeXmlText(body.join('\n'))}</failure>`
  );
}

function errorElement(result: ScenarioResult): string {
  const text = result.error ?? 'the run could not be made (no error text recorded)';
  const message = truncateText(oneLine(text), MESSAGE_LENGTH_MAX);
  const body = `${truncateText(text, ERROR_BODY_LENGTH_MAX)}\nseed ${result.seed}, scenario ${result.file}; replay: ${result.replayCommand}`;
  return `      <error message="${escapeXmlAttr(message)}" type="error">${escapeXmlText(body)}</error>`;
}

/** Ticks, rate, replica kinds, time base and speed of one run, on one line. */
export function runSummary(result: ScenarioResult): string {
  const kinds = result.replicaKinds.length === 0 ? 'none' : result.replicaKinds.join(', ');
  return oneLine(
    `${result.ticks} ticks at ${result.rateHz} Hz (${formatPlantSeconds(result.ticks, result.rateHz)} s plant time), ` +
      `replicas ${kinds}, ${result.timeBase} time, ${formatRealTimeFactor(result.realTimeFactor)} real time, ` +
      `seed ${result.seed}, wall ${Math.round(result.wallMs)} ms`,
  );
}
