/**
 * The real runner in simulated time (issue 16, "one runner, real or simulated"): runRealtime's own
 * links, handshake, deadlines, quorum grace, episodes and recovery over seeded in-memory links, in
 * simulated time. Exact results: a run is a function of its options and its timing environment.
 */
import { describe, expect, it } from 'vitest';
import type { LoopOptions } from '../../src/loop/loop-model.js';
import { DEFAULT_LOOP_OPTIONS } from '../../src/sim/plants.js';
import { defaultQuorumGraceUs } from '../../src/runtime/realtime-runner.js';
import { checkSeedFullStack } from '../../src/sim/full-stack-campaign.js';
import { quietEnvironment, runFullStack, type TimingEnvironment } from '../../src/sim/full-stack.js';
import { runSimulation } from '../../src/sim/simulator.js';

const RATE_HZ = 200;
const BASE: LoopOptions = { ...DEFAULT_LOOP_OPTIONS, rateHz: RATE_HZ, ticks: 400, seed: 9 };
const REALTIME = { deadlineUs: 3_750, quorumGraceUs: defaultQuorumGraceUs(RATE_HZ), handshakeTimeoutMs: 2_000 };

function fullStack(options: LoopOptions, env: TimingEnvironment = quietEnvironment(options.replicaCount)) {
  return runFullStack({ ...options, ...REALTIME }, env);
}

describe('the full stack in simulated time', () => {
  it('on a quiet machine with no fault, its voted trace is the fast model\'s', async () => {
    const run = await fullStack(BASE);
    expect(run.ticks).toBe(400);
    expect(run.unsafeCommands).toBe(0);
    expect(run.votedTraceHash).toBe(runSimulation(BASE).votedTraceHash);
    // 400 ticks at 200 Hz is 2 s of loop, after the handshakes.
    expect(run.simulatedMs).toBeGreaterThan(2_000);
  });

  it.each(['crash', 'hang', 'wrong', 'babble', 'state', 'late'] as const)('a %s fault on one replica: the model\'s trace and the same exclusion', async (kind) => {
    const options = { ...BASE, injects: [{ kind, replicaIndex: 1, startTick: 100, durationTicks: 0 }] };
    const model = runSimulation(options);
    const run = await fullStack(options);
    expect(run.votedTraceHash).toBe(model.votedTraceHash);
    expect(run.replicas[1]).toMatchObject({ state: 'excluded', reason: model.replicas[1]!.reason, excludedTick: model.replicas[1]!.excludedTick });
  });

  it('every replica stopped for 200 ms (a machine-wide stall): ridden through, back to TMR, the model\'s trace with the same stall', async () => {
    const options = { ...BASE, stalls: [{ startTick: 150, durationTicks: 40 }] };
    const run = await fullStack(options);
    expect(run.replicas.map((r) => r.state)).toEqual(['inService', 'inService', 'inService']);
    expect(run.commonMode).toMatchObject({ episodes: 1, ridden: 1, lost: 0 });
    expect(run.finalMode).toBe('tmr');
    expect(run.votedTraceHash).toBe(runSimulation(options).votedTraceHash);
  });

  it('a stall past the common-mode limit is lost and every replica excluded; with --cold-restart the set comes back by itself, the model\'s trace', async () => {
    const stalled = { ...BASE, ticks: 800, commonModeLimitMs: 200, stalls: [{ startTick: 200, durationTicks: 100 }] };
    const cold = { ...stalled, recovery: { ...BASE.recovery, enabled: true, coldRestart: true } };
    const noCold = { ...stalled, recovery: { ...BASE.recovery, enabled: true } };
    const without = await fullStack(noCold);
    expect(without.finalMode).toBe('safe');
    expect(without.recovery).toMatchObject({ coldRestart: false, coldRestarts: 0 });
    const model = runSimulation(cold);
    const run = await fullStack(cold);
    expect(run.unsafeCommands).toBe(0);
    expect(run.recovery).toMatchObject({ coldRestart: true, coldRestarts: 1 });
    expect(run.finalMode).toBe('tmr');
    expect(run.modeHistory.map((m) => m.reason)).toContain('COLD_RESTART');
    expect(model.recovery).toMatchObject({ coldRestarts: 1 });
    expect(model.finalMode).toBe('tmr');
  });

  it('the same options and environment give the same run, bit for bit', async () => {
    const env: TimingEnvironment = {
      links: [0, 1, 2].map((i) => ({ delayMs: 0.2 + i * 0.1, jitterMs: 1.5, lossProbability: 1e-3, bitErrorProbability: 1e-3 })),
      hostStalls: [{ atMs: 1_200, durationMs: 40 }],
      replicaStalls: [{ replica: 2, atMs: 1_500, durationMs: 30 }],
      startMs: 40,
    };
    const options = { ...BASE, recovery: { ...BASE.recovery, enabled: true }, injects: [{ kind: 'crash' as const, replicaIndex: 0, startTick: 120, durationTicks: 0 }] };
    const a = await fullStack(options, env);
    const b = await fullStack(options, env);
    expect(a.unsafeCommands).toBe(0);
    expect(JSON.stringify({ ...b, timing: null })).toBe(JSON.stringify({ ...a, timing: null }));
  });
});

