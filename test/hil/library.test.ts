/**
 * The whole scenario library on simulated hardware, as CI runs it: in-process replicas, Node
 * processes, simulated boards on pseudo-terminals and our Uno firmware in the AVR emulator, with
 * pid-q16 on the motor plant and the tank law on its tank plant.
 * The JUnit file, JSON results and plots go to $TMR_HIL_OUT when set (CI keeps them), else to a
 * temporary folder that is removed afterwards.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ScenarioResult } from '../../hil/result.js';
import { assertFreshBuild, ROOT, runCli } from '../helpers/cli.js';

const keep = process.env.TMR_HIL_OUT;
const out = keep === undefined || keep === '' ? mkdtempSync(join(tmpdir(), 'tmr-hil-library-')) : resolve(keep);

beforeAll(() => assertFreshBuild());
afterAll(() => {
  if (keep === undefined || keep === '') rmSync(out, { recursive: true, force: true });
});

it('passes every scenario in hil/scenarios, with a JUnit file, a JSON result and a plot for each', async () => {
  const scenarios = readdirSync(join(ROOT, 'hil', 'scenarios')).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
  const run = await runCli(['hil', 'hil/scenarios', '--out', out], { timeoutMs: 9 * 60_000 });
  // On failure the FAIL lines (criterion, measured value, tick) and the replay commands say why.
  expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
  const junit = readFileSync(join(out, 'junit.xml'), 'utf8');
  expect(junit).toContain(`tests="${scenarios.length}" failures="0" errors="0"`);
  const files = readdirSync(out);
  for (const name of scenarios) {
    expect(files).toContain(`${name}.svg`);
    const result = JSON.parse(readFileSync(join(out, `${name}.json`), 'utf8')) as ScenarioResult;
    expect(result.verdict).toBe('pass');
    expect(result.counters.unsafeCommands).toBe(0);
    // The johnny-five path drives the motor only; another plant's own drives refuse nothing voted.
    if (result.plant === 'motor') expect(result.counters.actuatorReceivedNotVoted).toBe(0);
    else expect(result.counters.actuatorCommandsRejected).toBe(0);
    if (result.timeBase === 'simulated') expect(result.realTimeFactor).toBeGreaterThan(1);
  }
  const long = JSON.parse(readFileSync(join(out, 'long-run-1khz.json'), 'utf8')) as ScenarioResult;
  const tank = scenarios.filter((name) => name.startsWith('tank-'));
  expect(tank.length).toBeGreaterThanOrEqual(12);
  for (const name of tank) expect((JSON.parse(readFileSync(join(out, `${name}.json`), 'utf8')) as ScenarioResult).plant).toBe('tank');
  process.stdout.write(`hil library: ${scenarios.length} scenarios (${tank.length} on the tank law); 60 s at 1 kHz ran at ${long.realTimeFactor}× real time; output in ${out}\n`);
}, 10 * 60_000);
