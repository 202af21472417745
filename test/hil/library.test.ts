/**
 * The whole scenario library on simulated hardware, as CI runs it: in-process replicas, Node
 * processes, simulated boards on pseudo-terminals and our Uno firmware in the AVR emulator, with
 * pid-q16 on the motor plant and the tank law on its tank plant, in-process worlds and real I/O
 * through the simulated Firmata plant board (the firmata-* scenarios).
 * The JUnit file, JSON results and plots go to $TMR_HIL_OUT when set (CI keeps them), else to a
 * temporary folder that is removed afterwards.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runScenario } from '../../hil/bench.js';
import type { ScenarioResult } from '../../hil/result.js';
import { parseScenario } from '../../hil/scenario.js';
import { assertFreshBuild, ROOT, runCli } from '../helpers/cli.js';
import { processExists } from '../helpers/processes.js';

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
    // The johnny-five path drives the motor only; another plant's own drives refuse nothing voted;
    // real I/O read its sensors and wrote its actuators over Firmata, and the board took every action due.
    if (result.io !== undefined) {
      expect(result.counters.sensorSamples).toBeGreaterThan(0);
      expect(result.counters.actuatorWrites).toBeGreaterThan(0);
      for (const action of result.io.actions) expect(action.tick >= result.ticks || action.outcome === 'applied', `${name}: ${action.what}: ${action.outcome}`).toBe(true);
    } else if (result.plant === 'motor') expect(result.counters.actuatorReceivedNotVoted).toBe(0);
    else expect(result.counters.actuatorCommandsRejected).toBe(0);
    if (result.timeBase === 'simulated') expect(result.realTimeFactor).toBeGreaterThan(1);
  }
  const long = JSON.parse(readFileSync(join(out, 'long-run-1khz.json'), 'utf8')) as ScenarioResult;
  const tank = scenarios.filter((name) => name.startsWith('tank-'));
  expect(tank.length).toBeGreaterThanOrEqual(12);
  for (const name of tank) expect((JSON.parse(readFileSync(join(out, `${name}.json`), 'utf8')) as ScenarioResult).plant).toBe('tank');
  // Through the Firmata board, every plant: a stale sensor and a vanishing board end safe within their bounds, and the loss is recorded.
  const firmata = scenarios.filter((name) => name.startsWith('firmata-')).map((name) => JSON.parse(readFileSync(join(out, `${name}.json`), 'utf8')) as ScenarioResult);
  const toSafe: string[] = [];
  for (const plant of ['motor', 'tank']) {
    const ofPlant = firmata.filter((r) => r.plant === plant);
    expect(ofPlant.length, plant).toBeGreaterThanOrEqual(4);
    for (const kind of ['sensor-stale', 'board-vanishes']) {
      const r = ofPlant.find((x) => x.name === `firmata-${plant}-${kind}`)!;
      expect(r.killSwitch?.trigger, r.name).toBe('INPUT_FAULT');
      expect(r.counters.boardLost, r.name).toBe(kind === 'board-vanishes' ? 1 : 0);
      const criterion = r.criteria.find((c) => c.name.startsWith('inputFault'))!;
      toSafe.push(`${r.name} ${criterion.measured}/${criterion.bound} ticks`);
    }
  }
  process.stdout.write(`hil library: ${scenarios.length} scenarios (${tank.length} on the tank law, ${firmata.length} through the Firmata board: safe after ${toSafe.join(', ')}); 60 s at 1 kHz ran at ${long.realTimeFactor}× real time; output in ${out}\n`);
}, 10 * 60_000);

/** The board's PID and host link, as the result names them: "… ← simulated Firmata motor board (pid 123)". */
function boardOf(result: ScenarioResult): { pid: number; hostPath: string } {
  const match = /^firmata:(\S+)@\d+ .*\(pid (\d+)\)$/.exec(result.actuatorPath);
  expect(match, result.actuatorPath).not.toBeNull();
  return { hostPath: match![1]!, pid: Number(match![2]) };
}

it('stops the Firmata board and its link whatever becomes of the scenario: failed, or interrupted mid-run', async () => {
  const file = join(ROOT, 'hil', 'scenarios', 'firmata-motor-sensor-stale.json');
  const scenario = parseScenario(readFileSync(file, 'utf8'), file);
  // A bound the loop cannot meet: the hold alone takes 5 ticks, staleness 6 more.
  const strict = parseScenario(readFileSync(file, 'utf8').replace('"safeWithinTicks": 13', '"safeWithinTicks": 6'), file);
  const failed = await runScenario(strict);
  expect(failed.verdict).toBe('fail');
  expect(failed.criteria.find((c) => c.name.startsWith('inputFault'))?.passed).toBe(false);
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 500);
  const interrupted = await runScenario(scenario, { signal: controller.signal });
  expect(interrupted.verdict).toBe('error');
  for (const result of [failed, interrupted]) {
    const board = boardOf(result);
    expect(processExists(board.pid), `board pid ${board.pid}`).toBe(false);
    expect(existsSync(board.hostPath), board.hostPath).toBe(false);
  }
}, 120_000);
