/**
 * Acceptance of `tmr run` with real replica processes, driven through the compiled CLI exactly as
 * a user runs it. No timing assertions: outcomes are counted in ticks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { FAULT_KINDS } from '../../src/protocol/messages.js';
import type { RunSummary } from '../../src/runtime/loop-model.js';
import type { RealtimeSummary } from '../../src/runtime/realtime-runner.js';
import { assertFreshBuild, killTree, runCli, type CliResult } from '../helpers/cli.js';
import { runAgainstSim } from '../helpers/fault-free-trace.js';
import { timingFigureAtLeast } from '../helpers/timing-figure.js';

beforeAll(() => assertFreshBuild());

async function tmr(args: string[]): Promise<RunSummary> {
  const result = await runCli([...args, '--json'], { timeoutMs: 90_000 });
  const ready = args[0] === 'run' ? /^tmr run: \d of \d replicas ready \(pids [\d, ]+\); \d+ ticks at \d+ Hz\n$/ : /^$/;
  expect(result.stderr, `tmr ${args.join(' ')}`).toMatch(ready);
  expect(result.code, `tmr ${args.join(' ')}: ${result.stderr}`).toBe(0);
  return JSON.parse(result.stdout) as RunSummary;
}

/**
 * `tmr run` against `tmr sim` on the same options: the run's trace must be the simulation's, up to
 * the first tick the shared machine held a command (two replies late in one tick); a disturbed run
 * is repeated (test/helpers/fault-free-trace.ts). A difference with every reply on time fails.
 */
async function runMatchingSim(args: string[], label: string): Promise<{ run: RunSummary; identical: boolean }> {
  const { last, attempts } = await runAgainstSim(args, [], { attemptsMax: 3, label, runTmr: (a) => tmr(a) });
  return { run: last, identical: attempts[attempts.length - 1]!.comparison.identical };
}

describe('tmr run agrees with tmr sim tick for tick', () => {
  const common = ['--rate-hz', '100', '--ticks', '300', '--seed', '11'];

  it('with no fault', async () => {
    const { run, identical } = await runMatchingSim(common, 'no fault');
    if (identical) expect(run.votedTraceHash).toBe((await tmr(['sim', ...common])).votedTraceHash);
    expect(run.unsafeCommands).toBe(0);
    expect(run.ticks).toBe(300);
    expect(run.replicas.every((r) => r.state === 'inService')).toBe(true);
  });

  it.each(FAULT_KINDS)('with a %s fault on one replica process', async (kind) => {
    // The fault is masked: the simulation with it has the fault-free trace, and so has the run.
    const faultFree = await tmr(['sim', ...common]);
    expect((await tmr(['sim', ...common, '--inject', `${kind}:1@100`])).votedTraceHash).toBe(faultFree.votedTraceHash);
    const { run, identical } = await runMatchingSim([...common, '--inject', `${kind}:1@100`], `${kind} fault`);
    if (identical) expect(run.votedTraceHash, `run ${JSON.stringify(run.faults)}`).toBe(faultFree.votedTraceHash);
    expect(run.unsafeCommands).toBe(0);
    const fault = run.faults[0]!;
    expect(fault.detectedTick, `${kind} was not detected`).not.toBeNull();
    expect(fault.detectionLatencyTicks!).toBeLessThanOrEqual(kind === 'crash' || kind === 'hang' ? 2 : 3);
    expect(run.replicas[1]!.state).toBe('excluded');
  });
});

describe('tmr run agrees with tmr sim for another law', () => {
  // The tank law: three inputs, three outputs (a mid-value valve, an exact pump and alarm).
  const tank = ['--law', 'tank', '--rate-hz', '50', '--ticks', '300', '--seed', '11'];

  it('the tank law on three Node replica processes, one of them wrong', async () => {
    const faultFree = await tmr(['sim', ...tank]);
    expect(faultFree.law.name).toBe('tank');
    const { run, identical } = await runMatchingSim([...tank, '--inject', 'wrong:1@100'], 'tank, wrong fault');
    if (identical) expect(run.votedTraceHash).toBe(faultFree.votedTraceHash);
    expect(run.law).toEqual(faultFree.law);
    expect(run.unsafeCommands).toBe(0);
    expect(run.faults[0]!.reason).toBe('OUTPUT_DISAGREE');
    expect(run.faults[0]!.detectionLatencyTicks!).toBeLessThanOrEqual(3);
  });
});

