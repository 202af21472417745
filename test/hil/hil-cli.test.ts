import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PtyPair } from '../../firmware-sim/pty-pair.js';
import type { ScenarioResult } from '../../hil/result.js';
import { assertFreshBuild, runCli } from '../helpers/cli.js';

const FIXTURES = 'test/fixtures/hil';
const dirs: string[] = [];

function outDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tmr-hil-cli-'));
  dirs.push(dir);
  return dir;
}

beforeAll(() => assertFreshBuild());
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('tmr hil', () => {
  it('fails a scenario whose criterion cannot be met, naming the criterion, the value and the tick', async () => {
    const out = outDir();
    const run = await runCli(['hil', `${FIXTURES}/too-tight.json`, `${FIXTURES}/small-pass.json`, '--out', out, '--junit', join(out, 'report.xml')]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/too-tight\s+FAIL/);
    expect(run.stdout).toMatch(/small-pass\s+PASS/);
    expect(run.stdout).toMatch(/^FAIL too-tight: trackingError\.maxAbsMilliDeg: \|setpoint − position\| reached \d+ m° at tick \d+, \d+ m° over the bound 500 m°/m);
    expect(run.stdout).toContain(`replay: npx tmr hil ${FIXTURES}/too-tight.json`);
    expect(run.stdout).toContain('1 passed, 1 failed');
    const junit = readFileSync(join(out, 'report.xml'), 'utf8');
    expect(junit).toMatch(/<testsuite [^>]*tests="2" failures="1" errors="0"/);
    expect(junit).toMatch(/<failure message="trackingError\.maxAbsMilliDeg: [^"]*reached \d+ m° at tick \d+[^"]*"/);
    expect(readdirSync(out).sort()).toEqual(['report.xml', 'small-pass.json', 'small-pass.svg', 'too-tight.json', 'too-tight.svg']);
    const plot = readFileSync(join(out, 'small-pass.svg'), 'utf8');
    expect(plot).toContain('wrong → r2');
    expect(plot).toContain('r2 out: OUTPUT_DISAGREE');
    expect(plot).toContain('position (true shaft)');
    const result = JSON.parse(readFileSync(join(out, 'too-tight.json'), 'utf8')) as ScenarioResult;
    expect(result.verdict).toBe('fail');
    expect(result.series.inputs.map((c) => [c.name, c.values.length])).toEqual([['setpointMilliDeg', 300], ['positionMilliDeg', 300]]);
  });

  it('passes, with exit code 0, when every scenario passes', async () => {
    const out = outDir();
    const run = await runCli(['hil', `${FIXTURES}/small-pass.json`, '--out', out]);
    expect(run.code).toBe(0);
    expect(existsSync(join(out, 'junit.xml'))).toBe(true);
    expect(run.stderr).toMatch(/^tmr hil: \[1\/1\] small-pass: PASS in [\d.]+ s \(×[\d.]+ real time\)$/m);
  });

  it('runs a scenario on another law and plant (the tank), with its channels in the result and the plot', async () => {
    const out = outDir();
    const run = await runCli(['hil', `${FIXTURES}/tank-small.json`, '--out', out]);
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).toMatch(/tank-small\s+PASS/);
    const result = JSON.parse(readFileSync(join(out, 'tank-small.json'), 'utf8')) as ScenarioResult;
    expect([result.law.name, result.plant]).toEqual(['tank', 'tank']);
    expect(result.series.outputs.map((c) => c.name)).toEqual(['valvePermille', 'pumpOn', 'alarm']);
    const plot = readFileSync(join(out, 'tank-small.svg'), 'utf8');
    for (const text of ['levelMm (mm)', 'valvePermille (permille)', 'law tank v1 on plant tank', 'wrong → r1']) expect(plot).toContain(text);
  });

  it('leaves --firmata out of a scenario on another plant (it drives the motor\'s servo), and says so', async () => {
    // With no scenario on the motor plant --firmata is refused (test/cli/options-hardening.test.ts); beside one, it is used there only.
    const out = outDir();
    const run = await runCli(['hil', `${FIXTURES}/tank-small.json`, `${FIXTURES}/small-pass.json`, '--out', out, '--firmata', '/dev/tmr-no-such-port']);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain("tmr hil: tank-small: --firmata not used (it drives the motor plant's servo; this scenario runs plant tank)");
    expect(run.stdout).toMatch(/^ERROR small-pass: ActuatorPathError/m);
    const result = JSON.parse(readFileSync(join(out, 'tank-small.json'), 'utf8')) as ScenarioResult;
    expect(result.actuatorPath).toBe("plant tank: its module's own world (no johnny-five path)");
  });

  it('refuses a malformed scenario before anything starts, naming the file and the field', async () => {
    const out = join(outDir(), 'never');
    const run = await runCli(['hil', `${FIXTURES}/small-pass.json`, `${FIXTURES}/bad-replica.json`, '--out', out]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(`tmr: ${FIXTURES}/bad-replica.json: faults[0].replica: replica 3 does not exist (replicas has 3 entries, 0..2)`);
    expect(existsSync(out)).toBe(false);
    expect(run.stdout).toBe('');
  });

  it('says how to use it when given nothing to run', async () => {
    const run = await runCli(['hil']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('no scenario files or folders given');
    expect(run.stderr).toContain('usage: tmr hil');
  });

  describe('with --firmata pointed at a pty with no board behind it', () => {
    let pair: PtyPair | null = null;
    afterAll(async () => {
      await pair?.stop();
    });

    it('stops with a clear timeout message and a non-zero exit code, without hanging', async () => {
      pair = await PtyPair.open({ name: 'hil-no-firmata' });
      const out = outDir();
      const run = await runCli(['hil', `${FIXTURES}/small-pass.json`, `${FIXTURES}/too-tight.json`, '--out', out, '--firmata', pair.hostPath], { timeoutMs: 30_000 });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`actuator firmata:${pair.hostPath} (57600 baud): no board answered within 5000 ms: no Firmata version report`);
      expect(run.stderr).toContain('stopping: the actuator path failed; 1 scenarios not run');
      expect(run.stdout).toMatch(/small-pass\s+ERROR/);
      expect(readFileSync(join(out, 'junit.xml'), 'utf8')).toMatch(/<error message="ActuatorPathError: actuator firmata:/);
    });
  });
});
