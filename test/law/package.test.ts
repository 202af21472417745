/**
 * A user outside the repository: tmr installed from a packed tarball into an empty directory, a
 * law written from the README alone (its code blocks, taken verbatim), run in the simulator and
 * checked against its C twin. What the README shows is what works.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertFreshBuild, ROOT } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tmr-package-'));
const app = join(dir, 'app');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The README's code block after `<!-- file: NAME -->` (or `<!-- commands -->`). */
function readmeBlock(marker: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(`<!-- ${marker} -->`);
  expect(at, `README has no block marked ${marker}`).toBeGreaterThanOrEqual(0);
  const match = /```[a-z]*\n([\s\S]*?)```/.exec(readme.slice(at));
  return match![1]!;
}

function run(command: string, args: readonly string[], timeoutMs = 120_000): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { cwd: app, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, npm_config_update_notifier: 'false' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('tmr from a packed tarball, a law from the README', () => {
  beforeAll(() => {
    assertFreshBuild();
    // The suite built dist/ already; packing must not rebuild it under the other tests' feet.
    execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: ROOT, stdio: 'ignore' });
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
    execFileSync('mkdir', [app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'my-plant-control', private: true, type: 'module' }));
    const install = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(dir, tarball)], 300_000);
    if (install.code !== 0) throw new Error(`npm install of the tarball failed: ${install.stderr.slice(-2000)}`);
    writeFileSync(join(app, 'my-law.ts'), readmeBlock('file: my-law.ts'));
    writeFileSync(join(app, 'my-law.js'), readmeBlock('file: my-law.ts'));
    writeFileSync(join(app, 'my-law.c'), readmeBlock('file: my-law.c'));
  }, 360_000);

  it('the README shows these three commands', () => {
    const commands = readmeBlock('commands');
    expect(commands).toContain('npx tmr law info ./my-law.ts');
    expect(commands).toContain('npx tmr sim --law ./my-law.js --inject wrong:1@500');
    expect(commands).toContain('npx tmr law check ./my-law.ts ./my-law.c');
  });

  it('the packed bin runs, with the extensions it ships (firmware-sim/, hil/) registered', () => {
    const result = run('npx', ['--no', 'tmr', 'help']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    for (const word of ['tmr run', 'sim-board[:OPTS]', 'avr-sim[:OPTS]', 'tmr hil FILES|DIRS', '--actuator firmata:PATH[@BAUD]']) expect(result.stdout).toContain(word);
    // Usage errors keep their exit code through the installed bin.
    const bad = run('npx', ['--no', 'tmr', 'run', '--replica', 'board']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^tmr: --replica 'board': unknown replica kind \(one of node, sim-board, avr-sim, serial:PATH@BAUD, tcp:HOST:PORT\)\n$/);
  });

  it('npx tmr law info ./my-law.ts prints the declaration', () => {
    const result = run('npx', ['--no', 'tmr', 'law', 'info', './my-law.ts']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^law heater version 1 /);
    expect(result.stdout).toContain('1 fanPercent [0, 100] %, safe 0, vote mid-value ±1');
  });

  it('npx tmr sim --law ./my-law.js runs three replicas of it and masks a wrong one', () => {
    const result = run('npx', ['--no', 'tmr', 'sim', '--law', './my-law.js', '--inject', 'wrong:1@500', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as { law: { name: string }; plant: string; unsafeCommands: number; faults: { reason: string | null }[]; commands: { voted: number } };
    expect(summary.law.name).toBe('heater');
    expect(summary.plant).toBe('room');
    expect(summary.unsafeCommands).toBe(0);
    expect(summary.faults[0]!.reason).toBe('OUTPUT_DISAGREE');
    expect(summary.commands.voted).toBe(2_000);
  });

  it('npx tmr law check ./my-law.ts ./my-law.c: the TypeScript and C laws agree', () => {
    const result = run('npx', ['--no', 'tmr', 'law', 'check', './my-law.ts', './my-law.c']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^law heater v1: TypeScript and C agree on 1000000 steps/);
  });

  it('and a C twin that differs is caught, naming the step', () => {
    writeFileSync(join(app, 'off-by-one.c'), readmeBlock('file: my-law.c').replace('fan > 100 ? 100', 'fan > 99 ? 99'));
    const result = run('npx', ['--no', 'tmr', 'law', 'check', './my-law.ts', './off-by-one.c']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^tmr law check: first difference at step \d+: /);
  });
});
