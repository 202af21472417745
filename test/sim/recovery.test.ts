/**
 * Recovery in the deterministic simulator: the same supervisor bookkeeping and core probation as
 * `tmr run`, with restarts taking a fixed simulated time. Exact tick counts, no wall clock.
 */
import { describe, expect, it } from 'vitest';
import type { FaultSpec, LoopOptions } from '../../src/loop/loop-model.js';
import { DEFAULT_LOOP_OPTIONS } from '../../src/sim/plants.js';
import { DEFAULT_RECOVERY, ticksForMs } from '../../src/loop/recovery.js';
import { runSimulation } from '../../src/sim/simulator.js';

const RECOVER: LoopOptions = { ...DEFAULT_LOOP_OPTIONS, ticks: 4_000, recovery: { ...DEFAULT_RECOVERY, enabled: true } };
const crash = (replicaIndex: number, startTick: number): FaultSpec => ({ kind: 'crash', replicaIndex, startTick, durationTicks: 0 });
const RESTART_TICKS = ticksForMs(DEFAULT_RECOVERY.simRestartMs, RECOVER.rateHz);
const P = DEFAULT_RECOVERY.probationTicks;

describe('recovery in simulation', () => {
  it('every fault kind: the replica is restarted, re-synchronised, re-admitted after exactly P ticks, and the voted trace is the fault-free one', () => {
    const faultFree = runSimulation({ ...RECOVER, recovery: DEFAULT_RECOVERY });
    const kinds = ['crash', 'hang', 'wrong', 'stuck', 'late', 'babble', 'state', 'bitflip'] as const;
    const injects = kinds.map((kind, k): FaultSpec => ({ kind, replicaIndex: k % 3, startTick: 200 + 450 * k, durationTicks: kind === 'crash' || kind === 'state' ? 0 : 100 }));
    const run = runSimulation({ ...RECOVER, injects });
    expect(run.votedTraceHash).toBe(faultFree.votedTraceHash);
    expect(run.unsafeCommands).toBe(0);
    const r = run.recovery!;
    expect(r.readmissions).toBe(kinds.length);
    for (const record of r.records) {
      expect(record.restartTick! - record.excludedTick).toBe(1);
      expect(record.probationTick! - record.restartTick!).toBe(RESTART_TICKS);
      // P agreeing ticks on probation, then counted in the vote from the next (readmittedTick).
      expect(record.readmittedTick! - record.probationTick!).toBe(P);
    }
    expect(r.recoveryTicksMax).toBe(1 + RESTART_TICKS + P);
    expect(run.replicas.every((x) => x.state === 'inService')).toBe(true);
    expect(run.finalMode).toBe('tmr');
  });

  it('a second crash while the first replica is still out: simplex policy climbs back duplex → tmr', () => {
    const run = runSimulation({ ...RECOVER, simplexPolicy: 'simplex', injects: [crash(1, 300), crash(2, 305)] });
    expect(run.modeHistory.map((m) => m.mode)).toEqual(['tmr', 'duplex', 'simplex', 'duplex', 'tmr']);
    expect(run.unsafeCommands).toBe(0);
  });

  it('with the safe policy and one replica left, nobody is re-synchronised from an unvoted state: the loop stays safe', () => {
    const run = runSimulation({ ...RECOVER, injects: [crash(1, 300), crash(2, 305)] });
    expect(run.finalMode).toBe('safe');
    expect(run.recovery!.readmissions).toBe(0);
    expect(run.recovery!.replicas.filter((x) => x.phase === 'ready')).toHaveLength(2);
  });

  it('repeated crashes right after re-admission: back-off doubles, then the replica is out for good (RESTART_LIMIT)', () => {
    const cycle = 1 + RESTART_TICKS + P;
    // Crash 2 ticks after each re-admission (a quick failure every time).
    const injects: FaultSpec[] = [crash(1, 100)];
    let at = 100;
    for (let k = 0; k < 3; k++) {
      at += cycle + 2 + (k === 0 ? 0 : ticksForMs(DEFAULT_RECOVERY.backoffMsBase, RECOVER.rateHz) * 2 ** (k - 1));
      injects.push(crash(1, at));
    }
    const run = runSimulation({ ...RECOVER, injects });
    const r = run.recovery!;
    const delays = r.records.filter((x) => x.restartTick !== null).map((x) => x.restartTick! - x.excludedTick);
    const base = ticksForMs(DEFAULT_RECOVERY.backoffMsBase, RECOVER.rateHz);
    expect(delays).toEqual([1, base, 2 * base]);
    expect(r.replicas[1]).toMatchObject({ phase: 'retired', retired: 'RESTART_LIMIT' });
    expect(run.finalMode).toBe('duplex');
    expect(run.unsafeCommands).toBe(0);
  });

  it('is a pure function of its options', () => {
    const options = { ...RECOVER, injects: [crash(0, 500), crash(2, 1500)] };
    expect(runSimulation(options)).toEqual(runSimulation(options));
  });
});
