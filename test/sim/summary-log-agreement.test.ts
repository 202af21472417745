/**
 * Issue 17, item 14: the summary and the black-box log tell one story of a run. The mode in force
 * at a tick is its step result's mode (the one the actuator's command was decided in, logged per
 * tick), and a replica is counted again from the first tick whose in-service mask holds it. A
 * change the core decides at the end of a tick (a detector's exclusion, a re-admission after
 * probation) is in force from the next tick: the summary used to date it by its event instead
 * (TMR "from tick 553" in the summary, duplex at 553 and TMR at 554 in the log).
 *
 * The summaries are checked against per-tick records: the log itself, read back with
 * `tmr log --jsonl`, for the command from the issue; the step results the black box writes its
 * records from, for the simulator and the full stack (the real-time runner in simulated time).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StepResult } from '../../src/core/tmr-core.js';
import type { FaultSpec, LoopModel, LoopOptions, RunSummary } from '../../src/loop/loop-model.js';
import { DEFAULT_RECOVERY } from '../../src/loop/recovery.js';
import { defaultQuorumGraceUs } from '../../src/runtime/realtime-runner.js';
import { quietEnvironment, runFullStack } from '../../src/sim/full-stack.js';
import { DEFAULT_LOOP_OPTIONS } from '../../src/sim/plants.js';
import { runSimulation } from '../../src/sim/simulator.js';
import { assertFreshBuild, runCli } from '../helpers/cli.js';

/** What the black box logs of each tick that matters here (TickRecord's fields of the same names). */
interface TickLine {
  readonly tick: number;
  readonly mode: string;
  readonly inServiceMask: number;
  readonly events: readonly (readonly [string, number, string])[];
}

/** The same fields from a step result, as BlackBoxWriter.writeTick takes them. */
function lineOf(result: StepResult): TickLine {
  return {
    tick: result.tick,
    mode: result.mode,
    inServiceMask: result.inServiceMask,
    events: result.events.map((e) => [e.kind, 'replicaIndex' in e ? e.replicaIndex : -1, ''] as const),
  };
}

/**
 * The summary's modes, exclusions, probations and re-admissions are the ticks' own: modeHistory is
 * exactly the ticks at which the logged mode changed; each re-admission is the first tick whose
 * in-service mask holds the replica again, and every such tick is a re-admission.
 */
function expectAgreement(summary: RunSummary, lines: readonly TickLine[]): void {
  expect(lines.length, 'one record per tick').toBe(summary.ticks);
  const at = (tick: number): TickLine => {
    const line = lines[tick - lines[0]!.tick];
    expect(line?.tick, `a record for tick ${tick}`).toBe(tick);
    return line!;
  };
  const logModes: { tick: number; mode: string }[] = [];
  for (const line of lines) if (logModes.at(-1)?.mode !== line.mode) logModes.push({ tick: line.tick, mode: line.mode });
  expect(summary.modeHistory.map(({ tick, mode }) => ({ tick, mode }))).toEqual(logModes);

  const records = summary.recovery?.records ?? [];
  const logJoins: string[] = [];
  for (let k = 1; k < lines.length; k++) {
    const joined = lines[k]!.inServiceMask & ~lines[k - 1]!.inServiceMask;
    for (let i = 0; i < summary.replicaCount; i++) if ((joined >> i) & 1) logJoins.push(`replica ${i} counted again at tick ${lines[k]!.tick}`);
  }
  const summaryJoins = records.filter((r) => r.readmittedTick !== null).map((r) => `replica ${r.replica} counted again at tick ${r.readmittedTick}`);
  expect(summaryJoins.sort()).toEqual(logJoins.sort());
  for (const r of records) {
    const has = (line: TickLine, kind: string): boolean => line.events.some(([k, replica]) => k === kind && replica === r.replica);
    expect(has(at(r.excludedTick), 'replicaExcluded'), `replica ${r.replica} excluded at ${r.excludedTick}`).toBe(true);
    if (r.probationTick !== null) expect(has(at(r.probationTick), 'probationStarted'), `replica ${r.replica} on probation at ${r.probationTick}`).toBe(true);
    if (r.readmittedTick === null) continue;
    // Re-admitted at the end of the tick before it (probation passed), or cold-started at it.
    expect(has(at(r.readmittedTick - 1), 'replicaReadmitted') || has(at(r.readmittedTick), 'coldStarted'), `replica ${r.replica} back at ${r.readmittedTick}`).toBe(true);
  }
}