describe('tmr campaign --stack full', () => {
  it('30 seeds of single faults pass every invariant', async () => {
    for (let seed = 1; seed <= 30; seed++) {
      const result = await checkSeedFullStack(seed, 'single', 300);
      expect(result.violation, `seed ${seed}: ${result.schedule}; ${result.environment}; replay: npx tmr campaign --stack full --seed ${seed} --faults single --ticks 300 --trace -`).toBeNull();
    }
  }, 120_000);

  it('a broken deadline rule (test hook) is caught, and its seed replays the failure exactly', async () => {
    // The first seed, counting up, whose schedule silences a replica (a hang): the broken rule
    // waits for it as if the deadline were a thousand times later.
    let caught = null;
    for (let seed = 1; seed <= 200 && caught === null; seed++) {
      const result = await checkSeedFullStack(seed, 'single', 300, { testHookBrokenDeadline: true });
      if (!result.ok) caught = result;
    }
    expect(caught, 'no seed of 200 caught the broken deadline rule').not.toBeNull();
    expect(caught!.violation!.invariant).toBe('TICK_RHYTHM');
    const again = await checkSeedFullStack(caught!.seed, 'single', 300, { testHookBrokenDeadline: true });
    expect(again).toEqual(caught);
    // And without the hook the same seed passes.
    expect((await checkSeedFullStack(caught!.seed, 'single', 300)).violation).toBeNull();
  }, 120_000);
});

describe('tmr campaign --stack full (the compiled CLI)', () => {
  it('runs seeds on worker processes with the same verdicts and digest for any number of workers, and replays one seed', async () => {
    const { runCli, assertFreshBuild } = await import('../helpers/cli.js');
    assertFreshBuild();
    const one = await runCli(['campaign', '--stack', 'full', '--seeds', '40', '--workers', '1', '--json'], { timeoutMs: 120_000 });
    const two = await runCli(['campaign', '--stack', 'full', '--seeds', '40', '--workers', '2', '--json'], { timeoutMs: 120_000 });
    expect(one.code, one.stderr).toBe(0);
    expect(two.code, two.stderr).toBe(0);
    const a = JSON.parse(one.stdout) as { passed: number; digest: string; modelTraceChecked: number };
    const b = JSON.parse(two.stdout) as { passed: number; digest: string };
    expect(a.passed).toBe(40);
    expect(b.digest).toBe(a.digest);
    expect(a.modelTraceChecked).toBeGreaterThan(0);
    // 3,000 seeds take about 10 s on a quiet machine; the limit only guards against a hang, since
    // CI runs this beside two busy loops and the other test files (it once took over 120 s there).
    const many = await runCli(['campaign', '--stack', 'full', '--seeds', '3000', '--json'], { timeoutMs: 900_000 });
    expect(many.code, many.stdout.slice(0, 2_000)).toBe(0);
    expect((JSON.parse(many.stdout) as { passed: number }).passed).toBe(3000);
    const replay = await runCli(['campaign', '--stack', 'full', '--seed', '7', '--faults', 'single', '--ticks', '300', '--trace', '-'], { timeoutMs: 60_000 });
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout.trimEnd().split('\n')).toHaveLength(300);
    expect(replay.stderr).toMatch(/^seed 7 \(single, 300 ticks\): ok; schedule .*; timing .*; trace [0-9a-f]{8}\n$/);
  }, 1_500_000);
});
