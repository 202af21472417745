/**
 * Soak (npm run soak): the timing claims of recovery with real processes and emulated boards, one
 * run each, no retry. A replica that keeps failing is put out for good after the restart limit
 * (only if the machine leaves the healthy replicas alone for the run); an emulated Uno is reset,
 * re-synchronised and re-admitted within 10 ticks, with the fault-free trace.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { formatSummary } from '../../src/cli/report.js';
import type { RealtimeSummary } from '../../src/runtime/realtime-runner.js';
import { assertFreshBuild, replicaFlags, TEST_HOOKS_ENV, tmrJson } from '../helpers/cli.js';
import { runAgainstSim } from '../helpers/fault-free-trace.js';

beforeAll(() => assertFreshBuild());

const PROBATION_TICKS = 50;

describe('restart limit (issue 6, item 2)', () => {
  it('a replica that crashes as soon as it is re-admitted is put out for good after the restart limit; the run goes on in duplex', async () => {
    // Crashes 50 ticks after each state transfer: the tick after its 50th agreeing probation tick.
    const args = ['run', '--recover', '--probation-ticks', '50', '--restart-limit', '3/5000', '--ticks', '1600', ...replicaFlags('node', 'node-test:crash-after-state=50', 'node'), '--inject', 'crash:1@200'];
    // One run. Under npm run soak the machine must leave the healthy replicas alone for 8 s.
    const run = await tmrJson<RealtimeSummary>(args, 60_000, TEST_HOOKS_ENV);
    expect(run.recovery!.records.filter((rec) => rec.replica !== 1), `a healthy replica was also excluded: tmr ${args.join(' ')}`).toEqual([]);
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
    expect(formatSummary(run, 'tmr run')).toMatch(/replica 1 \(pid \d+\): excluded at tick \d+: (LINK_DOWN|DEADLINE_MISSED) .*OUT FOR GOOD: RESTART_LIMIT/);
  }, 120_000);

});

describe('an emulated Uno is reset and re-admitted', () => {
  it('firmware crash (watchdog reboot): excluded, reset, re-synchronised, on probation, back in TMR; the fault-free trace', async () => {
    const args = ['--recover', '--rate-hz', '50', '--ticks', '500', '--seed', '4'];
    const { run, comparison } = await runAgainstSim(args, [...replicaFlags('avr-sim', 'avr-sim', 'avr-sim'), '--inject', 'crash:1@100'], { label: 'avr-sim recovery', runTmr: (a) => tmrJson<RealtimeSummary>(a, 120_000) });
    expect(comparison.identical, `the machine intervened at tick ${comparison.firstInterventionTick}`).toBe(true);
    expect(run.unsafeCommands).toBe(0);
    const record = run.recovery!.records[0]!;
    expect(record).toMatchObject({ replica: 1, outcome: 'readmitted' });
    expect(run.modeHistory.map((m) => m.mode)).toEqual(['tmr', 'duplex', 'tmr']);
    // Reset, boot (the firmware runs its 256-step law self-test), handshake and transfer: measured
    // 7 ticks (140 ms) at 50 Hz; bounded at 10. Then 50 ticks of probation.
    expect(record.probationTick! - record.excludedTick).toBeLessThanOrEqual(10);
    expect(record.readmittedTick! - record.probationTick!).toBe(PROBATION_TICKS);
  }, 180_000);
});