describe('the summary agrees with the black-box log, tick for tick', () => {
  let dir = '';
  beforeAll(() => {
    assertFreshBuild();
    dir = mkdtempSync(join(tmpdir(), 'tmr-agree-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('tmr sim --seed 5 --ticks 700 --rate-hz 50 --recover --inject crash:1@500 (the issue\'s command): TMR again, and replica 1 counted again, from tick 554', async () => {
    const log = join(dir, 'x.bbx');
    const run = await runCli(['sim', '--seed', '5', '--ticks', '700', '--rate-hz', '50', '--recover', '--inject', 'crash:1@500', '--log', log, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as RunSummary;
    const read = await runCli(['log', log, '--jsonl']);
    expect(read.code, read.stderr).toBe(0);
    const lines = read.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as TickLine & { record: string })
      .filter((l) => l.record === 'tick');
    expectAgreement(summary, lines);
    // The tick of the re-admission event was still voted in duplex without replica 1.
    expect(lines[553]).toMatchObject({ mode: 'duplex', inServiceMask: 0b101 });
    expect(lines[554]).toMatchObject({ mode: 'tmr', inServiceMask: 0b111 });
    expect(summary.modeHistory.at(-1)).toEqual({ tick: 554, mode: 'tmr', reason: 'replica 1 READMITTED' });
    expect(summary.recovery!.records).toMatchObject([{ replica: 1, excludedTick: 500, probationTick: 504, readmittedTick: 554, outcome: 'readmitted' }]);
  });

  const RECOVER: LoopOptions = { ...DEFAULT_LOOP_OPTIONS, ticks: 4_000, recovery: { ...DEFAULT_RECOVERY, enabled: true } };
  const kinds = ['crash', 'hang', 'wrong', 'stuck', 'late', 'babble', 'state', 'bitflip'] as const;
  // Every kind, each excluded and re-admitted: exclusions at a tick's start (a link down) and at its end (the detector).
  const everyKind = kinds.map((kind, k): FaultSpec => ({ kind, replicaIndex: k % 3, startTick: 200 + 450 * k, durationTicks: kind === 'crash' || kind === 'state' ? 0 : 100 }));
  // Two out, one left under the simplex policy: TMR → duplex → simplex and back, one step at a time
  // (the first excluded by the detector at a tick's end, the second by its link at a tick's start).
  const twoOut: FaultSpec[] = [
    { kind: 'wrong', replicaIndex: 1, startTick: 300, durationTicks: 0 },
    { kind: 'crash', replicaIndex: 2, startTick: 305, durationTicks: 0 },
  ];
  // Every replica out in a lost stall, back together by a cold restart (counted again at the cold start's own tick).
  const cold: LoopOptions = {
    ...RECOVER,
    ticks: 1_200,
    commonModeLimitMs: 200,
    stalls: [{ startTick: 200, durationTicks: 100 }],
    recovery: { ...RECOVER.recovery, coldRestart: true },
  };

  it.each([
    ['every fault kind, recovered', { ...RECOVER, injects: everyKind }],
    ['two replicas out under the simplex policy, recovered', { ...RECOVER, simplexPolicy: 'simplex', injects: twoOut } as LoopOptions],
    ['a lost stall and a cold restart', cold],
  ])('tmr sim (the simulator): %s', (_, options) => {
    const lines: TickLine[] = [];
    const summary = runSimulation(options, { onTick: (_m: LoopModel, result) => lines.push(lineOf(result)) });
    expect(summary.recovery!.readmissions).toBeGreaterThan(0);
    expectAgreement(summary, lines);
  });

  it.each([
    ['a crash and a wrong output, recovered', { ...RECOVER, rateHz: 200, ticks: 1_500, injects: [everyKind[0]!, { ...everyKind[2]!, startTick: 700 }] }],
    ['a lost stall and a cold restart', { ...cold, rateHz: 200, ticks: 800 }],
  ])('the full stack (the real-time runner, simulated time): %s', async (_, options) => {
    const lines: TickLine[] = [];
    const summary = await runFullStack(
      { ...options, deadlineUs: 3_750, quorumGraceUs: defaultQuorumGraceUs(options.rateHz), handshakeTimeoutMs: 2_000 },
      quietEnvironment(options.replicaCount),
      { onTick: (_m, result) => lines.push(lineOf(result)) },
    );
    expect(summary.recovery!.readmissions).toBeGreaterThan(0);
    expectAgreement(summary, lines);
  });
});
