/**
 * Acceptance of recovery (issue 6, items 2 and 3) with real processes and emulated boards, through
 * the compiled CLI as a user runs it: a replica that keeps failing is put out for good; a
 * corrupted state transfer is caught on probation and never counted; an emulated Uno is reset and
 * re-admitted. Recovery under fire (item 1) is a timing claim: test/soak/, npm run soak.
 */
import { shippedLaw } from '../../src/law/law-loader.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatSummary } from '../../src/cli/report.js';
import { readBlackBox } from '../../src/runtime/black-box.js';
import type { RealtimeSummary } from '../../src/runtime/realtime-runner.js';
import { replayBlackBox } from '../../src/runtime/replay.js';
import { assertFreshBuild, replicaFlags, tmrJson } from '../helpers/cli.js';
import { runAgainstSim } from '../helpers/fault-free-trace.js';

const dir = mkdtempSync(join(tmpdir(), 'tmr-recovery-'));
beforeAll(() => assertFreshBuild());
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PROBATION_TICKS = 50;

describe('restart limit and state transfer (issue 6, items 2 and 3)', () => {
  /** Runs tried when a machine stall also took out a healthy replica (a second fault, not this test's). */
  const PREMISE_ATTEMPTS_MAX = 3;

  it('a replica that crashes as soon as it is re-admitted is put out for good after the restart limit; the run goes on in duplex', async () => {
    // Crashes 50 ticks after each state transfer: the tick after its 50th agreeing probation tick.
    const args = ['run', '--recover', '--probation-ticks', '50', '--restart-limit', '3/5000', '--ticks', '1600', ...replicaFlags('node', 'node:crash-after-state=50', 'node'), '--inject', 'crash:1@200'];
    // Premise: only replica 1 fails. A machine stall that also takes out a healthy replica while
    // replica 1 is out is a second fault: the loop then goes to the (latched) safe state, nobody
    // can give replica 1 its state, and this run shows nothing about the restart limit. Run again.
    const othersFailed = (x: RealtimeSummary): boolean => x.recovery!.records.some((rec) => rec.replica !== 1);
    let run = await tmrJson<RealtimeSummary>(args, 60_000);
    for (let n = 2; othersFailed(run) && n <= PREMISE_ATTEMPTS_MAX; n++) {
      console.info(`restart-limit run: a healthy replica was also excluded (${JSON.stringify(run.recovery!.records.filter((rec) => rec.replica !== 1))}); running again`);
      run = await tmrJson<RealtimeSummary>(args, 60_000);
    }
    expect(othersFailed(run), `in ${PREMISE_ATTEMPTS_MAX} runs a healthy replica was always excluded too: tmr ${args.join(' ')}`).toBe(false);
    expect(run.unsafeCommands).toBe(0);
    const r = run.recovery!;
    expect(r.readmissions, 'it was re-admitted before it crashed again').toBeGreaterThanOrEqual(1);
    expect(r.replicas[1], `records: ${JSON.stringify(r.records)}; mode history ${JSON.stringify(run.modeHistory)}`).toMatchObject({ phase: 'retired', retired: 'RESTART_LIMIT', restarts: 3 });
    expect(r.replicas[1]!.detail).toMatch(/3 restarts within 1000 ticks \(the limit is 3\)/);
    expect(run.replicas[1]!.state).toBe('excluded');
    expect(run.finalMode).toBe('duplex');
    expect(run.commands.safe).toBe(0);
    // Each crash came right after a re-admission: the back-off grew.
    const restartDelays = r.records.filter((x) => x.restartTick !== null).map((x) => x.restartTick! - x.excludedTick);
    expect(restartDelays[0]).toBe(1);
    expect(Math.max(...restartDelays)).toBeGreaterThan(restartDelays[0]!);
    // The text summary of this same run (tmr run without --json prints formatSummary's text). A
    // second real-time run here could meet a stall of its own and prove nothing (seen in CI).
    expect(formatSummary(run, 'tmr run')).toMatch(/replica 1: excluded at tick \d+: LINK_DOWN .*OUT FOR GOOD: RESTART_LIMIT/);
  }, 120_000);

  it('a replica restarted with a corrupted state is caught on probation and never counted in a vote', async () => {
    const log = join(dir, 'corrupt.tmrlog');
    const run = await tmrJson<RealtimeSummary>(
      ['run', '--recover', '--ticks', '1200', ...replicaFlags('node', 'node:corrupt-state=1', 'node'), '--inject', 'crash:1@200', '--log', log],
      60_000,
    );
    expect(run.unsafeCommands).toBe(0);
    const r = run.recovery!;
    const probations = r.records.filter((x) => x.context === 'probation');
    expect(probations.length).toBeGreaterThanOrEqual(1);
    for (const p of probations) expect(p.reason).toBe('DIGEST_MISMATCH');
    expect(r.readmissions).toBe(0);
    expect(r.replicas[1]!.retired).toBe('RESTART_LIMIT');
    const contents = readBlackBox(log);
    const started = contents.ticks.filter((t) => t.events.some(([kind, replica]) => kind === 'probationStarted' && replica === 1));
    expect(started.length).toBe(3);
    // Caught at its first probation tick every time, and never in service again once it had been
    // given a state (the crash itself is seen when the process exit reaches the host: a tick later
    // on a busy machine).
    for (const t of started) expect(t.events).toContainEqual(['replicaExcluded', 1, 'DIGEST_MISMATCH']);
    expect(contents.ticks.filter((t) => t.tick >= started[0]!.tick && (t.inServiceMask & 0b010) !== 0)).toEqual([]);
    expect(replayBlackBox(contents, shippedLaw('pid-q16')).mismatchCount).toBe(0);
  }, 120_000);
});

describe('an emulated Uno is reset and re-admitted', () => {
  it('firmware crash (watchdog reboot): excluded, reset, re-synchronised, on probation, back in TMR; the fault-free trace', async () => {
    const args = ['--recover', '--rate-hz', '50', '--ticks', '500', '--seed', '4'];
    // One attempt: a held command (a late reply in duplex) must come after the trace matched the fault-free one.
    const { last: run } = await runAgainstSim(args, [...replicaFlags('avr-sim', 'avr-sim', 'avr-sim'), '--inject', 'crash:1@100'], { attemptsMax: 1, label: 'avr-sim recovery', runTmr: (a) => tmrJson<RealtimeSummary>(a, 120_000) });
    expect(run.unsafeCommands).toBe(0);
    const record = run.recovery!.records[0]!;
    expect(record).toMatchObject({ replica: 1, outcome: 'readmitted' });
    expect(run.modeHistory.map((m) => m.mode)).toEqual(['tmr', 'duplex', 'tmr']);
    // Reset, boot (the firmware runs its 256-step law self-test), handshake and transfer: measured
    // 7 ticks (140 ms) at 50 Hz; bounded at 10. Then 50 ticks of probation.
    expect(record.probationTick! - record.excludedTick).toBeLessThanOrEqual(10);
    expect(record.readmittedTick! - record.probationTick!).toBe(PROBATION_TICKS - 1);
  }, 180_000);
});
