/**
 * The example frames of PROTOCOL.md (```frame blocks), parsed: for the document's own test and for
 * the firmware's conformance test, which plays the section 18.2 exchange (a pid-q16 board) against
 * a board.
 */
import { readFileSync } from 'node:fs';
import { decodeMessage } from '../../src/protocol/codec.js';
import type { Message } from '../../src/protocol/messages.js';

export const DOC = readFileSync(new URL('../../PROTOCOL.md', import.meta.url), 'utf8');

/** Hex bytes separated by whitespace; `xx*n` is n bytes xx. */
export function parseHex(text: string): Uint8Array {
  const bytes: number[] = [];
  for (const token of text.trim().split(/\s+/)) {
    const match = /^([0-9a-f]{2})(?:\*(\d+))?$/.exec(token);
    if (match === null) throw new Error(`PROTOCOL.md: bad hex token "${token}" in "${text}"`);
    const count = match[2] === undefined ? 1 : Number(match[2]);
    for (let i = 0; i < count; i++) bytes.push(parseInt(match[1] as string, 16));
  }
  return Uint8Array.from(bytes);
}

export interface Example {
  readonly name: string;
  readonly fields: ReadonlyMap<string, string>;
  /** Offset in the document, for ordering and for the exchange markers. */
  readonly at: number;
}

export function parseExamples(): Example[] {
  const examples: Example[] = [];
  for (const match of DOC.matchAll(/^```frame\n([\s\S]*?)^```$/gm)) {
    const fields = new Map<string, string>();
    for (const line of (match[1] as string).split('\n')) {
      if (line.trim() === '') continue;
      const kv = /^([a-z]+):\s*(.*)$/.exec(line);
      if (kv === null) throw new Error(`PROTOCOL.md: bad example line "${line}"`);
      if (fields.has(kv[1] as string)) throw new Error(`PROTOCOL.md: key ${kv[1]} twice in one example`);
      fields.set(kv[1] as string, (kv[2] as string).trim());
    }
    const name = fields.get('example');
    if (name === undefined) throw new Error(`PROTOCOL.md: example without a name:\n${match[0]}`);
    examples.push({ name, fields, at: match.index });
  }
  return examples;
}

export function required(example: Example, key: string): string {
  const value = example.fields.get(key);
  if (value === undefined) throw new Error(`PROTOCOL.md example ${example.name}: no ${key}:`);
  return value;
}

export function decodedExample(example: Example): Message {
  const frame = parseHex(required(example, 'frame'));
  const result = decodeMessage(frame.subarray(0, frame.length - 1));
  if (!result.ok) throw new Error(`PROTOCOL.md example ${example.name} does not decode: ${result.error} ${result.detail}`);
  return result.message;
}

export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
/** The message as the document writes it: JSON, byte strings as hex. */
export const docJson = (message: Message): string =>
  JSON.stringify(message, (_key, value: unknown) => (value instanceof Uint8Array ? toHex(value) : value));
export const EXAMPLES = parseExamples();

/**
 * The valid examples between `<!-- MARKER: begin -->` and `<!-- MARKER: end -->`, in order: by
 * default section 18.2's exchange with a pid-q16 board; `exchange tank` is section 18.3's.
 */
export function exchangeExamples(marker = 'exchange'): Example[] {
  const begin = DOC.indexOf(`<!-- ${marker}: begin -->`);
  const end = DOC.indexOf(`<!-- ${marker}: end -->`);
  if (begin < 0 || end < begin) throw new Error(`PROTOCOL.md: no <!-- ${marker}: begin --> ... <!-- ${marker}: end -->`);
  return EXAMPLES.filter((e) => e.fields.has('decoded') && e.at > begin && e.at < end);
}
