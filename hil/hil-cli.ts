/**
 * `tmr hil <scenario files or folders> [--out DIR] [--junit FILE] [--firmata PATH[@BAUD]]`
 *
 * Reads and checks every scenario first (nothing starts if one is wrong), then runs them one
 * after another (real-time scenarios must not compete for the two cores), with a progress bar on
 * a terminal or one line per scenario otherwise. Writes per scenario `<out>/<name>.json` (the
 * whole result) and `<out>/<name>.svg` (the plot), and one JUnit file. Prints the verdict table.
 * Exit: 0 every scenario passed; 1 one failed or could not run; 2 bad usage or a bad scenario
 * file; 130 interrupted.
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { checkJsonShape, UsageError } from '../src/config/fields.js';
import { InputFileError, readInputText } from '../src/loop/input-file.js';
import { parseFirmataTarget } from './firmata-target.js';
import { FIRMATA_DEFAULTS, type ActuatorPathSpec } from './actuator-path.js';
import { runScenario } from './bench.js';
import { junitXml } from './report/junit.js';
import { renderPlotSvg } from './report/plot-svg.js';
import { formatRealTimeFactor } from './report/report-text.js';
import { formatVerdictTable } from './report/verdict-table.js';
import type { ScenarioResult } from './result.js';
import { parseScenario, SCENARIO_BYTES_MAX, ScenarioError, type Scenario } from './scenario.js';

export const HIL_USAGE = `usage: tmr hil <scenario files or folders> [--out DIR] [--junit FILE] [--firmata PATH[@BAUD]]
  --out DIR        where the JSON results and SVG plots go (default hil-results)
  --junit FILE     the JUnit XML file (default DIR/junit.xml)
  --firmata PATH   drive a Firmata board on PATH as well (StandardFirmata, default 57600 baud;
                   motor-plant scenarios only)`;

const SCENARIO_FILES_MAX = 1_000;
/** The options, for a one-line usage error. */
const HIL_OPTIONS = '--out DIR, --junit FILE, --firmata PATH[@BAUD]';
/** Scenarios named in the --firmata error when none runs the motor plant. */
const SCENARIOS_NAMED_MAX = 3;

interface HilArgs {
  readonly inputs: readonly string[];
  readonly outDir: string;
  readonly junitFile: string;
  readonly firmata: ActuatorPathSpec | null;
}

function parseArgs(argv: readonly string[]): HilArgs {
  const inputs: string[] = [];
  let outDir = 'hil-results';
  let junitFile: string | null = null;
  let firmata: ActuatorPathSpec | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`tmr hil: ${arg} needs a value (options: ${HIL_OPTIONS})`);
      return v;
    };
    if (arg === '--out') outDir = value();
    else if (arg === '--junit') junitFile = value();
    else if (arg === '--firmata') firmata = firmataSpec(value());
    else if (arg.startsWith('--')) throw new UsageError(`tmr hil: unknown option ${arg} (options: ${HIL_OPTIONS})`);
    else inputs.push(arg);
  }
  if (inputs.length === 0) throw new UsageError(`no scenario files or folders given\n${HIL_USAGE}`);
  return { inputs, outDir, junitFile: junitFile ?? join(outDir, 'junit.xml'), firmata };
}

function firmataSpec(text: string): ActuatorPathSpec {
  const { path, baudRate } = parseFirmataTarget(text, '--firmata');
  return { kind: 'firmata', path, baudRate, pwmRangeUs: FIRMATA_DEFAULTS.pwmRangeUs, readyTimeoutMs: FIRMATA_DEFAULTS.readyTimeoutMs };
}

/** Files named on the command line, and the *.json files directly inside folders, in name order. */
function scenarioFiles(inputs: readonly string[]): string[] {
  const files: string[] = [];
  for (const input of inputs) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(input).isDirectory();
    } catch {
      throw new UsageError(`${input}: no such file or folder`);
    }
    if (!isDirectory) files.push(input);
    else files.push(...readdirSync(input).filter((name) => name.endsWith('.json')).sort().map((name) => join(input, name)));
  }
  if (files.length === 0) throw new UsageError(`no scenario files (*.json) in ${inputs.join(', ')}`);
  if (files.length > SCENARIO_FILES_MAX) throw new UsageError(`${files.length} scenario files; at most ${SCENARIO_FILES_MAX} in one run`);
  return files;
}

/** Every file checked before anything runs; all problems reported, one line each. */
function loadScenarios(files: readonly string[]): Scenario[] {
  const problems: string[] = [];
  const scenarios: Scenario[] = [];
  const byName = new Map<string, string>();
  for (const file of files) {
    try {
      // A regular file of bounded size, checked before reading (a FIFO or a device is an error, not a hang),
      // its nesting and keys checked before JSON.parse recurses into it.
      const text = readInputText(file, 'scenario', SCENARIO_BYTES_MAX);
      checkJsonShape(text, file);
      const scenario = parseScenario(text, file);
      const other = byName.get(scenario.name);
      if (other !== undefined) throw new ScenarioError(file, 'name', `"${scenario.name}" is also the name of ${other} (names must be unique: they name the result files)`);
      byName.set(scenario.name, file);
      scenarios.push(scenario);
    } catch (error) {
      if (!(error instanceof ScenarioError || error instanceof InputFileError || error instanceof UsageError)) throw error;
      problems.push(error.message);
    }
  }
  if (problems.length > 0) throw new UsageError(problems.length === 1 ? (problems[0] as string) : `${problems.length} scenario files are wrong:\n  ${problems.join('\n  ')}`);
  return scenarios;
}

