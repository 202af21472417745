/**
 * Text helpers shared by the HIL reports: XML escaping, terminal-safe text, truncation and the
 * few number formats every report prints the same way. Pure functions; no locale, no clock, so a
 * report is a pure function of its ScenarioResult.
 */
import { assert } from '../../src/core/assert.js';

/** An ANSI/VT escape sequence (colour codes from a child process's stderr): dropped from reports. */
const ANSI_ESCAPE = /\u001B\[[0-9;?]*[ -/]*[@-~]/g;

/**
 * What XML 1.0 forbids even as a character reference: C0 controls other than tab, LF and CR,
 * U+FFFE, U+FFFF and lone surrogates. They are replaced by U+FFFD so a reader sees that something
 * was there.
 */
const XML_FORBIDDEN =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Controls a terminal would act on (C0, DEL, C1) once line breaks and tabs became spaces. */
const TERMINAL_CONTROL = /[\u0000-\u001F\u007F-\u009F]/g;

const REPLACEMENT_CHAR = '\uFFFD';

/** Text as characters XML 1.0 accepts: ANSI escapes dropped, forbidden characters replaced. */
export function xmlSafeChars(text: string): string {
  return text.replace(ANSI_ESCAPE, '').replace(XML_FORBIDDEN, REPLACEMENT_CHAR);
}

/** Escapes text content: `&`, `<`, `>`, and `"` too, so the result is safe in any position. */
export function escapeXmlText(text: string): string {
  return xmlSafeChars(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** Escapes an attribute value for double or single quotes; tab, LF and CR survive normalisation. */
export function escapeXmlAttr(text: string): string {
  return escapeXmlText(text)
    .replace(/'/g, '&apos;')
    .replace(/\t/g, '&#9;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;');
}

/** Line breaks and tabs become single spaces, so a message stays on its line. */
export function oneLine(text: string): string {
  return text.replace(/[\t\r\n]+/g, ' ');
}

/** One line, with nothing a terminal would interpret (escape sequences, controls). */
export function terminalSafe(text: string): string {
  return oneLine(text).replace(ANSI_ESCAPE, '').replace(TERMINAL_CONTROL, REPLACEMENT_CHAR);
}

/** At most `lengthMax` UTF-16 units; a cut ends in '…' and never splits a surrogate pair. */
export function truncateText(text: string, lengthMax: number): string {
  assert(Number.isInteger(lengthMax) && lengthMax >= 1, `truncateText: bad lengthMax ${lengthMax}`);
  if (text.length <= lengthMax) return text;
  let cut = lengthMax - 1;
  const last = text.charCodeAt(cut - 1);
  if (cut > 0 && last >= 0xd800 && last <= 0xdbff) cut -= 1;
  const result = `${text.slice(0, cut)}…`;
  assert(result.length <= lengthMax, 'truncateText: result too long');
  return result;
}

/** Plant time over wall time as '×12.3': more digits when it is near 1, fewer when large. */
export function formatRealTimeFactor(factor: number): string {
  if (!Number.isFinite(factor)) return '×?';
  if (factor >= 100) return `×${Math.round(factor)}`;
  if (factor >= 10) return `×${factor.toFixed(1)}`;
  return `×${factor.toFixed(2)}`;
}

/** Wall time as '850 ms', '12.3 s' or '4 min 05 s'. */
export function formatWallTime(wallMs: number): string {
  if (!Number.isFinite(wallMs) || wallMs < 0) return '?';
  if (wallMs < 1000) return `${Math.round(wallMs)} ms`;
  if (wallMs < 60_000) return `${(wallMs / 1000).toFixed(1)} s`;
  const totalS = Math.round(wallMs / 1000);
  return `${Math.floor(totalS / 60)} min ${String(totalS % 60).padStart(2, '0')} s`;
}

/** An integer with ',' between groups of three digits, independent of the machine's locale. */
export function formatCount(count: number): string {
  if (!Number.isInteger(count)) return String(count);
  const digits = String(Math.abs(count)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return count < 0 ? `-${digits}` : digits;
}

/** Plant time of a run in seconds, as text: ticks / rateHz. */
export function formatPlantSeconds(ticks: number, rateHz: number): string {
  if (!(rateHz > 0)) return '?';
  const seconds = ticks / rateHz;
  return Number.isInteger(seconds) ? String(seconds) : seconds.toFixed(2);
}
