import { describe, expect, it } from 'vitest';
import { backoffTicksFor, createRestartState, decideRestart, noteReadmitted, restartsInWindow, type RestartPolicyConfig } from '../../src/core/restart-policy.js';

const POLICY: RestartPolicyConfig = { restartsMax: 3, restartWindowTicks: 1_000, backoffTicksBase: 20, backoffTicksMax: 400, stableTicks: 200 };

describe('restart policy (intensity R in T, back-off)', () => {
  it('restarts a replica that failed after serving stably at once, every time', () => {
    const s = createRestartState(POLICY);
    for (const tick of [100, 1_200, 2_400, 3_600, 4_800]) {
      noteReadmitted(s, tick - 900);
      expect(decideRestart(s, POLICY, tick, 'serving')).toEqual({ kind: 'restart', atTick: tick, backoffTicks: 0 });
    }
  });

  it('doubles the back-off while failures come soon after re-admission, twice as fast on probation', () => {
    const s = createRestartState(POLICY);
    expect(decideRestart(s, POLICY, 0, 'serving')).toMatchObject({ backoffTicks: 0 });
    noteReadmitted(s, 60);
    expect(decideRestart(s, POLICY, 70, 'serving')).toMatchObject({ backoffTicks: 20 });
    expect(decideRestart(s, POLICY, 150, 'probation')).toMatchObject({ backoffTicks: 80 });
    expect(backoffTicksFor(POLICY, 10)).toBe(400);
  });

  it('retires a replica past R restarts in any window of T, and says so', () => {
    const s = createRestartState(POLICY);
    for (const tick of [0, 300, 600]) expect(decideRestart(s, POLICY, tick, 'probation').kind).toBe('restart');
    const fourth = decideRestart(s, POLICY, 900, 'probation');
    expect(fourth).toMatchObject({ kind: 'retire', reason: 'RESTART_LIMIT' });
    expect(fourth.kind === 'retire' && fourth.detail).toMatch(/3 restarts within 1000 ticks \(the limit is 3\)/);
    expect(s.retired).toBe('RESTART_LIMIT');
    expect(() => decideRestart(s, POLICY, 5_000, 'serving')).toThrow(/retired/);
  });

  it('forgets restarts that slid out of the window', () => {
    const s = createRestartState(POLICY);
    for (const tick of [0, 300, 600]) decideRestart(s, POLICY, tick, 'serving');
    expect(restartsInWindow(s, POLICY, 999)).toBe(3);
    expect(restartsInWindow(s, POLICY, 1_000)).toBe(2);
    expect(decideRestart(s, POLICY, 1_000, 'serving').kind).toBe('restart');
  });
});