describe('detection at 500 Hz', () => {
  const fast = ['--rate-hz', '500', '--ticks', '1500', '--seed', '5'];
  /** Runs tried when a stall took the victim out before the signal could reach it. */
  const PREMISE_ATTEMPTS_MAX = 3;

  it.each(['crash', 'hang'] as const)('an injected %s is excluded within 2 ticks of its first missed deadline', async (kind) => {
    const FAULT_TICK = 600;
    const args = ['run', ...fast, '--inject', `${kind}:2@${FAULT_TICK}`];
    // Premise: replica 2 is still in the vote when the fault is injected. A machine stall can take
    // it out earlier (LATE_REPLY before tick 600); then this run shows nothing about detection.
    const premiseFailed = (r: RunSummary): boolean => r.replicas[2]!.excludedTick !== null && r.replicas[2]!.excludedTick < FAULT_TICK;
    let run = await tmr(args);
    for (let n = 2; premiseFailed(run) && n <= PREMISE_ATTEMPTS_MAX; n++) {
      console.info(`500 Hz ${kind} run: replica 2 was out at tick ${run.replicas[2]!.excludedTick} (${run.replicas[2]!.reason}), before the fault; running again`);
      run = await tmr(args);
    }
    expect(premiseFailed(run), `in ${PREMISE_ATTEMPTS_MAX} runs replica 2 was always out before tick ${FAULT_TICK}: tmr ${args.join(' ')}`).toBe(false);
    const replica = run.replicas[2]!;
    expect(replica.state).toBe('excluded');
    expect(run.faults[0]!.detectedTick, `tmr ${args.join(' ')}: ${JSON.stringify(run.faults)}`).not.toBeNull();
    expect(run.faults[0]!.detectionLatencyTicks!).toBeLessThanOrEqual(2);
    if (replica.firstMissTick !== null) expect(replica.excludedTick! - replica.firstMissTick).toBeLessThanOrEqual(2);
    expect(run.unsafeCommands).toBe(0);
  });

  /**
   * One run in which a replica is signalled from outside 500 ms after the loop starts. `premiseFailed`:
   * the victim was gone before the signal (the runtime had already excluded and stopped it after a
   * machine stall), so this run cannot show how the signal is detected.
   */
  async function runSignalled(signal: 'SIGKILL' | 'SIGSTOP'): Promise<{ result: CliResult; victim: number | undefined; premiseFailed: boolean }> {
    let victim: number | undefined;
    let premiseFailed = false;
    const result = await runCli(['run', ...fast, '--json'], {
      timeoutMs: 60_000,
      onSpawn: (child) => {
        // Wait for the loop to start (its one stderr line), then stop a replica mid-run.
        let stderr = '';
        child.stderr!.on('data', (c: Buffer) => {
          stderr += c.toString();
          const ready = /replicas ready \(pids (\d+), (\d+), (\d+)\)/.exec(stderr);
          if (ready === null || victim !== undefined) return;
          victim = Number(ready[2]);
          setTimeout(() => {
            try {
              process.kill(victim!, signal);
            } catch {
              premiseFailed = true;
            }
          }, 500);
        });
      },
    });
    killTree(victim);
    return { result, victim, premiseFailed };
  }

  it.each(['SIGKILL', 'SIGSTOP'] as const)('a %s sent by a user from outside is detected the same way', async (signal) => {
    let attempt = await runSignalled(signal);
    for (let n = 2; attempt.premiseFailed && n <= PREMISE_ATTEMPTS_MAX; n++) {
      console.info(`500 Hz ${signal} run: replica ${attempt.victim} was already out before the signal (a machine stall); running again`);
      attempt = await runSignalled(signal);
    }
    expect(attempt.premiseFailed, `in ${PREMISE_ATTEMPTS_MAX} runs the victim was always gone before the signal`).toBe(false);
    const { result, victim } = attempt;
    expect(result.code, result.stderr).toBe(0);
    const run = JSON.parse(result.stdout) as RealtimeSummary;
    const victimIndex = run.replicaPids.indexOf(victim!);
    expect(victimIndex, `pid ${victim} not among ${JSON.stringify(run.replicaPids)}`).toBeGreaterThanOrEqual(0);
    const replica = run.replicas[victimIndex]!;
    expect(replica.state).toBe('excluded');
    expect(replica.reason).toMatch(signal === 'SIGKILL' ? /LINK_DOWN|DEADLINE_MISSED/ : /DEADLINE_MISSED/);
    if (replica.firstMissTick !== null) expect(replica.excludedTick! - replica.firstMissTick).toBeLessThanOrEqual(2);
    expect(run.unsafeCommands).toBe(0);
    // At 500 Hz a 2-core VM can still stall a healthy replica for three ticks; that is measured
    // and reported (npm run bench, the issue note), not asserted away here.
    const others = run.replicas.filter((r) => r.index !== victimIndex && r.state === 'excluded');
    if (others.length > 0) console.info(`500 Hz ${signal} run: healthy replicas also excluded: ${JSON.stringify(others)}`);
  });
});

