import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KillSwitch, type KillSwitchConfig } from '../../src/loop/kill-switch.js';
import type { FaultSpec, RunSummary } from '../../src/loop/loop-model.js';
import { DEFAULT_LOOP_OPTIONS } from '../../src/sim/plants.js';
import { PlantWorld } from '../../src/sim/plant-world.js';
import { runSimulation } from '../../src/sim/simulator.js';
import { assertFreshBuild, runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tmr-kill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function simulate(config: KillSwitchConfig, injects: FaultSpec[], before?: (k: KillSwitch) => void): { summary: RunSummary; world: PlantWorld } {
  const options = { ...DEFAULT_LOOP_OPTIONS, ticks: 3_000, injects };
  const world = new PlantWorld({ rateHz: options.rateHz, seed: options.seed });
  const killSwitch = new KillSwitch(config);
  before?.(killSwitch);
  const summary = runSimulation(options, { killSwitch }, { world });
  return { summary, world };
}

const wrong = (replicaIndex: number, startTick: number): FaultSpec => ({ kind: 'wrong', replicaIndex, startTick, durationTicks: 0 });

describe('the kill switch', () => {
  it('QUORUM_LOSS: two replicas wrong at once; it stops after K ticks without a majority, actuator safe', () => {
    const { summary, world } = simulate({ quorumLossTicksMax: 10 }, [wrong(1, 500), wrong(2, 500)]);
    expect(summary.killSwitch).toMatchObject({ trigger: 'QUORUM_LOSS', tick: 510 });
    expect(summary.ticks).toBe(511);
    expect(world.actuator.safeReason).toBe('commanded');
    expect(world.actuator.appliedMv).toBe(0);
    expect(summary.unsafeCommands).toBe(0);
  });

  it('ERROR_RATE: more replica errors than allowed in the window', () => {
    const { summary, world } = simulate({ errorRate: { errorsMax: 2, windowTicks: 100 } }, [{ kind: 'late', replicaIndex: 1, startTick: 400, durationTicks: 0 }]);
    expect(summary.killSwitch?.trigger).toBe('ERROR_RATE');
    expect(summary.killSwitch?.detail).toBe('3 replica errors in the last 100 ticks (limit 2)');
    expect(summary.killSwitch!.tick).toBeGreaterThanOrEqual(400);
    expect(world.actuator.safeReason).toBe('commanded');
  });

  it('does not trip on errors spread wider than its window', () => {
    // One late reply costs two errors (the missed deadline, then the late arrival).
    const { summary } = simulate({ errorRate: { errorsMax: 2, windowTicks: 50 } }, [
      { kind: 'late', replicaIndex: 1, startTick: 400, durationTicks: 1 },
      { kind: 'late', replicaIndex: 1, startTick: 900, durationTicks: 1 },
    ]);
    expect(summary.killSwitch).toBeNull();
    expect(summary.ticks).toBe(3_000);
    // The same errors inside one window do trip it.
    const wide = simulate({ errorRate: { errorsMax: 2, windowTicks: 1_000 } }, [
      { kind: 'late', replicaIndex: 1, startTick: 400, durationTicks: 1 },
      { kind: 'late', replicaIndex: 1, startTick: 900, durationTicks: 1 },
    ]);
    expect(wide.summary.killSwitch).toMatchObject({ trigger: 'ERROR_RATE', detail: '3 replica errors in the last 1000 ticks (limit 2)' });
  });

  it('TICK_BUDGET and WALL_BUDGET (the simulator’s clock is simulated time)', () => {
    expect(simulate({ tickBudget: 1_234 }, []).summary).toMatchObject({ ticks: 1_234, killSwitch: { trigger: 'TICK_BUDGET', tick: 1_233 } });
    // 200 Hz: 5 ms a tick; 2 s of simulated time after tick 0.
    expect(simulate({ wallBudgetMs: 2_000 }, []).summary).toMatchObject({ ticks: 401, killSwitch: { trigger: 'WALL_BUDGET', tick: 400 } });
  });

  it('EXTERNAL: a trip() takes effect after the current tick', () => {
    let ticks = 0;
    const killSwitch = new KillSwitch({});
    const world = new PlantWorld({ rateHz: 200, seed: 1 });
    const summary = runSimulation(
      { ...DEFAULT_LOOP_OPTIONS, ticks: 3_000 },
      { killSwitch, onTick: () => (++ticks === 700 ? killSwitch.trip('test operator') : undefined) },
      { world },
    );
    expect(summary.killSwitch).toEqual({ trigger: 'EXTERNAL', tick: 699, detail: 'test operator' });
    expect(world.actuator.safeReason).toBe('commanded');
  });
});

describe('tmr run and sim with the kill switch', () => {
  it('exit code 4 and the trigger in the summary and in the black-box log', async () => {
    assertFreshBuild();
    const log = join(dir, 'quorum.bbx');
    const sim = await runCli(['sim', '--ticks', '3000', '--inject', 'wrong:1@500', '--inject', 'wrong:2@500', '--kill-quorum-loss', '10', '--log', log]);
    expect(sim.code).toBe(4);
    expect(sim.stdout).toContain('KILL SWITCH: QUORUM_LOSS after tick 510: no majority-backed command for 11 consecutive ticks (limit 10)');
    const summary = await runCli(['log', log]);
    expect(summary.stdout).toContain('end: killSwitch:QUORUM_LOSS after 511 ticks');
    const wall = await runCli(['run', '--ticks', '4000', '--kill-after-ms', '1000', '--json'], { timeoutMs: 30_000 });
    expect(wall.code).toBe(4);
    expect((JSON.parse(wall.stdout) as RunSummary).killSwitch?.trigger).toBe('WALL_BUDGET');
  }, 40_000);

  it('SIGUSR2 from outside stops a run: safe, replicas stopped, exit 4', async () => {
    let pid: number | undefined;
    const run = runCli(['run', '--ticks', '20000', '--json'], { timeoutMs: 30_000, onSpawn: (child) => (pid = child.pid) });
    await new Promise((r) => setTimeout(r, 2_500));
    process.kill(pid!, 'SIGUSR2');
    const result = await run;
    expect(result.code).toBe(4);
    const summary = JSON.parse(result.stdout) as RunSummary;
    expect(summary.killSwitch).toMatchObject({ trigger: 'EXTERNAL', detail: 'SIGUSR2 from outside (the operator kill switch)' });
    expect(summary.ticks).toBeLessThan(20_000);
  }, 40_000);

  it('refuses a malformed trigger in one line', async () => {
    const bad = await runCli(['sim', '--kill-error-rate', '20']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('tmr: --kill-error-rate must be ERRORS/TICKS (e.g. 20/200: more than 20 replica errors in 200 ticks), got \'20\'');
  });
});
