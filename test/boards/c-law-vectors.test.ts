/**
 * The C control law (boards/uno/src) against the committed test vectors: compiled with the host's
 * C compiler, warnings as errors, and run over every record. The checker is also fed damaged
 * copies of the file to show it fails, naming the first difference.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lawSelfTestHash } from '../../src/core/control-law.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BOARD = join(ROOT, 'boards', 'uno');
const VECTORS = join(ROOT, 'test', 'vectors', 'pid-q16-v1.txt');

let dir = '';
let checker = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tmr-c-law-'));
  checker = join(dir, 'check_vectors');
  execFileSync('make', ['-s', '-C', BOARD, `BUILD=${dir}`, `${dir}/check_vectors`], { stdio: 'pipe' });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function check(path: string): { status: number | null; out: string } {
  const result = spawnSync(checker, [path], { encoding: 'utf8' });
  return { status: result.status, out: `${result.stdout}${result.stderr}` };
}

/** A copy of the vector file with one record's field changed. */
function damaged(match: RegExp, change: (line: string) => string): { path: string; lineNumber: number } {
  const lines = readFileSync(VECTORS, 'utf8').split('\n');
  const index = lines.findIndex((l) => match.test(l));
  expect(index, `no line matches ${match}`).toBeGreaterThanOrEqual(0);
  const before = lines[index]!;
  lines[index] = change(before);
  expect(lines[index]).not.toBe(before);
  const path = join(dir, `damaged-${index}.txt`);
  writeFileSync(path, lines.join('\n'));
  return { path, lineNumber: index + 1 };
}

describe('the C control law', () => {
  it('reproduces every record of the committed vectors, over 500,000 long-run steps, and the self-test hash', () => {
    const { status, out } = check(VECTORS);
    expect(status, out).toBe(0);
    const hash = lawSelfTestHash().toString(16).padStart(8, '0');
    expect(out).toMatch(new RegExp(`^verified: 5 parameter sets, 10000 full steps, \\d+ edge steps, 500000 long steps \\(500 checkpoints\\), self-test hash ${hash}\\n$`));
  });

  it('fails on a command one millivolt off, naming the line, the step and both values', () => {
    const { path, lineNumber } = damaged(/^s 7 /, (l) => {
      const f = l.split(' ');
      f[5] = String(Number(f[5]) + 1);
      return f.join(' ');
    });
    const { status, out } = check(path);
    expect(status).toBe(1);
    expect(out).toMatch(new RegExp(`^FIRST DIFFERENCE at line ${lineNumber} \\(full, step 7\\), field command: file -?\\d+, C -?\\d+`));
  });

  it('fails on a long-run checkpoint whose chain differs', () => {
    const { path, lineNumber } = damaged(/^c 49999 /, (l) => l.replace(/^c 49999 ([0-9a-f])/, (_, d: string) => `c 49999 ${d === '0' ? '1' : '0'}`));
    const { status, out } = check(path);
    expect(status).toBe(1);
    expect(out).toMatch(new RegExp(`^FIRST DIFFERENCE at line ${lineNumber} \\(long, step 49999\\), field chain crc`));
  });

  it('refuses a truncated file rather than passing it', () => {
    const path = join(dir, 'truncated.txt');
    const text = readFileSync(VECTORS, 'utf8');
    writeFileSync(path, text.slice(0, Math.floor(text.length / 2)));
    const { status, out } = check(path);
    expect(status).toBe(2);
    expect(out).toMatch(/file ends inside a|no 'end' record|malformed/);
  });
});