describe('quorum grace (a late survivor in duplex)', () => {
  const args = ['--rate-hz', '100', '--ticks', '300', '--seed', '7', '--inject', 'crash:0@100', '--inject', 'late:1@200'];

  it('waits for the late reply: voted and counted late, excluded by the detector as LATE_REPLY, the simulation\'s trace', async () => {
    const sim = await tmr(['sim', ...args]);
    expect(sim.commands.held).toBe(0);
    const { run, identical } = await runMatchingSim(args, 'quorum grace');
    if (identical) expect(run.votedTraceHash).toBe(sim.votedTraceHash);
    const timing = (run as RealtimeSummary).timing;
    expect(timing.quorumGraceVoted, JSON.stringify(timing)).toBeGreaterThanOrEqual(1);
    expect(run.replicas[1]).toMatchObject({ state: 'excluded', reason: 'LATE_REPLY' });
    expect(run.faults[1]!.detectionLatencyTicks!).toBeLessThanOrEqual(3);
    expect(run.unsafeCommands).toBe(0);
  });

  it('without it (--quorum-grace-us 0) the same fault holds commands until the replica is out', async () => {
    const run = (await tmr(['run', ...args, '--quorum-grace-us', '0'])) as RealtimeSummary;
    // Whether the late replica's reply was still out at a tick with too few answers depends on the scheduler.
    timingFigureAtLeast('commands held without the grace', run.commands.held, 1, run.timing);
    expect(run.timing.quorumGraceTicks).toBe(0);
    expect(run.replicas[1]).toMatchObject({ state: 'excluded', reason: 'LATE_REPLY' });
    expect(run.unsafeCommands).toBe(0);
  });
});

describe('two faulty replicas', () => {
  it.each([
    ['wrong:1@100', 'wrong:2@100'],
    ['crash:0@100', 'hang:1@150'],
    ['stuck:0@120', 'state:2@120'],
  ])('%s + %s: the loop goes to the safe state and never commands a minority value', async (a, b) => {
    const args = ['--rate-hz', '100', '--ticks', '300', '--seed', '3', '--inject', a, '--inject', b];
    const run = await tmr(['run', ...args]);
    expect(run.unsafeCommands).toBe(0);
    expect(run.finalMode).toBe('safe');
    const safeAt = run.modeHistory.find((m) => m.mode === 'safe')!.tick;
    expect(safeAt).toBeLessThanOrEqual(Math.max(...run.faults.map((f) => f.injectedTick)) + 4);
    expect(run.commands.safe).toBeGreaterThan(100);
  });
});
