/**
 * Fault campaigns: the CI campaign (2,000 seeds each of single, double and mixed), determinism across worker
 * counts, a deliberately broken voter that the checkers must catch and whose replay reproduces the
 * failure, and usage errors. The CLI tests run the compiled `tmr` (npm run build first).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { checkSeed, drawSchedule, livenessBoundTick, safeBoundTick, scheduleText } from '../../src/sim/campaign.js';
import { runCampaign } from '../../src/sim/campaign-runner.js';
import { assertFreshBuild, childPids, runCli } from '../helpers/cli.js';
import { processExists } from '../helpers/processes.js';

interface Report {
  seeds: number;
  passed: number;
  failed: number;
  failures: { seed: number; violation: { invariant: string; tick: number } }[];
  safeBoundChecked: number;
  livenessChecked: number;
  probationHits: number;
  digest: string;
  results: { seed: number; ok: boolean; traceHash: string }[] | null;
  timing: { wallMs: number; workers: number; seedsPerSecond: number };
}

/** Generous: the unit suite runs two files at once on two cores while a campaign wants both. */
const CAMPAIGN_TIMEOUT_MS = 240_000;

async function campaignJson(args: readonly string[], expectedCode = 0): Promise<Report> {
  const result = await runCli(['campaign', ...args, '--json'], { timeoutMs: CAMPAIGN_TIMEOUT_MS });
  if (result.code !== expectedCode) throw new Error(`tmr campaign ${args.join(' ')}: exit ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as Report;
}

describe('campaign schedules and checks (in-process)', () => {
  it('a seed always draws the same schedule and gives the same result and trace hash', () => {
    for (const faults of ['single', 'double', 'mixed'] as const) {
      const ticks = faults === 'mixed' ? 3_000 : 1_000;
      for (const seed of [0, 1, 77, 4_294_967_295]) {
        expect(drawSchedule(seed, faults, ticks)).toEqual(drawSchedule(seed, faults, ticks));
        expect(checkSeed(seed, faults, ticks)).toEqual(checkSeed(seed, faults, ticks));
      }
    }
  });

  it('schedules differ between seeds and stay inside the run', () => {
    const texts = new Set<string>();
    for (let seed = 1; seed <= 200; seed++) {
      const options = drawSchedule(seed, 'double', 1_000);
      texts.add(scheduleText(options.injects));
      for (const f of options.injects) expect(f.startTick).toBeLessThan(1_000);
      expect(new Set(options.injects.map((f) => f.replicaIndex)).size).toBeLessThanOrEqual(2);
    }
    expect(texts.size).toBeGreaterThan(190);
  });

  it('every mixed schedule leaves room for the healing bound, so liveness is checked on every mixed seed', () => {
    for (let seed = 1; seed <= 200; seed++) expect(livenessBoundTick(drawSchedule(seed, 'mixed', 3_000))).not.toBeNull();
  });

  it('the safe-state bound is second fault start + quorumLossTicksMax, and only for two persistent visible faults', () => {
    const base = drawSchedule(1, 'double', 1_000);
    const options = {
      ...base,
      simplexPolicy: 'safe' as const,
      recovery: { ...base.recovery, enabled: false },
      injects: [
        { kind: 'hang' as const, replicaIndex: 0, startTick: 100, durationTicks: 0 },
        { kind: 'wrong' as const, replicaIndex: 2, startTick: 130, durationTicks: 0 },
      ],
    };
    expect(safeBoundTick(options)).toBe(130 + options.quorumLossTicksMax);
    expect(safeBoundTick({ ...options, injects: [options.injects[0]!, { ...options.injects[1]!, kind: 'stuck' }] })).toBeNull();
    expect(safeBoundTick({ ...options, simplexPolicy: 'simplex' })).toBeNull();
    expect(safeBoundTick({ ...options, injects: [options.injects[0]!, { ...options.injects[1]!, durationTicks: 50 }] })).toBeNull();
  });

  it('the broken voter (test hook) is caught in-process: a fault on replica 0 makes a seed fail', () => {
    let failures = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const r = checkSeed(seed, 'single', 1_000, { testHookBrokenVoter: true });
      if (!r.ok) {
        failures++;
        expect(r.schedule).toMatch(/:0@/);
      }
    }
    expect(failures).toBeGreaterThan(0);
  });
});

describe('a broken voter (test hook) against the campaign (programmatic)', () => {
  it('fails --faults single with a seed whose replay reproduces the violation at the same tick', async () => {
    // The campaign as `tmr campaign --seeds 100 --faults single` runs it, with the hook swapped in
    // (on one worker: in this process, where the hook can be given).
    const report = await runCampaign({ from: 1, seeds: 100, faults: 'single', ticks: 1_000, workers: 1, testHookBrokenVoter: true });
    expect(report.failed).toBeGreaterThan(0);
    const { seed, violation } = report.failures[0]!;
    expect(violation).not.toBeNull();
    const { invariant, tick } = violation!;
    // Replaying that seed (as `tmr campaign --seed S --trace -` does) reproduces it exactly.
    const trace: string[] = [];
    const replay = checkSeed(seed, 'single', 1_000, { testHookBrokenVoter: true, onTraceLine: (line) => trace.push(line) });
    expect(replay.ok).toBe(false);
    expect(replay.violation).toMatchObject({ invariant, tick });
    expect(replay).toEqual(report.failures[0]);
    expect(trace).toHaveLength(1_000);
    expect(trace[tick]).toMatch(new RegExp(`^${tick} `));
    // Without the hook the same seed passes: the failure is the voter's, not the schedule's.
    expect(checkSeed(seed, 'single', 1_000).ok).toBe(true);
  }, CAMPAIGN_TIMEOUT_MS);
});

describe('tmr campaign (the compiled CLI)', () => {
  beforeAll(() => assertFreshBuild());

  it('CI campaign: 2000 seeds of single faults pass', async () => {
    const report = await campaignJson(['--seeds', '2000', '--faults', 'single']);
    expect(report).toMatchObject({ seeds: 2000, passed: 2000, failed: 0, failures: [] });
    expect(report.livenessChecked).toBeGreaterThan(100);
    expect(report.probationHits).toBeGreaterThan(100);
  }, CAMPAIGN_TIMEOUT_MS);

  it('CI campaign: 2000 seeds of double faults pass', async () => {
    const report = await campaignJson(['--seeds', '2000', '--faults', 'double']);
    expect(report).toMatchObject({ seeds: 2000, passed: 2000, failed: 0, failures: [] });
    expect(report.safeBoundChecked).toBeGreaterThan(200);
  }, CAMPAIGN_TIMEOUT_MS);

  it('CI campaign: 2000 seeds of mixed faults with recovery pass, liveness after healing checked on every one', async () => {
    const report = await campaignJson(['--seeds', '2000', '--faults', 'mixed']);
    expect(report).toMatchObject({ seeds: 2000, passed: 2000, failed: 0, failures: [] });
    expect(report.livenessChecked).toBe(2000);
    expect(report.probationHits).toBeGreaterThan(1000);
  }, CAMPAIGN_TIMEOUT_MS);

  // The tank law: three inputs, three outputs, a mid-value valve among exact discretes. The same
  // invariants, with LAW_COMMAND allowing a mid-value channel its tolerance.
  it.each(['single', 'double', 'mixed'])('CI campaign, tank law: 2000 seeds of %s faults pass', async (faults) => {
    const report = await campaignJson(['--seeds', '2000', '--faults', faults, '--law', 'tank']);
    expect(report).toMatchObject({ seeds: 2000, passed: 2000, failed: 0, failures: [] });
    if (faults === 'double') expect(report.safeBoundChecked).toBeGreaterThan(200);
    if (faults === 'mixed') expect(report.livenessChecked).toBe(2000);
  }, CAMPAIGN_TIMEOUT_MS);

  it('the same seeds give the same results, digest and per-tick traces with 1, 2 and 5 workers', async () => {
    const args = ['--seeds', '60', '--from', '500', '--faults', 'mixed'];
    const one = await campaignJson([...args, '--workers', '1']);
    const two = await campaignJson([...args, '--workers', '2']);
    // More workers than cores (and than batches in flight at once): still the same report.
    const five = await campaignJson([...args, '--workers', '5']);
    expect(one.timing.workers).toBe(1);
    expect(two.timing.workers).toBe(2);
    expect(five.timing.workers).toBe(5);
    const { timing: _1, ...a } = one;
    const { timing: _2, ...b } = two;
    const { timing: _5, ...c } = five;
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(a.results).toHaveLength(60);
    // A replay's trace is the trace the campaign hashed for that seed, byte for byte, every time.
    const seed = 517;
    const first = await runCli(['campaign', '--seed', String(seed), '--faults', 'mixed', '--trace', '-']);
    const second = await runCli(['campaign', '--seed', String(seed), '--faults', 'mixed', '--trace', '-']);
    expect(first.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    expect(first.stdout.trimEnd().split('\n')).toHaveLength(3_000);
    const hash = a.results!.find((r) => r.seed === seed)!.traceHash;
    expect(first.stderr).toContain(`trace ${hash}`);
  }, CAMPAIGN_TIMEOUT_MS);

  it('workers are separate processes: one that dies stops the campaign with a one-line error naming it, and none outlives the campaign', async () => {
    let cliPid = 0;
    let workerPids: number[] = [];
    let victim = 0;
    const run = runCli(['campaign', '--seeds', '100000', '--faults', 'mixed', '--workers', '2'], {
      timeoutMs: CAMPAIGN_TIMEOUT_MS,
      onSpawn: (child) => {
        cliPid = child.pid!;
        const poll = setInterval(() => {
          workerPids = childPids(cliPid);
          if (workerPids.length < 2) return;
          clearInterval(poll);
          victim = workerPids[1]!;
          process.kill(victim, 'SIGKILL');
        }, 50);
        child.once('exit', () => clearInterval(poll));
      },
    });
    const result = await run;
    expect(victim, result.stderr).not.toBe(0);
    expect(result.code).toBe(1);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^tmr: campaign worker [01] \\(pid ${victim}\\) exited \\(SIGKILL\\) before the campaign finished$`));
    // The other worker was stopped by PID, not left running a 100,000-seed campaign.
    for (const pid of workerPids) expect(processExists(pid), `worker ${pid} still running`).toBe(false);
  }, CAMPAIGN_TIMEOUT_MS);

  it('the test hook is not part of the CLI: no help text, and the flag is refused', async () => {
    const help = await runCli(['help']);
    expect(help.stdout).toContain('tmr campaign --seeds N');
    expect(help.stdout).not.toContain('test-hook');
    const refused = await runCli(['campaign', '--seeds', '10', '--test-hook-broken-voter']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe("tmr: unknown option '--test-hook-broken-voter' for tmr campaign (try: tmr help)\n");
  });

  it.each([
    [[], /needs --seeds N/],
    [['--seeds', '0'], /--seeds must be between 1 and 1000000/],
    [['--seeds', '1000001'], /--seeds must be between 1 and 1000000/],
    [['--seeds', 'ten'], /--seeds must be a whole number/],
    [['--seeds', '10', '--faults', 'triple'], /--faults must be one of single, double, mixed/],
    [['--seeds', '10', '--ticks', '100001'], /--ticks must be between/],
    [['--seeds', '10', '--faults', 'mixed', '--ticks', '500'], /--ticks must be between 1000 and/],
    [['--seeds', '10', '--workers', '0'], /--workers must be between 1 and 64/],
    [['--seeds', '10', '--from', '4294967290'], /runs past seed 4294967295/],
    [['--seeds', '10', '--seed', '3'], /--seed replays one seed; --seeds applies to a campaign/],
    [['--seeds', '10', '--trace', '-'], /--trace replays one seed/],
    [['--seeds', '10', '--bogus'], /unknown option '--bogus'/],
    [['--seeds', '10', '--stack', 'half'], /--stack must be one of model, full, got 'half'/],
    [['--seed', '3', '--trace', '/nonexistent-dir/x.trace'], /--trace \/nonexistent-dir\/x.trace: cannot write/],
  ])('usage error %j: one line, exit 2', async (args, message) => {
    const result = await runCli(['campaign', ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^tmr: .+\n$/);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });
});
