/**
 * tmr as a user's program sees it: `import { createRuntime, type RuntimeEvents } from 'tmr'`
 * resolved through the package's exports map (a node_modules/tmr link to this package, built),
 * typechecked by tsc as a strict NodeNext project and run by node; the README's example too.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertFreshBuild, ROOT } from '../helpers/cli.js';

let dir: string;
beforeAll(() => {
  assertFreshBuild();
  dir = mkdtempSync(join(tmpdir(), 'tmr-user-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'tmr'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'user-app', type: 'module', private: true }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PROGRAM = `
import { createRuntime, ConfigError, type RuntimeEvents, type RuntimeSummary } from 'tmr';

const changes: RuntimeEvents['modeChange'][] = [];
const runtime = await createRuntime({ ticks: 1500, inject: ['wrong:1@300+100', 'crash:2@800'] }, { mode: 'simulation' });
runtime.on('modeChange', (e) => changes.push(e));
runtime.on('replicaExcluded', (e) => console.log(\`excluded \${e.replicaIndex} \${e.reason} at \${e.tick}\`));
const summary: RuntimeSummary = await runtime.start();
console.log(changes.map((c) => \`\${c.from}->\${c.to}@\${c.inForceFromTick}\`).join(' '));
console.log(summary.votedTraceHash);
try {
  await createRuntime({ rateHz: 0 });
} catch (error) {
  if (error instanceof ConfigError) console.log(error.message);
}
`;

describe("a program that imports 'tmr'", () => {
  it('typechecks under strict NodeNext against the exports map, and runs', () => {
    writeFileSync(join(dir, 'app.ts'), PROGRAM);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, exactOptionalPropertyTypes: true, outDir: 'out', skipLibCheck: true, types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')] },
        files: ['app.ts'],
      }),
    );
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    expect(tsc.status, `${tsc.stdout}${tsc.stderr}`).toBe(0);

    const run = spawnSync(process.execPath, [join(dir, 'out', 'app.js')], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^excluded 1 OUTPUT_DISAGREE at 30\d$/);
    expect(lines[1]).toMatch(/^excluded 2 \w+ at 8\d\d$/);
    expect(lines[2]).toMatch(/^tmr->duplex@30\d duplex->safe@8\d\d$/);
    expect(lines[3]).toMatch(/^[0-9a-f]{8}$/);
    expect(lines[4]).toBe('createRuntime: rateHz must be between 1 and 2000, got 0');
  });

  it('a type error in the use of the API is caught (the check is not vacuous)', () => {
    writeFileSync(join(dir, 'app.ts'), `import { createRuntime } from 'tmr';\nawait createRuntime({ rateHz: '200' });\n`);
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    expect(tsc.status).not.toBe(0);
    expect(tsc.stdout).toMatch(/app\.ts\(2,23\): error TS2322: Type 'string' is not assignable to type 'number'/);
  });

  it("the README's example (its Library section, verbatim) typechecks, runs and says what happened", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const at = readme.indexOf('<!-- file: embed.ts -->');
    expect(at).toBeGreaterThanOrEqual(0);
    writeFileSync(join(dir, 'app.ts'), /```ts\n([\s\S]*?)```/.exec(readme.slice(at))![1]!);
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    expect(tsc.status, `${tsc.stdout}${tsc.stderr}`).toBe(0);
    const run = spawnSync(process.execPath, [join(dir, 'out', 'app.js')], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^tick 70\d: replica 1 excluded: OUTPUT_DISAGREE\ntick 70\d: tmr -> duplex \(replica 1 OUTPUT_DISAGREE\)\n/);
    expect(run.stdout).toMatch(/: replica 1 back in the vote\n.*: duplex -> tmr /);
    expect(run.stdout).toMatch(/\ntick 25\d\d: replica 2 excluded: /);
    expect(run.stdout).toMatch(/\n4000 ticks, 0 unsafe commands, voted trace [0-9a-f]{8}\n$/);
  });
});
