/**
 * Each shipped law's C twin, built with the host's C compiler through the law SDK exactly as the Uno
 * firmware links it (boards/uno/test/check_vectors.c, warnings as errors), against test vectors its
 * TypeScript twin writes (`tmr law vectors`): every output, every state byte, a state transfer at
 * every step and the self-test hash. The checker is also fed damaged copies to show it fails,
 * naming the first difference, and refuses truncated files.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeVectors } from '../../src/cli/law-cli.js';
import { shippedLaw, shippedLawSources, SHIPPED_LAWS, type ShippedLawName } from '../../src/law/law-loader.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BOARD = join(ROOT, 'boards', 'uno');
/** Ten parameter sets of 1,000 steps each (law-cli's episodes). */
const STEPS = 10_000;
const SEED = 0x5eed;

let dir = '';
const checkers = new Map<ShippedLawName, string>();
const vectors = new Map<ShippedLawName, string>();

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tmr-c-law-'));
  for (const name of SHIPPED_LAWS) {
    const build = join(dir, name);
    execFileSync('make', ['-s', '-C', BOARD, `BUILD=${build}`, `LAW=${shippedLawSources(name).c}`, `${build}/check_vectors`], { stdio: 'pipe' });
    checkers.set(name, join(build, 'check_vectors'));
    const lines: string[] = [];
    writeVectors(shippedLaw(name), STEPS, SEED, (text) => lines.push(text));
    const path = join(dir, `${name}.txt`);
    writeFileSync(path, lines.join(''));
    vectors.set(name, path);
  }
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function check(law: ShippedLawName, path: string, steps?: number): { status: number | null; out: string } {
  const result = spawnSync(checkers.get(law)!, steps === undefined ? [path] : [path, String(steps)], { encoding: 'utf8' });
  return { status: result.status, out: `${result.stdout}${result.stderr}` };
}

/** A copy of a law's vectors with the first line matching `match` changed. */
function damaged(law: ShippedLawName, match: RegExp, change: (line: string) => string): { path: string; lineNumber: number } {
  const lines = readFileSync(vectors.get(law)!, 'utf8').split('\n');
  const index = lines.findIndex((l) => match.test(l));
  expect(index, `no line matches ${match}`).toBeGreaterThanOrEqual(0);
  const before = lines[index]!;
  lines[index] = change(before);
  expect(lines[index]).not.toBe(before);
  const path = join(dir, `${law}-damaged-${index}.txt`);
  writeFileSync(path, lines.join('\n'));
  return { path, lineNumber: index + 1 };
}

/** The 1-based line number of the step record number `step` (0-based) in a vector file. */
function stepLine(law: ShippedLawName, step: number): number {
  const lines = readFileSync(vectors.get(law)!, 'utf8').split('\n');
  let seen = -1;
  const index = lines.findIndex((l) => l.startsWith('step ') && ++seen === step);
  return index + 1;
}

describe.each(SHIPPED_LAWS)('the C law %s through the SDK', (name) => {
  it(`reproduces ${STEPS} steps of its TypeScript twin's vectors (outputs, state bytes, state transfers) and its self-test hash`, () => {
    const law = shippedLaw(name);
    const { status, out } = check(name, vectors.get(name)!, STEPS);
    expect(status, out).toBe(0);
    const hash = law.selfTestHash.toString(16).padStart(8, '0');
    expect(out).toBe(`verified: law ${name} v${law.version}, 10 parameter sets, ${STEPS} steps (outputs, state bytes, state transfers), self-test hash ${hash}\n`);
  });

  it('fails on output 0 one count off, naming the line, the step, the channel and both values', () => {
    const law = shippedLaw(name);
    // Step 7's first output, moved by one within the channel's range.
    const target = stepLine(name, 7);
    const lines = readFileSync(vectors.get(name)!, 'utf8').split('\n');
    const fields = lines[target - 1]!.split(' ');
    const at = fields.indexOf('->') + 1;
    const value = Number(fields[at]);
    fields[at] = String(value === law.definition.outputs[0]!.max ? value - 1 : value + 1);
    lines[target - 1] = fields.join(' ');
    const copy = join(dir, `${name}-output.txt`);
    writeFileSync(copy, lines.join('\n'));
    const { status, out } = check(name, copy);
    expect(status).toBe(1);
    expect(out).toMatch(new RegExp(`^FIRST DIFFERENCE at line ${target} \\(step 7\\), field output 0 \\(${law.definition.outputs[0]!.name}\\): file -?\\d+, C -?\\d+\\n$`));
  });

  it('fails on one state byte changed', () => {
    const target = stepLine(name, 1234);
    const lines = readFileSync(vectors.get(name)!, 'utf8').split('\n');
    lines[target - 1] = lines[target - 1]!.replace(/state ([0-9a-f]{2})/, (_, b: string) => `state ${(parseInt(b, 16) ^ 0x80).toString(16).padStart(2, '0')}`);
    const copy = join(dir, `${name}-state.txt`);
    writeFileSync(copy, lines.join('\n'));
    const { status, out } = check(name, copy);
    expect(status).toBe(1);
    expect(out).toMatch(new RegExp(`^FIRST DIFFERENCE at line ${target} \\(step 1234\\), field state: byte 0: file [0-9a-f]{2}, C [0-9a-f]{2}`));
  });

  it('fails on another self-test hash', () => {
    const { path } = damaged(name, /^law /, (l) => l.replace(/ ([0-9a-f])([0-9a-f]{7})$/, (_, d: string, rest: string) => ` ${d === '0' ? '1' : '0'}${rest}`));
    const { status, out } = check(name, path);
    expect(status).toBe(1);
    expect(out).toMatch(/^FIRST DIFFERENCE at line 2 \(step 0\), field self-test hash: file [0-9a-f]{8}, C [0-9a-f]{8}\n$/);
  });

  it('refuses a file cut at a line boundary (given the step count) or inside a line', () => {
    const text = readFileSync(vectors.get(name)!, 'utf8');
    const atLine = join(dir, `${name}-cut-line.txt`);
    writeFileSync(atLine, text.slice(0, text.lastIndexOf('\n', text.length / 2) + 1));
    const cutLine = check(name, atLine, STEPS);
    expect(cutLine.status).toBe(2);
    expect(cutLine.out).toMatch(/holds \d+ steps, expected 10000 \(truncated\?\)/);
    const inside = join(dir, `${name}-cut-inside.txt`);
    writeFileSync(inside, text.slice(0, Math.floor(text.length / 2)).replace(/\n[^\n]*$/, '\nstep 1 2'));
    const cutInside = check(name, inside);
    expect(cutInside.status).toBe(2);
    expect(cutInside.out).toMatch(/ends inside a line/);
  });
});

it("refuses another law's vectors, naming both", () => {
  const { status, out } = check('pid-q16', vectors.get('tank')!);
  expect(status).toBe(1);
  expect(out).toMatch(/^FIRST DIFFERENCE at line 2 \(step 0\), field law: file tank v1, C pid-q16 v2\n$/);
});
