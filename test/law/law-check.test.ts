/**
 * `tmr law check` as a user runs it: the shipped laws' TypeScript and C twins agree over a million
 * steps, and a C law with one arithmetic detail changed is caught at the first differing step.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertFreshBuild, ROOT, runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tmr-law-check-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(() => assertFreshBuild());

/** A copy of a shipped C law with one text replaced; fails the test if the text is not there. */
function mutant(law: string, from: string, to: string, name: string): string {
  const source = readFileSync(join(ROOT, 'src', 'laws', law, 'law.c'), 'utf8');
  expect(source).toContain(from);
  const path = join(dir, name);
  writeFileSync(path, source.replace(from, to));
  return path;
}

describe('tmr law check', () => {
  it.each(['pid-q16', 'tank'])('%s: the TypeScript and C laws agree on 1,000,000 steps', async (law) => {
    const result = await runCli(['law', 'check', law, '--json'], { timeoutMs: 120_000 });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { steps: number; parameterSets: number; transfers: number; passed: boolean };
    expect(report).toMatchObject({ steps: 1_000_000, passed: true });
    expect(report.parameterSets).toBeGreaterThan(10);
    expect(report.transfers).toBeGreaterThan(10);
  });

  it('pid-q16 with floor division turned into truncation fails at the first differing step', async () => {
    const path = mutant('pid-q16', 'return u >= 0 ? u / Q16_ONE : -((-u + (Q16_ONE - 1)) / Q16_ONE);', 'return u / Q16_ONE;', 'pid-truncating.c');
    const result = await runCli(['law', 'check', join(ROOT, 'src', 'laws', 'pid-q16', 'law.ts'), path], { timeoutMs: 120_000 });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^tmr law check: first difference at step \d+: inputs \[-?\d+, -?\d+\], parameters \[[-\d, ]+\], state before [0-9a-f]{20}; ts outputs \[-?\d+, -?\d+\] state [0-9a-f]{20}; c outputs \[-?\d+, -?\d+\] state [0-9a-f]{20}( \(and the self-test hashes differ: ts e9d7a0fc, c [0-9a-f]{8}\))?\n$/);
  });

  it('tank with one comparison of its pump hysteresis changed fails, naming the step', async () => {
    const path = mutant('tank', 'error <= s->pump_off_below_mm', 'error < s->pump_off_below_mm', 'tank-hysteresis.c');
    const result = await runCli(['law', 'check', join(ROOT, 'src', 'laws', 'tank', 'law.ts'), path], { timeoutMs: 120_000 });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^tmr law check: first difference at step \d+: inputs \[\d+, \d+, [01]\], parameters \[[\d, ]+\], state before [0-9a-f]{14}; ts outputs \[\d+, [01], [01]\] state [0-9a-f]{14}; c outputs \[\d+, [01], [01]\] state [0-9a-f]{14}\n$/);
    // The self-test's 256 steps never hit the changed comparison: the hashes agree, the million steps do not.
  });

  it('names a declaration that differs, field by field', async () => {
    const path = mutant('pid-q16', 'TMR_VOTE_MID_VALUE, 2}', 'TMR_VOTE_MID_VALUE, 3}', 'pid-tolerance.c');
    const result = await runCli(['law', 'check', join(ROOT, 'src', 'laws', 'pid-q16', 'law.ts'), path], { timeoutMs: 60_000 });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('tmr law check: the declarations differ: outputs[1].tolerance: ts 2, c 3\n');
  });

  it('says which file does not compile', async () => {
    const path = join(dir, 'broken.c');
    writeFileSync(path, 'int broken(void) { return x; }\n');
    const result = await runCli(['law', 'check', join(ROOT, 'src', 'laws', 'tank', 'law.ts'), path], { timeoutMs: 60_000 });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^tmr law check: .*broken\.c does not compile \(cc -std=c11 -O2 -Wall -Wextra -Wconversion -Werror\): .*error.*\n$/);
  });

  it('refuses usage it does not understand', async () => {
    expect((await runCli(['law', 'check', 'tank.ts'])).code).toBe(2);
    expect((await runCli(['law', 'frobnicate'])).stderr).toBe("tmr: tmr law needs info, check or vectors, got 'frobnicate'\n");
    expect((await runCli(['law', 'check', 'tank', '--steps', '0'])).stderr).toBe('tmr: --steps must be between 1 and 100000000, got 0\n');
  });
});