function progressBar(index: number, count: number, name: string, fraction: number): string {
  const width = 30;
  const overall = (index + Math.min(1, fraction)) / count;
  const filled = Math.round(overall * width);
  return `\r\x1b[K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${index + 1}/${count} ${name} ${Math.floor(fraction * 100)}%`;
}

/** At most one progress update every PROGRESS_PERIOD_MS: a terminal needs no more. */
const PROGRESS_PERIOD_MS = 100;

function throttled(update: (done: number) => void): (done: number) => void {
  let lastMs = 0;
  return (done) => {
    const nowMs = Date.now();
    if (nowMs - lastMs < PROGRESS_PERIOD_MS) return;
    lastMs = nowMs;
    update(done);
  };
}

function writeOutputs(args: HilArgs, result: ScenarioResult): void {
  writeFileSync(join(args.outDir, `${result.name}.json`), `${JSON.stringify(result)}\n`);
  writeFileSync(join(args.outDir, `${result.name}.svg`), renderPlotSvg(result));
}

/** --firmata drives the motor plant's servo: given with no scenario on that plant, it would do nothing. */
function refuseUnusedFirmata(args: HilArgs, scenarios: readonly Scenario[]): void {
  if (args.firmata === null || scenarios.some((s) => s.motor !== null)) return;
  const named = scenarios.slice(0, SCENARIOS_NAMED_MAX).map((s) => `${s.name}: plant ${s.plant.name}`);
  const more = scenarios.length > SCENARIOS_NAMED_MAX ? `, and ${scenarios.length - SCENARIOS_NAMED_MAX} more` : '';
  throw new UsageError(`--firmata drives the motor plant's servo; no scenario given runs it (${named.join(', ')}${more})`);
}

export async function runHil(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  const scenarios = loadScenarios(scenarioFiles(args.inputs));
  refuseUnusedFirmata(args, scenarios);
  try {
    mkdirSync(args.outDir, { recursive: true });
    mkdirSync(resolve(args.junitFile, '..'), { recursive: true });
  } catch (error) {
    throw new UsageError(`--out ${args.outDir}: cannot create (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  // Every signal, not the first alone: once removed, the next Ctrl-C took the default action and
  // killed the voter in the middle of a scenario's shutdown (issue 17, item 11). They stay until
  // the process exits (they do not keep it alive), through the reports too.
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', stop);
  const live = process.stderr.isTTY === true;
  const results: ScenarioResult[] = [];
  for (const [index, scenario] of scenarios.entries()) {
    if (controller.signal.aborted) break;
    if (args.firmata !== null && scenario.motor === null) {
      const why = scenario.io === null ? `this scenario runs plant ${scenario.plant.name}` : `this scenario's commands go through the simulated Firmata ${scenario.plant.name} board (io)`;
      process.stderr.write(`tmr hil: ${scenario.name}: --firmata not used (it drives the motor plant's servo; ${why})\n`);
    }
    if (live) process.stderr.write(progressBar(index, scenarios.length, scenario.name, 0));
    const result = await runScenario(scenario, {
      signal: controller.signal,
      ...(args.firmata === null ? {} : { actuatorPathOverride: args.firmata }),
      ...(live ? { onProgress: throttled((done: number) => process.stderr.write(progressBar(index, scenarios.length, scenario.name, done / scenario.ticks))) } : {}),
    });
    results.push(result);
    writeOutputs(args, result);
    const line = `[${index + 1}/${scenarios.length}] ${result.name}: ${result.verdict.toUpperCase()} in ${(result.wallMs / 1000).toFixed(1)} s (${formatRealTimeFactor(result.realTimeFactor)} real time)`;
    if (live) process.stderr.write(`\r\x1b[K${line}\n`);
    else process.stderr.write(`tmr hil: ${line}\n`);
    if (result.error !== null) process.stderr.write(`tmr hil: ${result.name}: ${result.error}\n`);
    for (const retry of result.retries ?? []) process.stderr.write(`tmr hil: ${result.name}: ran again after a timing hold: ${retry}\n`);
    // A Firmata board that is not there will not be there for the next scenario either.
    if (args.firmata !== null && result.error?.startsWith('ActuatorPathError') === true) {
      process.stderr.write(`tmr hil: stopping: the actuator path failed; ${scenarios.length - index - 1} scenarios not run\n`);
      break;
    }
  }
  writeFileSync(args.junitFile, junitXml(results, 'tmr hil'));
  process.stdout.write(`${formatVerdictTable(results)}\n`);
  // The table cuts long messages; every failure in full, one line each.
  for (const result of results) {
    for (const c of result.criteria) if (!c.passed) process.stdout.write(`FAIL ${result.name}: ${c.message}\n`);
    if (result.error !== null) process.stdout.write(`ERROR ${result.name}: ${result.error}\n`);
    if (result.verdict !== 'pass') process.stdout.write(`  replay: ${result.replayCommand}\n`);
  }
  process.stdout.write(`results and plots: ${args.outDir}/  JUnit: ${args.junitFile}\n`);
  if (controller.signal.aborted) return 130;
  return results.length === scenarios.length && results.every((r) => r.verdict === 'pass') ? 0 : 1;
}
